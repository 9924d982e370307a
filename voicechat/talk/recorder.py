"""The one component that stores a call's turns: it consumes the session's events and writes what they say.

Whatever the engine, a turn is kept the same way: the user's message with its recording (pending until
its transcript comes, when the engine transcribes later), the reply as far as it was heard (marked
interrupted when cut, failed when the engine failed), the reply's audio as played, the latencies, and every
provider call's usage. What was heard is worked out here, once, and shown through a ``ReplyHeard`` event.

Events arrive on the session's loop; the recorder keeps the replies in progress there and hands every write
to the session's worker (one thread, so writes happen in the order of the events). Everything the worker
knows (the conversation, the stored messages) is touched only by worker jobs.
"""

from __future__ import annotations

import asyncio
import logging
import os
import traceback
from collections.abc import Callable
from concurrent.futures import Executor, Future
from dataclasses import replace
from typing import Any, TypeVar

from voicechat.errors import NotFound, VoicechatError
from voicechat.models import ContextMessage, Message, MessageStatus, TurnMetrics, User
from voicechat.providers.base import LLM
from voicechat.storage.conversations import title_from
from voicechat.storage.store import Store
from voicechat.talk.events import (
    ConversationOpened,
    EngineError,
    ReplyAudio,
    ReplyCorrected,
    ReplyDone,
    ReplyHeard,
    ReplyInterrupted,
    ReplyStarted,
    ReplyTextDelta,
    ReplyTextDone,
    TalkEvent,
    ToolActivity,
    TurnStored,
    UsageMeasured,
    UserSpeechStopped,
    UserTranscript,
)
from voicechat.talk.heard import Reply, grow, heard
from voicechat.tools.runner import ToolBox
from voicechat.turns.held_answer import heard_in_call
from voicechat.turns.text import ChatService, TextTurn, TurnOptions
from voicechat.turns.tool_rounds import AheadGate, ToolWatch
from voicechat.turns.writer import VOICE_TITLE, MessageMeta, TurnWriter
from voicechat.usage import Usage
from voicechat.voices import TALK_RATE

log = logging.getLogger(__name__)
T = TypeVar("T")
UNFINISHED = "The voice engine could not finish this reply."  # kept with a failed reply
# Usage is billed in one write when a turn ends (its reply ends, or it fails), or this long after it was
# measured if no turn ends first (a reply still playing, a cancelled draft). A process killed meanwhile loses
# at most that much of its calls' bills. At 1 s a turn's transcription was usually billed apart from its
# reply (six operations, not three; the database is a cascaded call's second cost, after the turn model).
BILL_GATHER_SECONDS = 5.0


