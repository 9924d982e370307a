"""Storing the turns of a speech-to-speech engine like any other conversation.

The provider hears and answers by itself; what we keep is the same as for a cascaded turn: the user's
message with its recording, the reply as far as it was heard (marked interrupted when cut), the reply's
audio as played, the latencies, and one priced usage event per reply. Every method here blocks on storage,
so engines call them on the session's worker thread, in order.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from voicechat.models import Message, MessageStatus, TurnMetrics, UsageEvent, UsageKind, UsageStatus, User
from voicechat.storage.conversations import title_from
from voicechat.storage.store import Store
from voicechat.talk.runtime.user_audio import SAMPLE_RATE
from voicechat.talk.view import LiveView
from voicechat.turns.speech import keep_clip
from voicechat.turns.text import ChatService, TurnOptions

log = logging.getLogger(__name__)
UNTITLED = "Voice conversation"


@dataclass
class Reply:
    """A reply being spoken by a speech-to-speech engine (lives on the session's loop)."""

    key: str
    text: str = ""
    pcm: list[bytes] = field(default_factory=list)
    interrupted: bool = False
    failed: bool = False
    greeting: bool = False
    item_id: str | None = None
    speech_ended_at: float | None = None  # clock time the user's turn ended (for voice-to-voice)
    end_of_turn_ms: float | None = None
    first_audio_at: float | None = None
    barge_in_ms: float | None = None
    finished: bool = False
    heard_text: str | None = None  # the provider's own account of what was heard, when it gives one

    def pushed_samples(self) -> int:
        """Samples of reply audio pushed to playback."""
        return sum(len(chunk) for chunk in self.pcm) // 2

    def heard(self, played_samples: int) -> str:
        """The words of the reply in proportion to the audio played (all of them if it played to the end)."""
        if self.heard_text is not None:
            return self.heard_text
        if not self.interrupted:
            return self.text
        pushed = self.pushed_samples()
        if pushed == 0:
            return ""
        words = self.text.split()
        return " ".join(words[: int(len(words) * min(1.0, played_samples / pushed))])

    def played_audio(self, played_samples: int) -> bytes:
        """The reply audio the user heard."""
        return b"".join(self.pcm)[: played_samples * 2]

    def voice_to_voice_ms(self) -> float | None:
        """End of the user's speech -> first reply audio pushed."""
        if self.first_audio_at is None or self.speech_ended_at is None:
            return None
        return round((self.first_audio_at - self.speech_ended_at) * 1000, 1)


class SpokenTurns:
    """Opens the conversation on the first stored turn, then adds messages, clips and usage to it."""

    def __init__(
        self,
        *,
        store: Store,
        chat: ChatService,
        user: User,
        options: TurnOptions,
        view: LiveView,
        conversation_id: str | None,
    ) -> None:
        self._store, self._chat, self._user, self._options, self._view = store, chat, user, options, view
        self.conversation_id = conversation_id
        self._titled = conversation_id is not None

    def user_said(
        self, text: str, pcm: bytes, *, status: MessageStatus = "complete", error: str | None = None
    ) -> Message:
        """Store the user's utterance (``text`` may be empty while its transcript is pending)."""
        conversation_id = self._conversation(text)
        audio_id = (
            keep_clip(
                self._store,
                owner_id=self._user.id,
                conversation_id=conversation_id,
                pcm=pcm,
                sample_rate=SAMPLE_RATE,
            ).id
            if pcm
            else None
        )
        message = self._store.conversations.add_message(
            owner_id=self._user.id,
            conversation_id=conversation_id,
            role="user",
            content=text,
            status=status,
            is_voice=True,
            audio_id=audio_id,
            error=error,
        )
        self._store.context.forget(conversation_id)
        return message

    def transcribed(self, message_id: str, text: str | None, *, error: str | None = None) -> None:
        """Fill in a pending user message's transcript (None: recognition failed; the audio stays)."""
        self._store.conversations.update_message(
            owner_id=self._user.id,
            message_id=message_id,
            content=text if text is not None else None,
            status="complete" if text is not None else "failed",
            error=error,
        )
        if text and not self._titled and self.conversation_id:
            self._store.conversations.rename(
                owner_id=self._user.id, conversation_id=self.conversation_id, title=title_from(text)
            )
            self._titled = True
        if self.conversation_id:
            self._store.context.forget(self.conversation_id)

    def replied(self, reply: Reply, *, played_samples: int, sample_rate: int, model: str) -> Message | None:
        """Store a reply as heard, with its played audio and latencies (greetings are not stored)."""
        if reply.greeting or self.conversation_id is None:
            return None
        heard = reply.heard(played_samples)
        audio = reply.played_audio(played_samples)
        audio_id = (
            keep_clip(
                self._store,
                owner_id=self._user.id,
                conversation_id=self.conversation_id,
                pcm=audio,
                sample_rate=sample_rate,
            ).id
            if audio
            else None
        )
        status: MessageStatus = (
            "interrupted" if reply.interrupted else "failed" if reply.failed else "complete"
        )
        message = self._store.conversations.add_message(
            owner_id=self._user.id,
            conversation_id=self.conversation_id,
            role="assistant",
            content=heard,
            status=status,
            is_voice=True,
            audio_id=audio_id,
            interrupted=reply.interrupted,
            model=model,
            error="The voice engine could not finish this reply." if reply.failed else None,
            metrics=TurnMetrics(voice_to_voice_ms=reply.voice_to_voice_ms()),
        )
        self._store.context.forget(self.conversation_id)
        return message

    def corrected(self, message_id: str, text: str) -> None:
        """Replace a stored reply's text with the provider's own account of what was heard."""
        self._store.conversations.update_message(owner_id=self._user.id, message_id=message_id, content=text)
        if self.conversation_id:
            self._store.context.forget(self.conversation_id)

    def usage(
        self,
        *,
        kind: UsageKind = "realtime",
        provider: str,
        model: str,
        status: UsageStatus,
        cost_usd: float,
        input_tokens: int = 0,
        output_tokens: int = 0,
        audio_seconds: float = 0.0,
        characters: int = 0,
        latency_ms: float | None = None,
        turn: bool = False,
    ) -> None:
        """One priced usage event for this conversation (``realtime``: a reply; ``stt``: a transcript)."""
        self._store.usage.record(
            UsageEvent(
                user_id=self._user.id,
                conversation_id=self.conversation_id,
                kind=kind,
                provider=provider,
                model=model,
                status=status,
                input_tokens=input_tokens,
                output_tokens=output_tokens,
                audio_seconds=round(audio_seconds, 3),
                characters=characters,
                cost_usd=round(cost_usd, 8),
                latency_ms=latency_ms,
                turn=turn,
            )
        )

    def _conversation(self, text: str) -> str:
        if self.conversation_id is None:
            conversation, _ = self._chat.open_conversation(
                user=self._user,
                conversation_id=None,
                options=self._options,
                title=title_from(text) if text else UNTITLED,
            )
            self.conversation_id = conversation.id
            self._titled = bool(text)
            self._view.conversation(conversation.id)
        return self.conversation_id
