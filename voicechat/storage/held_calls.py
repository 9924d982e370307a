"""Confirm-first tool calls held for the user's own yes: one per conversation, shared by every process.

A held call keeps exactly what will run (the tool's name and arguments), whose it is (the user, the
conversation) and the turn that held it. It is taken (removed) atomically by the one answer that runs or
declines it, so it runs at most once whichever process or tab answers; it expires after
``TOOL_CONFIRM_SECONDS``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from voicechat import defaults
from voicechat.storage.database import Database, Document, parse_id


@dataclass(frozen=True)
class HeldCall:
    """A confirm-first call waiting for the user's answer."""

    name: str
    arguments: str  # the JSON the model gave, exactly as it will run
    owner_id: str
    conversation_id: str
    turn_id: str  # the turn that held it: it can never be confirmed within that turn
    held_at: datetime
    asked_again: bool = False  # an unclear answer was asked once more (the next unclear one drops it)
    answered_by: str = ""  # in a speech-to-speech call: the one utterance whose yes may confirm it
    id: str = ""  # set when held

    @property
    def fresh(self) -> bool:
        """Whether it may still run."""
        return datetime.now(UTC) - self.held_at < timedelta(seconds=defaults.TOOL_CONFIRM_SECONDS)


class HeldCallRepository:
    """Held calls by conversation (the newest hold replaces an older one)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def hold(self, call: HeldCall) -> HeldCall:
        """Keep ``call`` until the user answers; returns it with its id."""
        held = replace(call, id=uuid.uuid4().hex)
        doc: Document = {
            "hold_id": held.id,
            "name": held.name,
            "arguments": held.arguments,
            "owner_id": held.owner_id,
            "turn_id": held.turn_id,
            "held_at": held.held_at,
            "asked_again": False,
            "answered_by": "",
        }
        oid = parse_id(call.conversation_id)
        self._db.run(lambda db: db.held_tool_calls.replace_one({"_id": oid}, doc, upsert=True))
        return held

    def waiting(self, *, owner_id: str, conversation_id: str) -> HeldCall | None:
        """The call waiting in this conversation of this user, if any and still fresh (not removed)."""
        oid = parse_id(conversation_id)
        doc = self._db.run(lambda db: db.held_tool_calls.find_one({"_id": oid, "owner_id": owner_id}))
        held = _held(doc, conversation_id) if doc is not None else None
        return held if held is not None and held.fresh else None

    def take(self, held: HeldCall) -> HeldCall | None:
        """Remove ``held`` for the one answer that settles it; None when it is gone (already answered in
        another tab or process, replaced by a newer hold, or expired)."""
        oid = parse_id(held.conversation_id)
        query = {"_id": oid, "hold_id": held.id, "owner_id": held.owner_id}
        doc = self._db.run(lambda db: db.held_tool_calls.find_one_and_delete(query))
        taken = _held(doc, held.conversation_id) if doc is not None else None
        return taken if taken is not None and taken.fresh else None

    def ask_again(self, held: HeldCall) -> bool:
        """Mark ``held`` as asked once more; False when it had been already (or is gone)."""
        oid = parse_id(held.conversation_id)
        query = {"_id": oid, "hold_id": held.id, "asked_again": False}
        result = self._db.run(
            lambda db: db.held_tool_calls.update_one(query, {"$set": {"asked_again": True}})
        )
        return result.modified_count == 1

    def answered_by(self, held: HeldCall, utterance: str) -> bool:
        """Mark ``utterance`` as the user's answer to ``held`` (the first one after it; only it may confirm
        it); False when another utterance answered it already (or it is gone)."""
        oid = parse_id(held.conversation_id)
        query = {"_id": oid, "hold_id": held.id, "answered_by": {"$in": ["", utterance]}}
        result = self._db.run(
            lambda db: db.held_tool_calls.update_one(query, {"$set": {"answered_by": utterance}})
        )
        return result.matched_count == 1

    def drop(self, *, owner_id: str, conversation_id: str) -> None:
        """Forget any call waiting in this conversation (a No, a new question, regenerate)."""
        oid = parse_id(conversation_id)
        self._db.run(lambda db: db.held_tool_calls.delete_one({"_id": oid, "owner_id": owner_id}))


def _held(doc: Document, conversation_id: str) -> HeldCall:
    return HeldCall(
        id=str(doc.get("hold_id", "")),
        name=str(doc["name"]),
        arguments=str(doc["arguments"]),
        owner_id=str(doc.get("owner_id", "")),
        conversation_id=conversation_id,
        turn_id=str(doc.get("turn_id", "")),
        held_at=_aware(doc["held_at"]),
        asked_again=bool(doc.get("asked_again")),
        answered_by=str(doc.get("answered_by") or ""),
    )


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
