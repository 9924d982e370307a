"""The cascaded engine's ears: when the user's turn ends, and what they said, as early as it can be known.

Voice activity detection (``TurnDetector``) marks speech and silence. While the user speaks, their audio
streams to the live transcription socket (when the recogniser is OpenAI's and a live model is set), which
sends captions. At a short silence (``settling``) the words so far are committed (or, with Whisper on this
machine, transcribed in the background), a reply is drafted on them, and the turn model is asked whether the
user has finished. At the pause (``paused``) the turn ends if it said yes and the words do not stop
mid-phrase; else it ends at the longest silence. If the user goes on (``resumed``) the draft is cancelled.
At the end of the turn only the tail is left to transcribe; if the live path fails, the turn's recording is
transcribed as a file instead (logged, nothing lost). So is every turn not streamed whole to one live
connection: one begun while the socket was down, or through which it dropped (it is reopened for later turns).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from voicechat import defaults
from voicechat.audio.vad import SileroVAD, TurnDetector, TurnEvent, load_vad
from voicechat.errors import ProviderError
from voicechat.providers.base import Transcript
from voicechat.providers.openai.live_transcription import LiveTranscriber
from voicechat.sentences import ends_mid_phrase
from voicechat.talk.cascaded.draft import Draft
from voicechat.talk.cascaded.tool_events import DraftWatch
from voicechat.talk.engine import EngineHost
from voicechat.talk.events import EngineError, UsageMeasured, UserTranscript
from voicechat.turns.speech import transcribe
from voicechat.usage import Usage
from voicechat.voices import TALK_RATE

if TYPE_CHECKING:
    from voicechat.talk.cascaded.engine import CascadedSpec

log = logging.getLogger(__name__)
DRAFT_CLOSE_TIMEOUT = 5.0  # seconds a call's end waits for a cancelled draft to report its usage
LIVE_TRANSCRIPT_TIMEOUT = 2.0  # seconds to wait for the live transcript at the end of a turn, then the file
TURN_MODEL_FAILED = "The end-of-turn model stopped working; your turns now end after a silence."


@dataclass
class Utterance:
    """The user's turn being heard: its live transcript pieces, a background transcript, a draft reply."""

    key: str
    live: int | None = None  # the live connection its audio streams to (None: not streamed live)
    segments: list[asyncio.Future[str]] = field(default_factory=list)
    early: tuple[int, asyncio.Future[Transcript]] | None = None  # (the pause it was made in, its transcript)
    draft: Draft | None = None
    pause: int = 0  # counts resumptions: a turn-model answer for an older silence is ignored
    settled: bool = False  # silent since a settling point (no resumption since)
    paused: bool = False  # the silence reached the pause at which the turn may end early
    finished: bool = False  # the turn model says the user has finished (this silence)

    def drop_draft(self) -> None:
        """Cancel the draft reply, if any (its usage is still billed)."""
        if self.draft is not None:
            self.draft.cancel()
            self.draft = None


@dataclass(frozen=True)
class TurnEnd:
    """A finished turn: what was heard, when the speech ended and when the turn was decided (clock times)."""

    utterance: Utterance
    audio: bytes
    ended_at: float
    decided_at: float


