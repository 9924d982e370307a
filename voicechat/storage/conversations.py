"""Conversations and their messages (one document per message), always scoped to their owner.

Every method takes the acting user's id; a conversation of somebody else is "not found", exactly like a
malformed id, so nothing leaks about which ids exist.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime, timedelta

from bson import ObjectId

from voicechat import defaults
from voicechat.errors import InvalidInput, NotFound
from voicechat.models import (
    ContextMessage,
    Conversation,
    Message,
    MessageStatus,
    Page,
    Role,
    ToolStep,
    TurnMetrics,
)
from voicechat.storage.database import Database, Document, parse_id
from voicechat.storage.documents import MessageChange, conversation_of, message_of, steps_of
from voicechat.storage.search import searchable, terms_of
from voicechat.storage.usage_events import record_conversation_started

# A stored message is far below MongoDB's 16 MB document limit; anything near it is refused up front.
MAX_STORED_CONTENT_CHARS = 100_000
_CURSOR = re.compile(r"^(\d{1,16})_([0-9a-f]{24})$")


def title_from(text: str, *, limit: int = defaults.MAX_TITLE_CHARS) -> str:
    """A conversation title from its first message: first line, whitespace folded, cut at a word."""
    line = " ".join(text.strip().splitlines()[0].split()) if text.strip() else ""
    if not line:
        return "New conversation"
    if len(line) <= limit:
        return line
    cut = line[: limit - 1].rsplit(" ", 1)[0] or line[: limit - 1]
    return cut.rstrip(" ,.;:") + "…"


class ConversationRepository:
    """Reads and writes ``conversations`` and ``messages``."""

    def __init__(self, db: Database) -> None:
        self._db = db

    # Conversations ---------------------------------------------------------------------------------

    def create(
        self,
        *,
        owner_id: str,
        title: str,
        model: str | None = None,
        system_prompt: str | None = None,
        at: datetime | None = None,
    ) -> Conversation:
        """A new, empty conversation owned by ``owner_id`` (``at``: when it began, for imports)."""
        now = at or datetime.now(UTC)
        doc: Document = {
            "_id": ObjectId(),
            "owner_id": parse_id(owner_id),
            "title": title[: defaults.MAX_TITLE_CHARS],
            "created_at": now,
            "updated_at": now,
            "message_count": 0,
            "has_voice": False,
            "model": model,
            "system_prompt": system_prompt,
            "last_message_id": None,
        }
        self._db.run(lambda db: db.conversations.insert_one(doc))
        record_conversation_started(self._db, owner_id=doc["owner_id"], when=now)
        return conversation_of(doc)

    def get(self, *, owner_id: str, conversation_id: str) -> Conversation:
        """The conversation, if it exists and belongs to ``owner_id``; else NotFound."""
        return conversation_of(self._owned(owner_id, conversation_id))

    def list_page(
        self, *, owner_id: str, cursor: str | None = None, limit: int = defaults.HISTORY_PAGE_SIZE
    ) -> Page[Conversation]:
        """Conversations newest first, ``limit`` at a time; pass ``next_cursor`` back for the next page."""
        owner = parse_id(owner_id)
        before: tuple[datetime, ObjectId] | None = _parse_cursor(cursor) if cursor else None
        upper = before[0] if before else datetime.now(UTC) + timedelta(days=1)
        wanted = limit + 1 + (_TIE_SLACK if before else 0)
        # The embedded server's planner reads every match of the owner before sorting (2,000 conversations:
        # ~90 ms). Looking in a recent window first keeps a page to a few dozen reads; wider windows follow
        # only when the recent one cannot fill the page.
        docs: list[Document] = []
        for window in _PAGE_WINDOWS:
            bounds: Document = {"$lte": upper} if window is None else {"$lte": upper, "$gte": upper - window}
            docs = self._newest(owner, bounds, wanted)
            if len(docs) >= wanted:
                break
        # Ties on updated_at (same millisecond) are resolved by _id here rather than with $or, which the
        # embedded server's planner would answer with a scan.
        if before:
            docs = [d for d in docs if _sort_key(d) < (before[0], before[1])]
        items = [conversation_of(d) for d in docs[:limit]]
        next_cursor = _make_cursor(docs[limit - 1]) if len(docs) > limit else None
        return Page(items=items, next_cursor=next_cursor)

    def _newest(self, owner: ObjectId, bounds: Document, limit: int) -> list[Document]:
        query: Document = {"owner_id": owner, "updated_at": bounds}
        return self._db.run(
            lambda db: list(db.conversations.find(query).sort([("updated_at", -1), ("_id", -1)]).limit(limit))
        )

    def titles(self, *, owner_id: str, ids: set[str]) -> dict[str, str]:
        """The titles of those of ``ids`` that ``owner_id`` owns."""
        query: Document = {"_id": {"$in": [parse_id(i) for i in ids]}, "owner_id": parse_id(owner_id)}
        docs = self._db.run(lambda db: list(db.conversations.find(query, {"title": 1})))
        return {str(d["_id"]): d["title"] for d in docs}

    def rename(self, *, owner_id: str, conversation_id: str, title: str) -> None:
        """Set a new title (already validated by the caller)."""
        self._update_owned(owner_id, conversation_id, {"$set": {"title": title}})

    def set_settings(self, *, owner_id: str, conversation_id: str, model: str, system_prompt: str) -> None:
        """Remember the model and persona a conversation uses."""
        self._update_owned(
            owner_id, conversation_id, {"$set": {"model": model, "system_prompt": system_prompt}}
        )

    def mark_deleted(self, *, owner_id: str, conversation_id: str) -> str:
        """First step of a delete: the conversation stops being its owner's at once (a tombstone), so it is
        no longer listed, opened, searched or written to; ``sweep`` then removes what it held. Returns its id.
        """
        query = {"_id": parse_id(conversation_id), "owner_id": parse_id(owner_id)}
        tombstone = {
            "$set": {"deleted_at": datetime.now(UTC), "deleted_owner_id": query["owner_id"]},
            "$unset": {"owner_id": ""},
        }
        result = self._db.run(lambda db: db.conversations.update_one(query, tombstone))
        if result.matched_count == 0:
            raise NotFound()
        return str(query["_id"])

    def sweep(
        self, conversation_id: str, *, delete_audio: Callable[[ObjectId, list[ObjectId]], object]
    ) -> None:
        """Remove a tombstoned conversation: its recordings (through ``delete_audio``, given the conversation
        and the clip ids its messages name), its messages, then the tombstone; usage events are kept for
        accounting with their link cut. Safe to repeat, so a sweep cut short by a crash is finished later."""
        oid = parse_id(conversation_id)
        tombstone = {"_id": oid, "deleted_at": {"$ne": None}}
        if self._db.run(lambda db: db.conversations.count_documents(tombstone, limit=1)) == 0:
            return  # not tombstoned (or already gone): nothing to sweep
        audio_ids = self._db.run(
            lambda db: [
                m["audio_id"]
                for m in db.messages.find(
                    {"conversation_id": oid, "audio_id": {"$ne": None}}, {"audio_id": 1}
                )
            ]
        )
        delete_audio(oid, audio_ids)
        self._db.run(lambda db: db.messages.delete_many({"conversation_id": oid}))
        self._db.run(
            lambda db: db.usage_events.update_many(
                {"conversation_id": oid}, {"$set": {"conversation_id": None}}
            )
        )
        self._db.run(lambda db: db.conversations.delete_one(tombstone))

    def tombstoned(self) -> list[str]:
        """Ids of conversations whose delete was begun but not finished (a crash mid-sweep)."""
        since_ever = {"deleted_at": {"$gt": datetime(1970, 1, 1, tzinfo=UTC)}}  # a range the index answers
        docs = self._db.run(lambda db: list(db.conversations.find(since_ever, {"_id": 1})))
        return [str(d["_id"]) for d in docs]

    # Messages --------------------------------------------------------------------------------------

    def add_message(
        self,
        *,
        owner_id: str,
        conversation_id: str,
        role: Role,
        content: str,
        status: MessageStatus = "complete",
        is_voice: bool = False,
        audio_id: str | None = None,
        interrupted: bool = False,
        model: str | None = None,
        error: str | None = None,
        metrics: TurnMetrics | None = None,
        tool_steps: tuple[ToolStep, ...] = (),
        at: datetime | None = None,
        owner_checked: bool = False,
    ) -> Message:
        """Append a message (ownership checked) and update the conversation's counters (``at``: when it was
        said, for imports; default now). ``owner_checked``: the caller has just read the conversation as
        ``owner_id``'s, so it is not read again (one command fewer; a conversation deleted since is still
        refused)."""
        if len(content) > MAX_STORED_CONTENT_CHARS:
            raise InvalidInput("That message is too large to store.")
        if owner_checked:
            conversation = {"_id": parse_id(conversation_id), "owner_id": parse_id(owner_id)}
        else:
            conversation = self._owned(owner_id, conversation_id)
        now = at or datetime.now(UTC)
        doc: Document = {
            "_id": ObjectId(),
            "conversation_id": conversation["_id"],
            "owner_id": conversation["owner_id"],
            "role": role,
            "content": content,
            "terms": terms_of(searchable(content, tool_steps)),
            "created_at": now,
            "status": status,
            "is_voice": is_voice,
            "audio_id": parse_id(audio_id) if audio_id else None,
            "interrupted": interrupted,
            "model": model,
            "error": error,
            "metrics": {k: v for k, v in asdict(metrics or TurnMetrics()).items() if v is not None},
        }
        if tool_steps:
            doc["tool_steps"] = [asdict(step) for step in tool_steps]
        self._db.run(lambda db: db.messages.insert_one(doc))
        update: Document = {
            "$inc": {"message_count": 1},
            "$set": {"updated_at": now, "last_message_id": doc["_id"]},
        }
        if is_voice:
            update["$set"]["has_voice"] = True
        # Counted only while the conversation is its owner's (a deleted one has none): matching nothing means
        # it was deleted meanwhile, and the message is taken back out (one round trip for check and count).
        live = {"_id": conversation["_id"], "owner_id": conversation["owner_id"]}
        if self._db.run(lambda db: db.conversations.update_one(live, update)).matched_count == 0:
            self._db.run(lambda db: db.messages.delete_one({"_id": doc["_id"]}))
            raise NotFound()
        return message_of(doc)

    def amend_message(self, *, owner_id: str, message_id: str, change: MessageChange) -> None:
        """Fill in what was not known when the message was stored: its transcript, its spoken audio, how it
        ended, more timings (merged with those already stored). Ownership checked (NotFound); a caller
        holding the message as stored gets it as changed from ``change.applied_to``."""
        changes: Document = {}
        if change.content is not None:
            if len(change.content) > MAX_STORED_CONTENT_CHARS:
                raise InvalidInput("That message is too large to store.")
            changes["content"] = change.content
        if change.tool_steps is not None:
            changes["tool_steps"] = [asdict(step) for step in change.tool_steps]
        query = self._message(owner_id, message_id)
        if change.content is not None or change.tool_steps is not None:
            changes["terms"] = self._terms_after(query, change.content, change.tool_steps)
        for name in ("status", "error", "interrupted"):
            if (value := getattr(change, name)) is not None:
                changes[name] = value
        if change.audio_id is not None:
            changes["audio_id"] = parse_id(change.audio_id)
        for name, value in asdict(change.metrics or TurnMetrics()).items():
            if value is not None:
                changes[f"metrics.{name}"] = value
        if changes:
            self._set(query, changes)
        elif self._db.run(lambda db: db.messages.find_one(query, {"_id": 1})) is None:
            raise NotFound("That message was not found.")

    def attach_audio(self, *, owner_id: str, message_id: str, audio_id: str) -> None:
        """Attach a stored recording to a message (ownership checked), without reading the message back."""
        self._set(self._message(owner_id, message_id), {"audio_id": parse_id(audio_id)})

    def _set(self, query: Document, changes: Document) -> None:
        """One plain update of a message. Not a find-and-modify: on the embedded server that took ~7.5 ms
        against ~2.4-3.2 for an update and ~1.2 for the read back, three times per Talk turn."""
        if self._db.run(lambda db: db.messages.update_one(query, {"$set": changes})).matched_count == 0:
            raise NotFound("That message was not found.")

    def _terms_after(
        self, query: Document, content: str | None, steps: tuple[ToolStep, ...] | None
    ) -> list[str]:
        """A message's search terms once ``content`` or ``steps`` change (the terms cover both)."""
        if content is None or steps is None:
            doc = self._db.run(lambda db: db.messages.find_one(query, {"content": 1, "tool_steps": 1}))
            if doc is None:
                raise NotFound("That message was not found.")
            content = doc["content"] if content is None else content
            steps = steps_of(doc) if steps is None else steps
        return terms_of(searchable(content, steps))

    def messages_page(
        self,
        *,
        owner_id: str,
        conversation_id: str,
        before: str | None = None,
        limit: int = defaults.MESSAGES_PAGE_SIZE,
    ) -> Page[Message]:
        """The ``limit`` messages before ``before`` (default: the latest), oldest first within the page."""
        conversation = self._owned(owner_id, conversation_id)
        query: Document = {"conversation_id": conversation["_id"]}
        if before is not None:
            query["_id"] = {"$lt": parse_id(before)}
        docs = self._db.run(
            lambda db: list(
                db.messages.find(query, {"terms": 0}).sort([("created_at", -1), ("_id", -1)]).limit(limit + 1)
            )
        )
        older = str(docs[limit - 1]["_id"]) if len(docs) > limit else None
        return Page(items=[message_of(d) for d in reversed(docs[:limit])], next_cursor=older)

    def recent_context(self, *, conversation_id: str, limit: int) -> list[ContextMessage]:
        """The last ``limit`` complete or partial messages, oldest first, as the model should see them."""
        oid = parse_id(conversation_id)
        docs = self._db.run(
            lambda db: list(
                db.messages.find(
                    {"conversation_id": oid, "status": {"$in": ["complete", "interrupted"]}},
                    {"role": 1, "content": 1, "tool_steps": 1},
                )
                .sort([("created_at", -1), ("_id", -1)])
                .limit(limit)
            )
        )
        return [
            ContextMessage(id=str(d["_id"]), role=d["role"], content=d["content"], tool_steps=steps_of(d))
            for d in reversed(docs)
        ]

    # Helpers ---------------------------------------------------------------------------------------

    def _owned(self, owner_id: str, conversation_id: str) -> Document:
        query = {"_id": parse_id(conversation_id), "owner_id": parse_id(owner_id)}
        doc = self._db.run(lambda db: db.conversations.find_one(query))
        if doc is None:
            raise NotFound()
        return doc

    @staticmethod
    def _message(owner_id: str, message_id: str) -> Document:
        return {"_id": parse_id(message_id), "owner_id": parse_id(owner_id)}

    def _update_owned(self, owner_id: str, conversation_id: str, update: Document) -> None:
        query = {"_id": parse_id(conversation_id), "owner_id": parse_id(owner_id)}
        result = self._db.run(lambda db: db.conversations.update_one(query, update))
        if result.matched_count == 0:
            raise NotFound()


_TIE_SLACK = 10
_PAGE_WINDOWS: tuple[timedelta | None, ...] = (timedelta(days=7), timedelta(days=60), None)


def _sort_key(doc: Document) -> tuple[datetime, ObjectId]:
    return (doc["updated_at"], doc["_id"])


def _make_cursor(doc: Document) -> str:
    millis = int(doc["updated_at"].timestamp() * 1000)
    return f"{millis}_{doc['_id']}"


def _parse_cursor(cursor: str) -> tuple[datetime, ObjectId]:
    match = _CURSOR.match(cursor)
    if not match:
        raise NotFound("That page link is not valid any more.")
    return datetime.fromtimestamp(int(match[1]) / 1000, tz=UTC), ObjectId(match[2])
