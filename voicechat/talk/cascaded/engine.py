"""The cascaded Talk engine: our own turn taking (``listening``), then STT -> LLM -> TTS per turn.

Everything runs on the session's loop: the listener on each frame, each turn as a task (turns are answered in
order: a turn waits for the one before it to finish), the providers' blocking calls on the loop's executor.
The turn reports what happens as events; the reply is spoken while it is generated (``reply``), from a draft
made in the user's pause when one answers the same words (``draft``).
"""

from __future__ import annotations

import asyncio
import logging
import traceback
from collections.abc import AsyncGenerator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from voicechat import defaults
from voicechat.audio.smart_turn import TurnCompletion
from voicechat.audio.vad import SileroVAD, VadParams
from voicechat.errors import ProviderError, VoicechatError
from voicechat.models import TurnMetrics
from voicechat.providers.base import LLM
from voicechat.providers.openai.live_transcription import LiveTranscriptionSpec
from voicechat.providers.speech_factory import Recogniser, Speaker
from voicechat.talk.cascaded.listening import Listener, TurnEnd
from voicechat.talk.cascaded.reply import SpokenReply
from voicechat.talk.cascaded.tool_events import reply_watch
from voicechat.talk.engine import EngineHost, TalkEngine
from voicechat.talk.events import (
    EngineError,
    ReplyDone,
    ReplyInterrupted,
    UsageMeasured,
    UserSpeechStarted,
    UserSpeechStopped,
    UserTranscript,
)
from voicechat.talk.runtime.threads import iterate_in_thread
from voicechat.turns.push_to_talk import NOTHING_HEARD, not_transcribed
from voicechat.turns.text import TextTurn
from voicechat.usage import Usage
from voicechat.validation import clean_transcript

log = logging.getLogger(__name__)
SOMETHING_WRONG = "Something went wrong with that turn; please say it again."


@dataclass(frozen=True)
class CascadedSpec:
    """Recogniser, chat model, voice and turn-taking of a cascaded session.

    ``turn_model`` decides at a pause whether the user has finished (None: silence alone, and
    ``turn_model_missing`` says whether that is because it is not installed); ``live`` streams the user's
    speech to a transcription socket (None: each turn's recording is transcribed as a file)."""

    recogniser: Recogniser
    speaker: Speaker
    llm: LLM
    chat_model: str
    params: VadParams
    name: str = "cascaded"
    turn_model: TurnCompletion | None = None
    turn_model_missing: bool = False
    live: LiveTranscriptionSpec | None = None

    @property
    def transcribes_locally(self) -> bool:
        """Whisper on this machine: free to run again on the growing utterance in a pause."""
        return self.recogniser.stt.provider == "local"

    @property
    def output_rate(self) -> int:
        """The voice's sample rate."""
        return self.speaker.tts.sample_rate

    @property
    def model(self) -> str:
        """Replies are stored with the chat model's name."""
        return self.chat_model

    @property
    def label(self) -> str:
        """Engine and models, for the page."""
        return f"Cascaded: {self.recogniser.model} → chat → {self.speaker.model}"

    def build(self, host: EngineHost) -> TalkEngine:
        """A cascaded engine for one session."""
        return CascadedEngine(host, self)


class _Turn:
    """A turn being answered (or the greeting being said): interrupted at most once."""

    def __init__(self, key: str) -> None:
        self.key = key
        self._interrupted = False
        self.reply: SpokenReply | None = None
        self.chat: TextTurn | None = None  # the chat turn answering it (stops waiting for its tools when cut)
        self.task: asyncio.Task[None] | None = None

    def interrupt(self) -> bool:
        """Mark the turn interrupted; False if it already was."""
        was, self._interrupted = self._interrupted, True
        return not was

    def interrupted(self) -> bool:
        """Whether the user talked over it (or the call ended) - it may change across any await."""
        return self._interrupted

    @property
    def busy(self) -> bool:
        """Still thinking or speaking."""
        return self.task is not None and not self.task.done()