class Listener:
    """Hears one session's audio on the loop; tells the engine when speech starts and when a turn ends."""

    def __init__(
        self,
        host: EngineHost,
        spec: CascadedSpec,
        *,
        on_speech: Callable[[float], None],
        on_turn: Callable[[TurnEnd], None],
        may_draft: Callable[[], bool],
    ) -> None:
        self._host, self._spec = host, spec
        self._on_speech, self._on_turn, self._may_draft = on_speech, on_turn, may_draft
        self._detector = TurnDetector(host.vad or load_vad(), spec.params)
        self._turn_model = spec.turn_model if spec.params.pause_secs is not None else None
        self._live = (
            LiveTranscriber(
                spec.live,
                prices=host.settings.price_tables,
                bill=self._bill,
                on_caption=self._caption,
            )
            if spec.live is not None
            else None
        )
        self._keys = itertools.count(1)
        self._current: Utterance | None = None
        self._arrived = 0.0
        self._drafts: set[Draft] = set()  # drafts whose chat call has not ended yet

    @property
    def description(self) -> str:
        """How turns are detected, for the page."""
        vad = self._detector.model.name
        if self._turn_model is not None:
            return f"{vad} + {self._turn_model.name}"
        if self._spec.turn_model_missing:
            return f"{vad}, silence only (the end-of-turn model is not installed)"
        return f"{vad}, silence only"

    def start(self) -> None:
        """Open the live transcription socket, if there is one."""
        if self._live is not None:
            self._live.start()

    async def close(self) -> None:
        """Cancel the drafts (waiting a little for their usage to be reported) and close the socket."""
        if self._current is not None:
            self._current.drop_draft()
        for draft in self._drafts:
            draft.cancel()
        await asyncio.gather(*(draft.finished(timeout=DRAFT_CLOSE_TIMEOUT) for draft in list(self._drafts)))
        if self._live is not None:
            await self._live.close()

    def vad_windows(self, pcm: bytes) -> tuple[SileroVAD, npt.NDArray[np.float32]] | None:
        """The windows of ``pcm`` the detector will score, when its model can be batched."""
        model = self._detector.model
        return (model, self._detector.upcoming(pcm)) if isinstance(model, SileroVAD) else None

    def hear(self, pcm: bytes, arrived: float) -> None:
        """Run the detector on new audio; stream it while the user is in a turn."""
        in_turn = self._detector.state in ("speaking", "stopping")
        self._arrived = arrived
        for event in self._detector.feed(pcm):
            # Stream time -> clock time: it happened (detector.now - event.at) before this frame arrived.
            self._on_event(event, arrived - (self._detector.now - event.at), decided=arrived)
        utterance, live = self._current, self._live
        still_in_turn = in_turn and self._detector.state in ("speaking", "stopping")
        if still_in_turn and live is not None and utterance is not None and self._streams_live(utterance):
            live.append(pcm)

    def _streams_live(self, utterance: Utterance) -> bool:
        """All of the utterance so far went to the live connection that is still open (or opening)."""
        return (
            self._live is not None and utterance.live is not None and utterance.live == self._live.connection
        )

    def _on_event(self, event: TurnEvent, happened: float, *, decided: float) -> None:
        utterance = self._current
        if event.type == "speech_started":
            self._current = Utterance(f"turn-{next(self._keys)}")
            if self._live is not None:
                self._current.live = self._live.connection
                self._live.begin_turn()
                self._live.append(event.audio)
            self._on_speech(happened)
        elif utterance is None:
            return
        elif event.type == "settling":
            self._settle(utterance, event.audio)
        elif event.type == "paused":
            utterance.paused = True
            self._decide(utterance)
        elif event.type == "resumed":
            utterance.pause += 1
            utterance.settled = utterance.paused = utterance.finished = False
            utterance.drop_draft()
        elif event.type == "noise":
            self._current = None
            utterance.drop_draft()
            if self._live is not None:
                self._live.clear()
            self._host.emit(UserTranscript(utterance.key, "", final=False))  # no caption for a noise
        else:  # turn_ended
            self._current = None
            self._on_turn(TurnEnd(utterance, event.audio, happened, decided))

    # Preparing in the pause ---------------------------------------------------------------------------------

    def _settle(self, utterance: Utterance, audio: bytes) -> None:
        """A short silence: finish the transcript so far, draft a reply on it, and ask the turn model now so
        its answer is there at the pause."""
        utterance.settled = True
        self._ask_turn_model(utterance, audio)
        if self._live is not None and self._streams_live(utterance):
            segment = self._live.commit()
            if segment is not None:
                utterance.segments.append(segment)
                segment.add_done_callback(lambda _: self._draft_on_segments(utterance))
            # The words so far; redrafted if the transcript says otherwise.
            self._draft(utterance, self._live.caption)
        elif self._spec.transcribes_locally and (utterance.early is None or utterance.early[1].done()):
            early = asyncio.ensure_future(self._transcribe(audio))
            utterance.early = (utterance.pause, early)
            early.add_done_callback(lambda done: self._draft_on_early(utterance, done))
            early.add_done_callback(lambda _: self._decide(utterance))

    def _draft_on_segments(self, utterance: Utterance) -> None:
        self._decide(utterance)  # more words: a mid-phrase veto may be over
        if (heard := _transcribed(utterance.segments)) is not None:
            self._draft(utterance, heard)

    def _draft_on_early(self, utterance: Utterance, done: asyncio.Future[Transcript]) -> None:
        latest = utterance.early is not None and utterance.early == (utterance.pause, done)
        if latest and not done.cancelled() and done.exception() is None:
            self._draft(utterance, done.result().text)

    def _draft(self, utterance: Utterance, text: str) -> None:
        """Start (or restart) the draft reply on ``text`` while the user is still silent."""
        text = text.strip()
        waiting = utterance is self._current and utterance.settled
        if not waiting or len(text.split()) < defaults.DRAFT_MIN_WORDS or not self._may_draft():
            return
        if utterance.draft is not None and utterance.draft.matches(text):
            return
        utterance.drop_draft()
        draft = Draft(self._host, self._spec.llm, text, self._bill_soon, DraftWatch(self._host))
        utterance.draft = draft
        self._drafts.add(draft)
        draft.on_finished(lambda: self._drafts.discard(draft))

    def _ask_turn_model(self, utterance: Utterance, audio: bytes) -> None:
        """Has the user finished? Asked once per silence, off the audio path; acted on at the pause."""
        model = self._turn_model
        if model is None:
            return
        asked = utterance.pause

        def wanted() -> bool:  # read off the loop: at worst one inference too many, or one stale answer
            return utterance is self._current and utterance.pause == asked  # not spoken past yet

        answer = asyncio.get_running_loop().run_in_executor(None, model, audio, wanted)
        answer.add_done_callback(lambda done: self._answered(utterance, asked, done))

    def _answered(self, utterance: Utterance, asked: int, done: asyncio.Future[float | None]) -> None:
        if (error := done.exception()) is not None:
            if self._turn_model is not None:
                log.warning("turn model failed (%s); silence alone ends turns", type(error).__name__)
                self._turn_model = None
                self._host.emit(EngineError(TURN_MODEL_FAILED))
            return
        score = done.result()
        if score is None:
            return  # skipped: the user had spoken on before the model was free
        log.debug("turn model: %.3f", score)
        if utterance.pause == asked and score >= defaults.TURN_COMPLETE_THRESHOLD:
            utterance.finished = True
            self._decide(utterance)

    def _decide(self, utterance: Utterance) -> None:
        """End the turn now if the pause is reached, the turn model says the user has finished, and the
        words so far (when known) do not stop mid-phrase ("the weather in ...")."""
        if utterance is not self._current or not (utterance.paused and utterance.finished):
            return
        if ends_mid_phrase(self._words_so_far(utterance)):
            return  # waits for more words, or the longest silence
        event = self._detector.end_turn()
        if event is not None:
            now = self._host.clock()
            self._on_event(event, self._arrived - (self._detector.now - event.at), decided=now)

    def _words_so_far(self, utterance: Utterance) -> str:
        """The words said before this pause: the live transcripts once they are all in (new captions may
        already be words said after it), else the captions so far; Whisper's background transcript here."""
        if self._live is not None and self._streams_live(utterance):
            heard = _transcribed(utterance.segments) if utterance.segments else None
            return heard if heard is not None else self._live.caption
        early = utterance.early
        if early is not None and early[0] == utterance.pause and early[1].done() and not early[1].cancelled():
            return early[1].result().text if early[1].exception() is None else ""
        return ""

    # The transcript -----------------------------------------------------------------------------------------

    async def transcript(self, utterance: Utterance, audio: bytes) -> Transcript:
        """What the user said in this turn: the live transcript (only the tail left to wait for) when all of
        it streamed to one live connection, the background one if nothing was said after it, else the
        recording as a file. Raises ProviderError."""
        started = time.perf_counter()
        if self._live is not None and not self._streams_live(utterance):
            if utterance.live is not None:  # (none of it went to the connection opened since)
                log.warning("live transcription dropped during a turn; transcribing its recording instead")
        elif self._live is not None:
            if utterance.settled:
                self._live.clear()  # only silence since the last commit
            elif (tail := self._live.commit()) is not None:
                utterance.segments.append(tail)
            try:
                texts = await asyncio.wait_for(asyncio.gather(*utterance.segments), LIVE_TRANSCRIPT_TIMEOUT)
                text = " ".join(t.strip() for t in texts if t.strip())
                return Transcript(
                    text=text, audio_seconds=len(audio) / 2 / TALK_RATE, latency_ms=_since(started)
                )
            except (ProviderError, TimeoutError):
                log.warning("live transcription failed for a turn; transcribing its recording instead")
        if utterance.early is not None and utterance.settled and utterance.early[0] == utterance.pause:
            try:
                early = await utterance.early[1]
                return Transcript(
                    text=early.text, audio_seconds=early.audio_seconds, latency_ms=_since(started)
                )
            except ProviderError:
                pass  # transcribe the whole recording below
        return await self._transcribe(audio)

    async def _transcribe(self, audio: bytes) -> Transcript:
        recognising = partial(
            transcribe,
            self._spec.recogniser,
            audio,
            sample_rate=TALK_RATE,
            prices=self._host.settings.price_tables,
            bill=self._bill_soon,
        )
        return await asyncio.get_running_loop().run_in_executor(None, recognising)

    def _bill(self, usage: Usage) -> None:
        """A provider call's usage (on the loop)."""
        self._host.emit(UsageMeasured(usage))

    def _bill_soon(self, usage: Usage) -> None:
        """A provider call's usage, from the executor's thread."""
        self._host.loop.call(self._bill, usage)

    def _caption(self, text: str) -> None:
        if self._current is not None and text:
            self._host.emit(UserTranscript(self._current.key, text, final=False))


def _transcribed(segments: list[asyncio.Future[str]]) -> str | None:
    """The words of live-transcribed stretches once every one has its transcript (None until then)."""
    if all(s.done() and not s.cancelled() and s.exception() is None for s in segments):
        return " ".join(s.result().strip() for s in segments)
    return None


def _since(started: float) -> float:
    """Milliseconds since ``started`` (``time.perf_counter``)."""
    return round((time.perf_counter() - started) * 1000, 1)