class TurnRecorder:
    """Stores one session's turns. ``record`` on the loop; the rest are worker jobs that return futures."""

    def __init__(
        self,
        *,
        store: Store,
        chat: ChatService,
        user: User,
        options: TurnOptions,
        conversation_id: str | None,
        model: str,
        reply_rate: int,
        worker: Executor,
        emit: Callable[[TalkEvent], None],
        emit_soon: Callable[[TalkEvent], None],
    ) -> None:
        """``emit`` reports an event now (on the loop); ``emit_soon`` from the worker, onto the loop."""
        self._store, self._chat, self._user, self._options = store, chat, user, options
        self._writer = TurnWriter(store, user)
        self._model, self._reply_rate = model, reply_rate
        self._worker, self._emit, self._emit_soon = worker, emit, emit_soon
        self._replies: dict[str, Reply] = {}
        self._latest: str | None = None  # the newest reply (the only one a provider still corrects)
        self._turn_end: tuple[float | None, float | None] = (None, None)
        self._user_messages: dict[str, Future[Message]] = {}
        self._unbilled: list[Usage] = []  # measured, not yet handed to the worker (loop-owned)
        self._billing: asyncio.TimerHandle | None = None
        # Worker-owned:
        self._conversation_id = conversation_id
        self._opened = False
        self._titled = conversation_id is not None
        self._messages: dict[str, Message] = {}
        self._clips: dict[str, str] = {}  # recordings stored while their transcript is awaited, by utterance

    # On the loop -------------------------------------------------------------------------------------------

    def record(self, event: TalkEvent) -> None:
        """Act on one event (called on the session's loop, in order)."""
        if isinstance(event, UserSpeechStopped):
            self._turn_end = (event.ended_at, event.end_of_turn_ms)
            self._user_messages[event.key] = self._job(self._user_said, event.key, event.transcript)
            if event.audio:
                self._job(self._attach_recording, event.key, event.audio)
        elif isinstance(event, UserTranscript) and event.final:
            self._job(self._transcribed, event.key, event.text, event.error, event.stt_ms)
        elif isinstance(event, ReplyStarted):
            ended_at, end_of_turn_ms = self._turn_end if not event.greeting else (None, None)
            self._replies[event.key] = Reply(event.key, event.greeting, ended_at, end_of_turn_ms)
            self._latest = event.key
        elif isinstance(event, ReplyTextDelta | ReplyAudio | ReplyInterrupted):
            if (reply := self._replies.get(event.key)) is not None:
                grow(reply, event)
        elif isinstance(event, ReplyTextDone):
            self._text_done(event)
        elif isinstance(event, ReplyDone):
            self._done(event)
        elif isinstance(event, ReplyCorrected):
            self._corrected(event)
        elif isinstance(event, UsageMeasured):
            self._owe(event.usage)
        elif isinstance(event, EngineError):
            self.bill_now()  # a turn that ended without a reply (nothing heard, a provider failed)
        elif isinstance(event, ToolActivity) and event.step and (reply := self._replies.get(event.key)):
            reply.tool_steps.append(event.step)

    def _text_done(self, event: ReplyTextDone) -> None:
        """The whole text is known while it may still play: store it now (kept if the call dies), settle
        it when it ends."""
        reply = self._replies.get(event.key)
        if reply is None:
            return
        reply.text = event.text
        if not reply.greeting and event.text:
            reply.stored_early = True
            self._job(self._add_reply, reply.key, event.text, MessageMeta(tool_steps=tuple(reply.tool_steps)))

    def _done(self, event: ReplyDone) -> None:
        self.bill_now()  # the turn's usage is written before the turn is counted
        reply = self._replies.pop(event.key, None)
        if reply is None:
            return
        if event.text is not None:
            reply.text = event.text
        interrupted = event.status == "interrupted"
        heard_text = heard(
            reply.text,
            reply.pieces,
            played=event.played_samples,
            pushed=reply.pushed,
            interrupted=interrupted,
            corrected=reply.corrected,
        )
        self._emit(ReplyHeard(reply.key, heard_text, interrupted))
        if reply.greeting:  # spoken, never stored: nothing to count, but a failure is shown
            if event.error:
                self._emit(EngineError(event.error))
            return
        voice_to_voice = (
            round((reply.first_audio_at - reply.ended_at) * 1000, 1)
            if reply.first_audio_at is not None and reply.ended_at is not None
            else None
        )
        metrics = replace(
            event.metrics,
            end_of_turn_ms=reply.end_of_turn_ms,
            voice_to_voice_ms=voice_to_voice,
            barge_in_ms=reply.barge_in_ms if interrupted else None,
        )
        audio = b"".join(reply.pcm)[: event.played_samples * 2]
        self._job(self._settle, reply, heard_text, event, metrics, audio)

    def _corrected(self, event: ReplyCorrected) -> None:
        reply = self._replies.get(event.key)
        if reply is not None:
            reply.corrected = event.text
        elif event.key == self._latest:
            self._job(self._correct, event.key, event.text)

    def _owe(self, usage: Usage) -> None:
        """Bill a provider call when its reply ends (or within ``BILL_GATHER_SECONDS``), in one write with
        the others measured by then (a turn's transcription, chat and speech: three operations, not nine)."""
        self._unbilled.append(usage)
        if self._billing is None:
            self._billing = asyncio.get_running_loop().call_later(BILL_GATHER_SECONDS, self.bill_now)

    def finish(self) -> None:
        """The call is ending (on the loop): bill what was measured, attach recordings whose transcript never
        came. Writes queued by events from now on are still made."""
        self.bill_now()
        self._job(self._attach_held_recordings)

    def bill_now(self) -> None:
        """Hand every usage measured so far to the worker (on the loop)."""
        if self._billing is not None:
            self._billing.cancel()
            self._billing = None
        if self._unbilled:
            usages, self._unbilled = self._unbilled, []
            self._job(self._bill, usages)

    def _job(self, work: Callable[..., T], *args: Any) -> Future[T]:
        try:
            return self._worker.submit(self._safely, work, *args)
        except RuntimeError as exc:  # the session has stopped storing: nothing more is written
            log.warning("talk recorder: %s after the call ended", getattr(work, "__name__", "?"))
            refused: Future[T] = Future()
            refused.set_exception(exc)
            return refused

    def _safely(self, work: Callable[..., T], *args: Any) -> T:
        try:
            return work(*args)
        except VoicechatError as exc:
            log.warning("talk recorder: %s in %s", type(exc).__name__, getattr(work, "__name__", "?"))
            self._emit_soon(EngineError(exc.user_message))
            raise
        except Exception as exc:
            # Which write failed and where, never the exception's text nor a traceback (which ends with it):
            # either could quote the user.
            where = next(reversed(traceback.extract_tb(exc.__traceback__)), None)
            at = f"{os.path.basename(where.filename)}:{where.lineno}" if where is not None else "?"
            log.error("talk recorder: %s in %s at %s", type(exc).__name__, getattr(work, "__name__", "?"), at)
            raise

    # Asked by engines (worker jobs, in order after every event so far) ----------------------------------

    def stored(self, key: str) -> Future[Message]:
        """The user's message for utterance ``key`` (stored before its recording is attached)."""
        return self._user_messages[key]

    def answer(
        self, key: str, llm: LLM, billing: Callable[[Usage], None], watch: ToolWatch | None = None
    ) -> Future[TextTurn]:
        """The chat turn answering utterance ``key`` (whose transcript is stored); the caller reports its
        reply (and its tools, to ``watch``) through events, which this recorder stores."""
        return self._job(self._answer, key, llm, billing, watch)

    def draft(
        self, text: str, llm: LLM, billing: Callable[[Usage], None], watch: ToolWatch, gate: AheadGate
    ) -> Future[TextTurn]:
        """A chat turn answering ``text`` that is not stored yet (a reply drafted in the user's pause); if it
        is used, the utterance is stored as usual first and the reply reported through events. Its tools
        that change things wait for ``gate``."""
        return self._job(self._draft, text, llm, billing, watch, gate)

    def toolbox(
        self, said: str, utterance: str, *, open_conversation: bool
    ) -> Future[tuple[ToolBox | None, str]]:
        """The tools a speech-to-speech model may call, for a turn in which the user said ``said`` (their
        utterance ``utterance``: a held call is confirmed only by a later one), and the instructions that go
        with them. With ``open_conversation`` (a call to run) the conversation is opened first; without (the
        session's set-up) only the tools' descriptions are needed."""
        return self._job(self._toolbox, said, utterance, open_conversation)

    def heard(self, said: str, utterance: str) -> None:
        """A speech-to-speech engine's user said ``said`` (utterance ``utterance``): it answers a call held
        for their yes, if one waits (queued in order before the tools of the reply to it)."""
        self._job(self._heard, said, utterance)

    def history(self) -> Future[list[ContextMessage]]:
        """The conversation so far (empty before its first turn), to seed a provider after a reconnect."""
        return self._job(self._history)

    # On the worker ------------------------------------------------------------------------------------------

    def _conversation(self, text: str | None) -> str:
        """The conversation turns go into: opened (or created) at the first turn, with the chosen options."""
        if not self._opened:
            conversation, _ = self._chat.open_conversation(
                user=self._user,
                conversation_id=self._conversation_id,
                options=self._options,
                title=title_from(text) if text else VOICE_TITLE,
            )
            self._opened, self._titled = True, self._titled or bool(text)
            self._writer.opened(conversation)
            if conversation.id != self._conversation_id:
                self._conversation_id = conversation.id
                self._emit_soon(ConversationOpened(conversation.id))
        assert self._conversation_id is not None
        return self._conversation_id

    def _user_said(self, key: str, text: str | None) -> Message:
        conversation_id = self._conversation(text)
        status: MessageStatus = "complete" if text is not None else "pending"
        message = self._writer.user_message(conversation_id, text or "", MessageMeta(status, is_voice=True))
        self._messages[key] = message
        self._store.context.forget(conversation_id)
        return message

    def _attach_recording(self, key: str, pcm: bytes) -> None:
        if (message := self._messages.get(key)) is None:
            return
        clip = self._writer.keep_clip(message.conversation_id, pcm, TALK_RATE).id
        if message.status == "pending":
            self._clips[key] = clip  # attached with the transcript: one write to the message, not two
        else:
            self._writer.attach(message, clip)

    def _attach_held_recordings(self) -> None:
        for key, clip in list(self._clips.items()):
            del self._clips[key]
            try:
                self._writer.attach(self._messages[key], clip)
            except NotFound:  # deleted with its conversation meanwhile; the others are still attached
                log.info("talk recorder: a held recording's message is gone")

    def _transcribed(self, key: str, text: str | None, error: str | None, stt_ms: float | None) -> None:
        message = self._messages.get(key)
        if message is None:
            return
        retitle = bool(text) and not self._titled
        self._titled = self._titled or retitle
        self._messages[key] = self._writer.transcribed(
            message,
            text,
            error=error,
            metrics=TurnMetrics(stt_ms=stt_ms),
            retitle=retitle,
            audio_id=self._clips.pop(key, None),
        )

    def _answer(
        self, key: str, llm: LLM, billing: Callable[[Usage], None], watch: ToolWatch | None
    ) -> TextTurn:
        return self._chat.answer(
            user=self._user,
            message=self._messages[key],
            options=self._options,
            llm=llm,
            billing=billing,
            watch=watch,
        )

    def _draft(
        self, text: str, llm: LLM, billing: Callable[[Usage], None], watch: ToolWatch, gate: AheadGate
    ) -> TextTurn:
        conversation_id = self._conversation(text)
        conversation = self._store.conversations.get(owner_id=self._user.id, conversation_id=conversation_id)
        return self._chat.draft(
            user=self._user,
            conversation=conversation,
            text=text,
            options=self._options,
            llm=llm,
            billing=billing,
            watch=watch,
            gate=gate,
        )

    def _toolbox(self, said: str, utterance: str, open_conversation: bool) -> tuple[ToolBox | None, str]:
        conversation_id = self._conversation(None) if open_conversation else self._conversation_id or ""
        box = self._chat.toolbox(
            user=self._user,
            conversation_id=conversation_id,
            options=self._options,
            said=said,
            turn_id=utterance,
        )
        return box, self._chat.tool_instructions(self._user) if box is not None else ""

    def _heard(self, said: str, utterance: str) -> None:
        if self._conversation_id is not None:
            heard_in_call(
                self._store,
                owner_id=self._user.id,
                conversation_id=self._conversation_id,
                said=said,
                utterance=utterance,
            )

    def _history(self) -> list[ContextMessage]:
        if self._conversation_id is None:
            return []
        conversation = self._store.conversations.get(
            owner_id=self._user.id, conversation_id=self._conversation_id
        )
        return [m for m in self._store.context.load(conversation) if m.content.strip()]

    def _add_reply(self, key: str, text: str, meta: MessageMeta) -> None:
        if self._conversation_id is None:
            return  # no user turn was stored: nothing to answer in
        meta = replace(meta, model=self._model, is_voice=True)
        self._messages[key] = self._writer.reply(self._conversation_id, text, meta)
        self._store.context.forget(self._conversation_id)

    def _settle(self, reply: Reply, heard: str, event: ReplyDone, metrics: TurnMetrics, audio: bytes) -> None:
        """Store the finished reply as heard, with its played audio; then the page counts the turn."""
        conversation_id = self._conversation_id
        nothing = event.status == "failed" and not reply.text and not audio
        if conversation_id is not None and not nothing:
            clip = self._writer.keep_clip(conversation_id, audio, self._reply_rate).id if audio else None
            stored = self._messages.get(reply.key) if reply.stored_early else None
            if stored is not None:
                cut = event.status == "interrupted" or reply.corrected is not None
                self._writer.settle_reply(
                    stored,
                    heard=heard if cut else None,
                    status=event.status,
                    metrics=metrics,
                    audio_id=clip,
                    tool_steps=tuple(reply.tool_steps),
                )
            else:
                error = event.stored_error or (UNFINISHED if event.status == "failed" else None)
                steps = tuple(reply.tool_steps)
                meta = MessageMeta(
                    event.status, error=error, metrics=metrics, audio_id=clip, tool_steps=steps
                )
                self._add_reply(reply.key, heard, meta)
            self._store.turn_latency.record(metrics, user_id=self._user.id)
        self._emit_soon(TurnStored(metrics, event.error))

    def _correct(self, key: str, text: str) -> None:
        message = self._messages.get(key)
        if message is not None and message.role == "assistant":
            self._writer.correct(message, text)

    def _bill(self, usages: list[Usage]) -> None:
        self._writer.bill(usages, self._conversation_id)
