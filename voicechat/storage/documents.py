"""Stored conversation and message documents as the app's models, and changes to a stored message."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

from voicechat.models import Conversation, Message, MessageStatus, ToolStep, TurnMetrics
from voicechat.storage.database import Document


def conversation_of(doc: Document) -> Conversation:
    """A conversation document as the model the app uses."""
    return Conversation(
        id=str(doc["_id"]),
        owner_id=str(doc["owner_id"]),
        title=doc.get("title") or "New conversation",
        created_at=doc["created_at"],
        updated_at=doc["updated_at"],
        message_count=int(doc.get("message_count", 0)),
        has_voice=bool(doc.get("has_voice")),
        model=doc.get("model"),
        system_prompt=doc.get("system_prompt"),
        last_message_id=str(doc["last_message_id"]) if doc.get("last_message_id") else None,
    )


def message_of(doc: Document) -> Message:
    """A message document as the model the app uses (fields it does not know are left out)."""
    metrics: dict[str, Any] = doc.get("metrics") or {}
    return Message(
        id=str(doc["_id"]),
        conversation_id=str(doc["conversation_id"]),
        owner_id=str(doc["owner_id"]),
        role=doc["role"],
        content=doc["content"],
        created_at=doc["created_at"],
        status=doc.get("status", "complete"),
        is_voice=bool(doc.get("is_voice")),
        audio_id=str(doc["audio_id"]) if doc.get("audio_id") else None,
        interrupted=bool(doc.get("interrupted")),
        model=doc.get("model"),
        error=doc.get("error"),
        metrics=TurnMetrics(**{k: v for k, v in metrics.items() if k in TurnMetrics.__dataclass_fields__}),
        tool_steps=steps_of(doc),
        rating=(doc.get("feedback") or {}).get("rating"),
        rating_comment=(doc.get("feedback") or {}).get("comment"),
    )


def steps_of(doc: Document) -> tuple[ToolStep, ...]:
    """A message document's tool steps."""
    return tuple(
        ToolStep(**{k: v for k, v in step.items() if k in ToolStep.__dataclass_fields__})
        for step in doc.get("tool_steps") or ()
    )


@dataclass(frozen=True)
class MessageChange:
    """What becomes known of a stored message after it was added (None: left as it is). The repository
    writes it; ``applied_to`` gives the message as it is then stored, without reading it back."""

    content: str | None = None
    status: MessageStatus | None = None
    audio_id: str | None = None
    error: str | None = None
    interrupted: bool | None = None
    metrics: TurnMetrics | None = None  # merged with the timings already stored
    tool_steps: tuple[ToolStep, ...] | None = None

    def applied_to(self, message: Message) -> Message:
        """``message`` as stored after this change (``message`` must be as stored before it)."""
        given = {
            name: getattr(self, name)
            for name in ("content", "status", "audio_id", "error", "interrupted", "tool_steps")
            if getattr(self, name) is not None
        }
        timings = {k: v for k, v in asdict(self.metrics or TurnMetrics()).items() if v is not None}
        return replace(message, **given, metrics=replace(message.metrics, **timings))