class CascadedEngine(TalkEngine):
    """Turn-taking by our listener; every turn transcribed, answered and spoken by separate providers."""

    def __init__(self, host: EngineHost, spec: CascadedSpec) -> None:
        self._host, self._spec = host, spec
        self._listener = Listener(
            host, spec, on_speech=self._user_spoke, on_turn=self._turn_ended, may_draft=self._may_draft
        )
        self.vad_name = self._listener.description
        self._turn: _Turn | None = None
        self._closed = False
        self._admissible = True  # the next turn would be admitted: a reply may be drafted in its pause

    def start(self) -> None:
        """Open the live transcription; say the greeting, if there is one."""
        self._listener.start()
        self._check_admissible()
        if self._host.greeting:
            turn = self._turn = _Turn("greeting")
            turn.task = asyncio.ensure_future(self._say(turn, self._host.greeting))

    def vad_windows(self, pcm: bytes) -> tuple[SileroVAD, npt.NDArray[np.float32]] | None:
        """See ``TalkEngine.vad_windows``."""
        return self._listener.vad_windows(pcm)

    def hear(self, pcm: bytes, arrived: float) -> None:
        """Give the audio to the listener (which calls back at speech and at the end of a turn)."""
        self._listener.hear(pcm, arrived)

    def announce(self, text: str) -> None:
        """See ``TalkEngine.announce``: said like the greeting, once the reply being spoken has ended."""
        current = self._turn
        if self._closed:
            return
        if current is not None and current.busy and current.task is not None:
            current.task.add_done_callback(lambda _: self.announce(text))
            return
        turn = self._turn = _Turn("notice")
        turn.task = asyncio.ensure_future(self._say(turn, text))

    async def close(self) -> None:
        """Stop the reply being spoken; the turn reports how it ended before this returns. A turn whose
        words are still awaited gets them first (the call screen has closed already: this runs behind it),
        so what the user said is stored with its transcript."""
        self._closed = True
        turn = self._turn
        if turn is not None and turn.busy:
            awaiting_words = turn.reply is None
            self._interrupt(turn, onset=None)
            assert turn.task is not None
            await asyncio.wait(
                [turn.task],
                timeout=defaults.CALL_CLOSE_TRANSCRIPT_SECONDS
                if awaiting_words
                else defaults.CALL_CLOSE_REPLY_SECONDS,
            )
        await self._listener.close()

    def _idle(self) -> bool:
        """No reply is being prepared or spoken."""
        return self._turn is None or not self._turn.busy

    def _may_draft(self) -> bool:
        """Idle, and the next turn would be admitted: a draft the limits would refuse is never billed."""
        return self._idle() and self._admissible

    def _check_admissible(self) -> None:
        """Learn (off the loop, after the writes queued so far: a turn's cost counts) whether the next
        turn would be admitted."""
        check = self._host.admissible
        if check is None or self._closed:
            return

        def learned(future: asyncio.Future[bool]) -> None:
            if not future.cancelled() and future.exception() is None:
                self._admissible = future.result()

        asyncio.ensure_future(self._host.in_order(check)).add_done_callback(learned)

    def _user_spoke(self, onset: float) -> None:
        current = self._turn
        if current is not None and current.busy and self._host.barge_in:
            self._interrupt(current, onset=onset)

    def _turn_ended(self, end: TurnEnd) -> None:
        current = self._turn
        if current is not None and current.busy and not self._host.barge_in:
            end.utterance.drop_draft()
            return  # not heard while the assistant talks
        turn = self._turn = _Turn(end.utterance.key)
        end_of_turn_ms = round((end.decided_at - end.ended_at) * 1000, 1)
        turn.task = asyncio.ensure_future(self._answer(turn, end, end_of_turn_ms, previous=current))

    def _interrupt(self, turn: _Turn, *, onset: float | None) -> None:
        """Barge-in (``onset``: when the user started talking) or the end of the call: stop at once."""
        if not turn.interrupt():
            return
        cleared = self._host.meter.clear()
        if turn.chat is not None:
            turn.chat.abandon_tools()  # the next turn need not wait for a slow tool
        if turn.reply is not None:
            turn.reply.cut()
        if onset is not None:
            if turn.reply is not None:
                self._host.emit(ReplyInterrupted(turn.reply.key, round((cleared - onset) * 1000, 1)))
            self._host.emit(UserSpeechStarted(onset))

    def _bill_soon(self, usage: Usage) -> None:
        """Report a provider call's usage from the executor's thread."""
        self._host.loop.call(self._host.emit, UsageMeasured(usage))

    async def _answer(
        self, turn: _Turn, end: TurnEnd, end_of_turn_ms: float, *, previous: _Turn | None
    ) -> None:
        """Transcribe, reply, speak: never raises (the call goes on after any failure)."""
        if previous is not None and previous.task is not None:
            await asyncio.wait([previous.task])  # answered in order
        try:
            await self._answer_turn(turn, end, end_of_turn_ms)
        except VoicechatError as exc:
            self._host.emit(EngineError(exc.user_message))
        except Exception as exc:
            # Where it failed, but not the exception's message: that could quote what the user said.
            trace = "".join(traceback.format_tb(exc.__traceback__))
            log.error("talk turn failed: %s\n%s", type(exc).__name__, trace)
            self._host.emit(EngineError(SOMETHING_WRONG))
        finally:
            end.utterance.drop_draft()  # unused, or cut short: cancelled (a draft spoken to its end is done)
            self._check_admissible()  # before the next pause's draft

    async def _answer_turn(self, turn: _Turn, end: TurnEnd, end_of_turn_ms: float) -> None:
        host, spec = self._host, self._spec
        if host.admit is not None:
            await host.in_order(host.admit)  # a refusal (Refused) is shown like any other turn error
        host.emit(
            UserSpeechStopped(turn.key, end.audio, ended_at=end.ended_at, end_of_turn_ms=end_of_turn_ms)
        )
        await asyncio.wrap_future(host.recorder.stored(turn.key))  # stored before any provider is called
        try:
            transcript = await self._listener.transcript(end.utterance, end.audio)
        except ProviderError as exc:
            host.emit(UserTranscript(turn.key, None, error=type(exc).__name__))
            host.emit(EngineError(not_transcribed(exc)))
            return
        text = clean_transcript(transcript.text)
        if not text:
            host.emit(UserTranscript(turn.key, None, error="NothingHeard"))
            host.emit(EngineError(NOTHING_HEARD))
            return
        host.emit(UserTranscript(turn.key, text, stt_ms=transcript.latency_ms))
        if turn.interrupted():
            return  # the user went on talking: their next turn is answered instead
        draft = end.utterance.draft
        chat = await draft.turn() if draft is not None and draft.matches(text) else None
        if draft is None or chat is None:
            end.utterance.drop_draft()
            draft, chat = (
                None,
                await asyncio.wrap_future(
                    host.recorder.answer(
                        turn.key, spec.llm, self._bill_soon, reply_watch(host, f"{turn.key}-reply")
                    )
                ),
            )
        if turn.interrupted():
            return  # talked over while the context loaded: no chat call for it
        turn.chat = chat
        reply = turn.reply = SpokenReply(host, spec.speaker, f"{turn.key}-reply")
        await reply.run(
            draft.stream(reply.key) if draft is not None else iterate_in_thread(chat.stream_reply)
        )
        failed = chat.status == "failed"
        host.emit(
            ReplyDone(
                reply.key,
                status="interrupted" if turn.interrupted() else "failed" if failed else "complete",
                played_samples=reply.played_samples,
                metrics=TurnMetrics(
                    first_token_ms=chat.metrics.first_token_ms,
                    total_ms=chat.metrics.total_ms,
                    stt_ms=transcript.latency_ms,
                    first_sentence_ms=reply.first_sentence_ms,
                    tts_first_byte_ms=reply.tts_first_byte_ms,
                ),
                text=reply.generated,
                error=reply.error,
                stored_error=type(chat.error).__name__ if chat.error is not None else None,
            )
        )

    async def _say(self, turn: _Turn, text: str) -> None:
        """Say the greeting or a notice, never stored (interruptible like any reply); the session listens
        meanwhile."""
        reply = turn.reply = SpokenReply(self._host, self._spec.speaker, turn.key, greeting=True)
        await reply.run(_once(text))
        self._host.emit(
            ReplyDone(
                reply.key,
                status="interrupted" if turn.interrupted() else "complete",
                played_samples=reply.played_samples,
                text=text,
                error=reply.error,
            )
        )


async def _once(text: str) -> AsyncGenerator[list[str], None]:
    """A text that is already whole, as a stream."""
    yield [text]
