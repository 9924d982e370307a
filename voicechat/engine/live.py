"""A hands-free conversation: listen, detect the end of each turn, answer while the reply is generated, and
stop talking the moment the user interrupts.

Threads: audio arrives from anywhere (aiortc's loop) through ``push_frame``/``push_pcm``, which only hand the
frame to the session's private event loop (``LoopThread``). The loop runs voice activity detection and turn
taking; each turn's provider work runs on one worker thread (turns are answered in order), with the reply's
synthesis on a second (see ``live_turn``). The page reads ``snapshot()``, an immutable copy.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import date
from typing import Literal

import av

from voicechat.audio.pcm import pcm_to_wav
from voicechat.audio.vad import SAMPLE_RATE, SpeechProbability, TurnDetector, TurnEvent, VadParams, load_vad
from voicechat.config import Settings
from voicechat.engine.bridge import LoopThread
from voicechat.engine.live_turn import ReplySpeaker, SpeechHandle
from voicechat.engine.playback import AudioOutput, PlaybackMeter
from voicechat.engine.speaking import record_speech_usage
from voicechat.engine.turn import TurnOptions
from voicechat.engine.voice_turn import VoiceTurnService
from voicechat.errors import VoicechatError
from voicechat.models import Role, TurnMetrics, User, VoicePreferences
from voicechat.providers.base import LLM, SpeechRequest
from voicechat.providers.openai.client import make_client, provider_name
from voicechat.providers.openai.llm import OpenAIChat
from voicechat.providers.speech_factory import Ears, Voice, ears_for, voice_for
from voicechat.storage.store import Store

log = logging.getLogger(__name__)
LiveState = Literal["idle", "listening", "thinking", "speaking", "stopped"]
MAX_TRANSCRIPT_LINES = 50


@dataclass(frozen=True)
class TranscriptLine:
    """A line of the running transcript."""

    role: Role
    text: str
    interrupted: bool = False


@dataclass(frozen=True)
class LiveMetrics:
    """Latencies of one live turn in milliseconds (None when not reached)."""

    end_of_turn_ms: float | None = None  # end of speech -> end-of-turn decision
    stt_ms: float | None = None
    first_token_ms: float | None = None
    first_sentence_ms: float | None = None  # reply requested -> first sentence complete
    tts_first_byte_ms: float | None = None
    voice_to_voice_ms: float | None = None  # end of speech -> first reply audio pushed
    barge_in_ms: float | None = None  # user's speech onset -> playback cleared


@dataclass(frozen=True)
class LiveSnapshot:
    """What the page shows; never changes once made."""

    state: LiveState
    level_dbfs: float
    transcript: tuple[TranscriptLine, ...]
    last_turn: LiveMetrics | None
    error: str | None
    conversation_id: str | None
    turns: int
    vad: str


@dataclass(frozen=True)
class LiveSetup:
    """Who is talking, with what, and how turn-taking behaves."""

    user: User
    options: TurnOptions
    ears: Ears
    voice: Voice
    llm: LLM
    params: VadParams
    barge_in: bool = True
    conversation_id: str | None = None
    greeting: str = ""  # spoken when the session starts (not stored: it is not part of the conversation)


def live_setup(
    settings: Settings,
    *,
    user: User,
    preferences: VoicePreferences,
    options: TurnOptions,
    today: date,
    openai_api_key: str | None = None,
    conversation_id: str | None = None,
) -> LiveSetup:
    """The cascaded engine for this user today: recogniser, chat model and voice from settings and
    preferences, turn-taking from the preferences. Raises ProviderAuthError when a needed key is missing."""
    return LiveSetup(
        user=user,
        options=options,
        ears=ears_for(settings, preferences, openai_api_key=openai_api_key),
        voice=voice_for(settings, preferences, today=today, openai_api_key=openai_api_key),
        llm=OpenAIChat(
            client=make_client(settings, api_key=openai_api_key), provider=provider_name(settings)
        ),
        params=VadParams.from_preferences(
            silence_ms=preferences.end_of_turn_silence_ms, sensitivity=preferences.vad_sensitivity
        ),
        barge_in=preferences.barge_in,
        conversation_id=conversation_id,
        greeting=preferences.greeting,
    )


class LiveSession:
    """One hands-free session. Thread-safe public methods; ``stop()`` ends it and joins its threads."""

    def __init__(
        self,
        *,
        store: Store,
        settings: Settings,
        setup: LiveSetup,
        output: AudioOutput,
        output_rate: int,
        vad: SpeechProbability | None = None,
        clock: Callable[[], float] = time.monotonic,
        stall_timeout: float | None = None,
    ) -> None:
        """``stall_timeout``: stop by itself when no audio arrives for that long (a closed tab sends nothing,
        while an open call sends frames even in silence); None for callers that feed audio in bursts."""
        self._store, self._settings, self._setup, self._clock = store, settings, setup, clock
        self._service = VoiceTurnService(store=store, settings=settings)
        self._meter = PlaybackMeter(output, sample_rate=output_rate, clock=clock)
        self._detector = TurnDetector(vad or load_vad(), setup.params)
        self._resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
        self._lock = threading.Lock()
        self._handle: SpeechHandle | None = None
        self._barge_in_ms: float | None = None  # measured on the loop, reported with the interrupted turn
        self._conversation_id = setup.conversation_id
        self._view = LiveSnapshot(
            state="listening",
            level_dbfs=float("-inf"),
            transcript=(),
            last_turn=None,
            error=None,
            conversation_id=setup.conversation_id,
            turns=0,
            vad=self._detector.model.name,
        )
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="live-turn")
        self._loop = LoopThread(name="live-session")
        self._stall_timeout = stall_timeout
        self._lags: deque[float] = deque(maxlen=3000)  # ms from a frame's arrival to its processing done
        self._last_audio = clock()
        if stall_timeout is not None:
            self._loop.call(self._watch)
        if setup.greeting:
            self._handle = SpeechHandle()
            self._worker.submit(self._greet, setup.greeting, self._handle)

    # Called from other threads ---------------------------------------------------------------------------

    def push_frame(self, frame: av.AudioFrame) -> None:
        """A browser audio frame (any rate and layout); only queued, processed on the session's loop."""
        self._loop.call(self._on_frame, frame, self._clock())

    def push_pcm(self, pcm: bytes) -> None:
        """16 kHz mono 16-bit PCM (tests, benchmarks); only queued, processed on the session's loop."""
        self._loop.call(self._on_pcm, pcm, self._clock())

    def frame_lags_ms(self) -> list[float]:
        """Recent frame-processing lags (arrival -> detector done), for benchmarks and diagnostics."""
        return list(self._lags)

    def snapshot(self) -> LiveSnapshot:
        """The current state for display."""
        with self._lock:
            view = self._view
        # The level changes every frame: read here (a float set on the loop), not copied 50 times a second.
        return replace(view, level_dbfs=self._detector.level_dbfs)

    def stop(self) -> None:
        """End the session: stop speaking, finish storing the current turn, join every thread (idempotent)."""
        if self.snapshot().state == "stopped":
            return
        self._interrupt()
        self._loop.stop()
        self._worker.shutdown(wait=True)
        self._update(state="stopped")
        log.info(
            "live session stopped conversation=%s turns=%d", self._conversation_id, self.snapshot().turns
        )

    # On the session's loop -----------------------------------------------------------------------------

    def _on_frame(self, frame: av.AudioFrame, arrived: float) -> None:
        pcm = b"".join(bytes(out.planes[0])[: out.samples * 2] for out in self._resampler.resample(frame))
        self._on_pcm(pcm, arrived)

    def _watch(self) -> None:
        assert self._stall_timeout is not None
        if self._clock() - self._last_audio > self._stall_timeout:
            log.info("live session: no audio for %.0f s, stopping", self._stall_timeout)
            threading.Thread(target=self.stop, name="live-stop", daemon=True).start()
        else:
            self._loop.loop.call_later(1.0, self._watch)

    def _on_pcm(self, pcm: bytes, arrived: float) -> None:
        self._last_audio = arrived
        events = self._detector.feed(pcm)
        self._lags.append((self._clock() - arrived) * 1000)
        for event in events:
            # Stream time -> clock time: it happened (detector.now - event.at) before this frame arrived.
            happened = arrived - (self._detector.now - event.at)
            self._on_event(event, happened, arrived)

    def _on_event(self, event: TurnEvent, happened: float, decided: float) -> None:
        busy = self.snapshot().state in ("thinking", "speaking")
        if event.type == "speech_started" and busy and self._setup.barge_in:
            cleared = self._interrupt()
            if cleared is not None:
                self._update(state="listening", barge_in_ms=round((cleared - happened) * 1000, 1))
        elif event.type == "turn_ended" and not (busy and not self._setup.barge_in):
            handle = SpeechHandle()
            self._handle = handle
            self._update(state="thinking", error=None)
            wav = pcm_to_wav(event.audio, sample_rate=SAMPLE_RATE)
            end_of_turn_ms = round((decided - happened) * 1000, 1)
            self._worker.submit(self._answer, wav, happened, end_of_turn_ms, handle)

    def _interrupt(self) -> float | None:
        handle = self._handle
        if handle is None or handle.interrupted:
            return None
        handle.interrupt()
        return self._meter.clear()

    # On the turn worker ------------------------------------------------------------------------------------

    def _answer(self, wav: bytes, speech_ended: float, end_of_turn_ms: float, handle: SpeechHandle) -> None:
        """Transcribe, reply, speak, store - never raises (the session continues after any failure)."""
        try:
            self._answer_turn(wav, speech_ended, end_of_turn_ms, handle)
        except VoicechatError as exc:
            self._update(state="listening" if not handle.interrupted else None, error=exc.user_message)
        except Exception as exc:
            # Where it failed, but not the exception's message: that could quote what the user said.
            trace = "".join(traceback.format_tb(exc.__traceback__))
            log.error("live turn failed: %s\n%s", type(exc).__name__, trace)
            self._update(state="listening", error="Something went wrong with that turn; please say it again.")

    def _answer_turn(
        self, wav: bytes, speech_ended: float, end_of_turn_ms: float, handle: SpeechHandle
    ) -> None:
        setup = self._setup
        turn = self._service.begin_voice_turn(
            user=setup.user,
            conversation_id=self._conversation_id,
            recording=wav,
            options=setup.options,
            ears=setup.ears,
            llm=setup.llm,
        )
        self._conversation_id = turn.conversation.id
        self._append(TranscriptLine("user", turn.user_message.content), conversation_id=turn.conversation.id)
        self._append(TranscriptLine("assistant", ""))
        speaker = ReplySpeaker(
            store=self._store,
            user=setup.user,
            prices=self._settings.price_tables,
            turn=turn,
            voice=setup.voice,
            meter=self._meter,
            handle=handle,
            on_progress=lambda text: self._replace_last(TranscriptLine("assistant", text)),
            on_first_audio=lambda: self._update(state="speaking") if not handle.interrupted else None,
        )
        outcome = speaker.run()
        first_audio = outcome.first_audio_at
        metrics = LiveMetrics(
            end_of_turn_ms=end_of_turn_ms,
            stt_ms=turn.user_message.metrics.stt_ms,
            first_token_ms=outcome.first_token_ms,
            first_sentence_ms=outcome.first_sentence_ms,
            tts_first_byte_ms=outcome.tts_first_byte_ms,
            voice_to_voice_ms=round((first_audio - speech_ended) * 1000, 1) if first_audio else None,
            barge_in_ms=None,
        )
        speaker.store(
            TurnMetrics(
                first_token_ms=metrics.first_token_ms,
                stt_ms=metrics.stt_ms,
                tts_first_byte_ms=metrics.tts_first_byte_ms,
                voice_to_voice_ms=metrics.voice_to_voice_ms,
            )
        )
        heard = outcome.heard if outcome.interrupted else outcome.generated
        self._replace_last(TranscriptLine("assistant", heard, interrupted=outcome.interrupted))
        with self._lock:
            barge_in, self._barge_in_ms = self._barge_in_ms, None
            self._view = replace(
                self._view,
                last_turn=replace(metrics, barge_in_ms=barge_in if outcome.interrupted else None),
                turns=self._view.turns + 1,
                error=outcome.error,
                state="listening"
                if self._handle is handle and self._view.state != "stopped"
                else self._view.state,
            )

    def _greet(self, text: str, handle: SpeechHandle) -> None:
        """Say the user's greeting (interruptible like any reply); the session listens meanwhile."""
        voice = self._setup.voice
        self._append(TranscriptLine("assistant", text))
        self._meter.begin()
        request = SpeechRequest(text=text, voice=voice.voice, model=voice.model, speed=voice.speed)
        try:
            with voice.tts.synthesize(request) as stream:
                for chunk in stream:
                    if handle.interrupted:
                        break
                    self._meter.push(chunk)
                    self._update(state="speaking")
                usage = stream.usage
        except VoicechatError as exc:
            self._update(state="listening", error=exc.user_message)
            return
        while not handle.interrupted and self._meter.seconds_left() > 0:
            time.sleep(0.02)
        record_speech_usage(
            self._store,
            user=self._setup.user,
            voice=voice,
            characters=len(text),
            audio_seconds=self._meter.pushed_samples() / self._meter.sample_rate,
            usage=usage,
            status="interrupted" if handle.interrupted else "ok",
            latency_ms=None,
            prices=self._settings.price_tables,
        )
        if self._handle is handle:
            self._update(state="listening")

    # Snapshot updates (any thread) -------------------------------------------------------------------------

    def _update(
        self,
        *,
        state: LiveState | None = None,
        error: str | Literal[False] | None = False,
        barge_in_ms: float | None = None,
    ) -> None:
        with self._lock:
            view = self._view
            if state is not None and view.state != "stopped":
                view = replace(view, state=state)
            if error is not False:
                view = replace(view, error=error)
            if barge_in_ms is not None:
                self._barge_in_ms = barge_in_ms
            self._view = view

    def _append(self, line: TranscriptLine, *, conversation_id: str | None = None) -> None:
        with self._lock:
            transcript = (*self._view.transcript, line)[-MAX_TRANSCRIPT_LINES:]
            self._view = replace(
                self._view,
                transcript=transcript,
                conversation_id=conversation_id or self._view.conversation_id,
            )

    def _replace_last(self, line: TranscriptLine) -> None:
        with self._lock:
            self._view = replace(self._view, transcript=(*self._view.transcript[:-1], line))
