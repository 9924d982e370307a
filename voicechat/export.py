"""Exports: a conversation as Markdown (to read) or JSON (to process); the admin's per-user usage as CSV."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import astuple, fields

from voicechat.dashboard import UserUsage
from voicechat.models import Conversation, Message
from voicechat.rendering import escape_markdown, spreadsheet_safe, without_raw_html, without_remote_images
from voicechat.storage.conversations import ConversationRepository

MAX_EXPORT_MESSAGES = 20_000


def iter_messages(
    conversations: ConversationRepository, *, owner_id: str, conversation_id: str
) -> Iterator[Message]:
    """Every message of a conversation (owner checked), oldest first, read a page at a time."""
    pages = []
    before: str | None = None
    total = 0
    while total < MAX_EXPORT_MESSAGES:
        page = conversations.messages_page(
            owner_id=owner_id, conversation_id=conversation_id, before=before, limit=500
        )
        pages.append(page.items)
        total += len(page.items)
        if page.next_cursor is None:
            break
        before = page.next_cursor
    for items in reversed(pages):
        yield from items


def to_markdown(conversation: Conversation, messages: list[Message]) -> str:
    """A readable transcript, safe in any Markdown viewer as the chat is on its page: message text as
    written, except that images become text links and HTML tags are written as text (either would load
    or run something the moment the file is opened); the title shows literally."""
    title = escape_markdown(conversation.title)
    lines = [f"# {title}", "", f"_Started {conversation.created_at:%Y-%m-%d %H:%M} UTC_", ""]
    for message in messages:
        who = "You" if message.role == "user" else "Assistant"
        marks = []
        if message.is_voice:
            marks.append("voice")
        if message.interrupted:
            marks.append("interrupted")
        elif message.status == "failed":
            marks.append("incomplete")
        suffix = f" ({', '.join(marks)})" if marks else ""
        text = without_raw_html(without_remote_images(message.content))
        lines += [f"**{who}**{suffix} · {message.created_at:%H:%M}", "", text, ""]
    return "\n".join(lines)


def to_json(conversation: Conversation, messages: list[Message]) -> str:
    """The conversation and its messages as JSON (ISO timestamps, metrics in milliseconds)."""
    return json.dumps(
        {
            "id": conversation.id,
            "title": conversation.title,
            "created_at": conversation.created_at.isoformat(),
            "updated_at": conversation.updated_at.isoformat(),
            "model": conversation.model,
            "system_prompt": conversation.system_prompt,
            "messages": [
                {
                    "id": m.id,
                    "role": m.role,
                    "content": m.content,
                    "created_at": m.created_at.isoformat(),
                    "status": m.status,
                    "is_voice": m.is_voice,
                    "interrupted": m.interrupted,
                    "audio_id": m.audio_id,
                    "model": m.model,
                    "metrics": {k: v for k, v in m.metrics.__dict__.items() if v is not None},
                }
                for m in messages
            ],
        },
        ensure_ascii=False,
        indent=2,
    )


def usage_csv(rows: Iterable[UserUsage]) -> str:
    """The per-user usage table as CSV; a cell that a spreadsheet would run as a formula (an email such as
    ``=HYPERLINK(...)@x.org``) is written as text."""
    out = io.StringIO()
    writer = csv.writer(out)
    names = [f.name for f in fields(UserUsage) if f.name != "user_id"]
    writer.writerow(names)
    for row in rows:
        values = dict(zip([f.name for f in fields(UserUsage)], astuple(row), strict=True))
        writer.writerow([spreadsheet_safe(values[name]) for name in names])
    return out.getvalue()
