"""Storing what a turn said: the one code path typed, push-to-talk and Talk turns all store through.

A ``TurnWriter`` adds a user's message (a voice one may be pending until its transcript comes), attaches
recordings, fills in transcripts, adds and settles replies (cut to what was heard), and bills provider calls.
Every method blocks on storage; callers run it where blocking is fine (a page's script, a session's worker).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from voicechat.audio.clip_encoder import encode_clip
from voicechat.models import Conversation, Message, MessageStatus, Role, ToolStep, TurnMetrics, User
from voicechat.storage.conversations import MAX_STORED_CONTENT_CHARS, title_from
from voicechat.storage.documents import MessageChange
from voicechat.storage.store import Store
from voicechat.usage import Usage

VOICE_TITLE = "Voice conversation"  # a conversation's title until its first words are known
TRUNCATED = "Truncated"  # the error mark of a reply longer than a message may be


@dataclass(frozen=True)
class MessageMeta:
    """How a message is stored, besides its text."""

    status: MessageStatus = "complete"
    is_voice: bool = False
    model: str | None = None
    error: str | None = None
    metrics: TurnMetrics | None = None
    audio_id: str | None = None
    tool_steps: tuple[ToolStep, ...] = ()


@dataclass(frozen=True)
class KeptClip:
    """A clip as stored: its id, and the encoded bytes with their type (ready to play)."""

    id: str
    data: bytes
    content_type: str


class TurnWriter:
    """Writes one user's turns into their conversations (ownership is checked by the repositories)."""

    def __init__(self, store: Store, user: User) -> None:
        self._store = store
        self._user = user
        self._opened: set[str] = set()

    def opened(self, conversation: Conversation) -> None:
        """``conversation`` was just read as the user's: messages added to it are not checked again."""
        if conversation.owner_id == self._user.id:
            self._opened.add(conversation.id)

    def user_message(self, conversation_id: str, text: str, meta: MessageMeta | None = None) -> Message:
        """Add the user's message (a pending one gets its transcript later)."""
        return self._add("user", conversation_id, text, meta or MessageMeta())

    def keep_clip(self, conversation_id: str, pcm: bytes, sample_rate: int) -> KeptClip:
        """Encode 16-bit mono PCM compactly (in the clip encoder's helper process) and store it in the
        conversation (``NotFound`` when it was deleted meanwhile: nothing is left behind)."""
        data, content_type = encode_clip(pcm, sample_rate=sample_rate)
        audio_id = self._store.audio.put(
            owner_id=self._user.id,
            conversation_id=conversation_id,
            data=data,
            content_type=content_type,
            duration_seconds=round(len(pcm) / 2 / sample_rate, 3),
        )
        return KeptClip(id=audio_id, data=data, content_type=content_type)

    def attach_clip(self, message: Message, pcm: bytes, sample_rate: int) -> KeptClip:
        """Store a recording and attach it to ``message``."""
        clip = self.keep_clip(message.conversation_id, pcm, sample_rate)
        self.attach(message, clip.id)
        return clip

    def attach(self, message: Message, audio_id: str) -> None:
        """Attach a stored clip to ``message``."""
        self._store.conversations.attach_audio(
            owner_id=self._user.id, message_id=message.id, audio_id=audio_id
        )

    def transcribed(
        self,
        message: Message,
        text: str | None,
        *,
        error: str | None = None,
        metrics: TurnMetrics | None = None,
        retitle: bool = False,
        audio_id: str | None = None,
    ) -> Message:
        """Fill in a pending message's transcript (None: recognition failed; the recording stays), with its
        recording when that was stored meanwhile (``audio_id``), and with ``retitle`` name the conversation
        after it."""
        filled = self._amend(
            message,
            MessageChange(
                content=text,
                status="complete" if text is not None else "failed",
                error=error,
                metrics=metrics,
                audio_id=audio_id,
                # With the text, its steps: the search terms cover both, and need not be read back first.
                tool_steps=message.tool_steps if text is not None else None,
            ),
        )
        if text and retitle:
            self._store.conversations.rename(
                owner_id=self._user.id, conversation_id=message.conversation_id, title=title_from(text)
            )
        self._store.context.forget(message.conversation_id)
        return filled

    def reply(self, conversation_id: str, text: str, meta: MessageMeta) -> Message:
        """Add the assistant's reply (cut at the stored-message limit, and marked, when longer)."""
        stored, truncated = storable(text)
        if truncated and meta.error is None:
            meta = replace(meta, error=TRUNCATED)
        return self._add("assistant", conversation_id, stored, meta)

    def _add(self, role: Role, conversation_id: str, text: str, meta: MessageMeta) -> Message:
        return self._store.conversations.add_message(
            owner_id=self._user.id,
            conversation_id=conversation_id,
            role=role,
            content=text,
            status=meta.status,
            is_voice=meta.is_voice,
            audio_id=meta.audio_id,
            interrupted=meta.status == "interrupted",
            model=meta.model,
            error=meta.error,
            metrics=meta.metrics,
            tool_steps=meta.tool_steps,
            owner_checked=conversation_id in self._opened,
        )

    def settle_reply(
        self,
        message: Message,
        *,
        heard: str | None,
        status: MessageStatus | None,
        metrics: TurnMetrics,
        audio_id: str | None,
        tool_steps: tuple[ToolStep, ...] = (),
    ) -> Message:
        """A stored reply as it ended: what was heard of it (when cut short), how it ended, its audio, the
        tools it called."""
        settled = self._amend(
            message,
            MessageChange(
                content=storable(heard)[0] if heard is not None else None,
                status=status,
                interrupted=True if status == "interrupted" else None,
                audio_id=audio_id,
                metrics=metrics,
                tool_steps=tool_steps or (message.tool_steps if heard is not None else None),
            ),
        )
        self._store.context.forget(message.conversation_id)
        return settled

    def correct(self, message: Message, text: str) -> None:
        """Replace a stored reply's text (the provider's own account of what was heard)."""
        self._amend(message, MessageChange(content=storable(text)[0]))
        self._store.context.forget(message.conversation_id)

    def _amend(self, message: Message, change: MessageChange) -> Message:
        """Write ``change`` and return the message as changed (not read back: a Talk turn changes each
        message twice or three times, and each read is a database command)."""
        self._store.conversations.amend_message(owner_id=self._user.id, message_id=message.id, change=change)
        return change.applied_to(message)

    def bill(self, usage: Usage | list[Usage], conversation_id: str | None) -> None:
        """Record a priced provider call (or several in one write)."""
        usages = usage if isinstance(usage, list) else [usage]
        self._store.usage.record_many(
            [u.event(user_id=self._user.id, conversation_id=conversation_id) for u in usages]
        )


def storable(text: str) -> tuple[str, bool]:
    """The text as it can be stored: cut at the stored-message limit when longer (and whether it was)."""
    if len(text) <= MAX_STORED_CONTENT_CHARS:
        return text, False
    return text[: MAX_STORED_CONTENT_CHARS - 1] + "…", True
