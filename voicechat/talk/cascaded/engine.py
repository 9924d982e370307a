"""The cascaded Talk-mode engine: our own voice activity detection, then STT -> LLM -> TTS per turn.

The detector runs on the session's loop; each turn's provider work runs on the session's worker (turns are
answered in order), with the reply's synthesis on a second thread (see ``live_turn``).
"""

from __future__ import annotations

import logging
import time
import traceback
from dataclasses import dataclass

from voicechat.audio.pcm import pcm_to_wav
from voicechat.audio.vad import SAMPLE_RATE, TurnDetector, TurnEvent, VadParams, load_vad
from voicechat.errors import VoicechatError
from voicechat.models import TurnMetrics
from voicechat.providers.base import LLM, SpeechRequest
from voicechat.providers.speech_factory import Recogniser, Speaker
from voicechat.talk.cascaded.reply import ReplySpeaker, SpeechHandle
from voicechat.talk.engine import EngineHost, TalkEngine
from voicechat.talk.view import LiveMetrics, TranscriptLine
from voicechat.turns.push_to_talk import VoiceTurnService
from voicechat.turns.speech import record_speech_usage

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CascadedSpec:
    """Recogniser, chat model, voice and turn-taking parameters of a cascaded session."""

    recogniser: Recogniser
    speaker: Speaker
    llm: LLM
    params: VadParams
    name: str = "cascaded"

    @property
    def output_rate(self) -> int:
        """The voice's sample rate."""
        return self.speaker.tts.sample_rate

    @property
    def label(self) -> str:
        """Engine and models, for the page."""
        return f"Cascaded: {self.recogniser.model} → chat → {self.speaker.model}"

    def build(self, host: EngineHost) -> TalkEngine:
        """A cascaded engine for one session."""
        return CascadedEngine(host, self)


class CascadedEngine(TalkEngine):
    """Turn-taking by our VAD; every turn transcribed, answered and spoken by separate providers."""

    def __init__(self, host: EngineHost, spec: CascadedSpec) -> None:
        self._host, self._spec = host, spec
        self._service = VoiceTurnService(store=host.store, settings=host.settings)
        self._detector = TurnDetector(host.vad or load_vad(), spec.params)
        self.vad_name = self._detector.model.name
        self._handle: SpeechHandle | None = None
        self._barge_in_ms: float | None = None  # measured on the loop, reported with the interrupted turn
        self._conversation_id = host.conversation_id

    def start(self) -> None:
        """Say the greeting, if there is one."""
        if self._host.greeting:
            self._handle = SpeechHandle()
            self._host.worker.submit(self._greet, self._host.greeting, self._handle)

    def hear(self, pcm: bytes, arrived: float) -> None:
        """Run the detector; act on the end of a turn or the start of an interruption."""
        for event in self._detector.feed(pcm):
            # Stream time -> clock time: it happened (detector.now - event.at) before this frame arrived.
            happened = arrived - (self._detector.now - event.at)
            self._on_event(event, happened, arrived)

    def close(self) -> None:
        """Stop the reply being spoken; the worker finishes storing it."""
        self._interrupt()

    # On the session's loop -----------------------------------------------------------------------------

    def _on_event(self, event: TurnEvent, happened: float, decided: float) -> None:
        view = self._host.view
        busy = view.state in ("thinking", "speaking")
        if event.type == "speech_started" and busy and self._host.barge_in:
            cleared = self._interrupt()
            if cleared is not None:
                view.update(state="listening")
                self._barge_in_ms = round((cleared - happened) * 1000, 1)
        elif event.type == "turn_ended" and not (busy and not self._host.barge_in):
            handle = SpeechHandle()
            self._handle = handle
            view.update(state="thinking", error=None)
            wav = pcm_to_wav(event.audio, sample_rate=SAMPLE_RATE)
            end_of_turn_ms = round((decided - happened) * 1000, 1)
            self._host.worker.submit(self._answer, wav, happened, end_of_turn_ms, handle)

    def _interrupt(self) -> float | None:
        handle = self._handle
        if handle is None or handle.interrupted:
            return None
        handle.interrupt()
        return self._host.meter.clear()

    # On the turn worker ------------------------------------------------------------------------------------

    def _answer(self, wav: bytes, speech_ended: float, end_of_turn_ms: float, handle: SpeechHandle) -> None:
        """Transcribe, reply, speak, store - never raises (the session continues after any failure)."""
        view = self._host.view
        try:
            self._answer_turn(wav, speech_ended, end_of_turn_ms, handle)
        except VoicechatError as exc:
            view.update(state="listening" if not handle.interrupted else None, error=exc.user_message)
        except Exception as exc:
            # Where it failed, but not the exception's message: that could quote what the user said.
            trace = "".join(traceback.format_tb(exc.__traceback__))
            log.error("live turn failed: %s\n%s", type(exc).__name__, trace)
            view.update(state="listening", error="Something went wrong with that turn; please say it again.")

    def _answer_turn(
        self, wav: bytes, speech_ended: float, end_of_turn_ms: float, handle: SpeechHandle
    ) -> None:
        host, spec, view = self._host, self._spec, self._host.view
        if host.admit is not None:
            host.admit()  # a refusal (Refused) is shown like any other turn error
        turn = self._service.begin_voice_turn(
            user=host.user,
            conversation_id=self._conversation_id,
            recording=wav,
            options=host.options,
            recogniser=spec.recogniser,
            llm=spec.llm,
        )
        self._conversation_id = turn.conversation.id
        view.append(TranscriptLine("user", turn.user_message.content), conversation_id=turn.conversation.id)
        view.append(TranscriptLine("assistant", ""))
        speaker = ReplySpeaker(
            store=host.store,
            user=host.user,
            prices=host.settings.price_tables,
            turn=turn,
            speaker=spec.speaker,
            meter=host.meter,
            handle=handle,
            on_progress=lambda text: view.replace_last(TranscriptLine("assistant", text)),
            on_first_audio=lambda: view.update(state="speaking") if not handle.interrupted else None,
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
        view.replace_last(TranscriptLine("assistant", heard, interrupted=outcome.interrupted))
        barge_in, self._barge_in_ms = self._barge_in_ms, None
        view.finish_turn(
            LiveMetrics(**{**metrics.__dict__, "barge_in_ms": barge_in if outcome.interrupted else None}),
            error=outcome.error,
            state="listening" if self._handle is handle else None,
        )

    def _greet(self, text: str, handle: SpeechHandle) -> None:
        """Say the user's greeting (interruptible like any reply); the session listens meanwhile."""
        host, speaker = self._host, self._spec.speaker
        host.view.append(TranscriptLine("assistant", text))
        host.meter.begin()
        request = SpeechRequest(text=text, voice=speaker.voice, model=speaker.model, speed=speaker.speed)
        try:
            with speaker.tts.synthesize(request) as stream:
                for chunk in stream:
                    if handle.interrupted:
                        break
                    host.meter.push(chunk)
                    host.view.update(state="speaking")
                usage = stream.usage
        except VoicechatError as exc:
            host.view.update(state="listening", error=exc.user_message)
            return
        while not handle.interrupted and host.meter.seconds_left() > 0:
            time.sleep(0.02)
        record_speech_usage(
            host.store,
            user=host.user,
            speaker=speaker,
            characters=len(text),
            audio_seconds=host.meter.pushed_samples() / host.meter.sample_rate,
            usage=usage,
            status="interrupted" if handle.interrupted else "ok",
            latency_ms=None,
            prices=host.settings.price_tables,
        )
        if self._handle is handle:
            host.view.update(state="listening")
