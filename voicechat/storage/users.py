"""Users: created on first sign-in, keyed by email."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import asdict
from datetime import UTC, datetime
from typing import get_args

from pymongo import ReturnDocument

from voicechat.errors import InvalidInput, NotAllowed, NotFound
from voicechat.models import User, UserRole, VoicePreferences
from voicechat.storage.database import Database, Document, parse_id


class UserRepository:
    """Reads and writes the ``users`` collection."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def get_or_create(self, *, email: str, name: str, admin: bool = False) -> User:
        """The user with ``email``, created on first sight; listed admins are always made admins."""
        email = email.strip().lower()
        update: Document = {
            "$setOnInsert": {"email": email, "tier": "default", "created_at": datetime.now(UTC)},
            "$set": {"name": name or email},
        }
        if admin:
            update["$set"]["role"] = "admin"
        else:
            update["$setOnInsert"]["role"] = "user"
        doc = self._db.run(
            lambda db: db.users.find_one_and_update(
                {"email": email}, update, upsert=True, return_document=ReturnDocument.AFTER
            )
        )
        if doc is None:  # upsert with ReturnDocument.AFTER always returns the document
            raise RuntimeError("user upsert returned nothing")
        return _to_user(doc)

    def get(self, user_id: str) -> User:
        """The user with this id (``NotFound`` for an unknown or malformed id)."""
        oid = _user_oid(user_id)
        doc = self._db.run(lambda db: db.users.find_one({"_id": oid}))
        if doc is None:
            raise NotFound("That user was not found.")
        return _to_user(doc)

    def set_access(self, *, acting: User, user_id: str, role: str, tier: str, tiers: Collection[str]) -> User:
        """An admin changes someone's role and subscription tier (``tiers``: the configured ones).

        Raises ``NotAllowed`` when ``acting`` is not an admin or would remove their own admin role (so the
        last admin cannot lock everyone out), ``InvalidInput`` for an unknown role or tier, ``NotFound`` for
        an unknown user. Emails listed in VOICECHAT_ADMINS become admins again at their next sign-in.
        """
        if not acting.is_admin:
            raise NotAllowed()
        if role not in get_args(UserRole):
            raise InvalidInput(f"Unknown role {role!r}.")
        if tier not in {"default", *tiers}:
            raise InvalidInput(f"Unknown tier {tier!r}; the tiers are: {', '.join(sorted(tiers))}.")
        if user_id == acting.id and role != "admin":
            raise NotAllowed("You cannot remove your own admin role; ask another admin.")
        oid = _user_oid(user_id)
        doc = self._db.run(
            lambda db: db.users.find_one_and_update(
                {"_id": oid}, {"$set": {"role": role, "tier": tier}}, return_document=ReturnDocument.AFTER
            )
        )
        if doc is None:
            raise NotFound("That user was not found.")
        return _to_user(doc)

    def emails(self, user_ids: set[str]) -> dict[str, str]:
        """Email by user id for the given ids (unknown ids are left out)."""
        oids = [parse_id(u) for u in user_ids]
        docs = (
            self._db.run(lambda db: list(db.users.find({"_id": {"$in": oids}}, {"email": 1}))) if oids else []
        )
        return {str(d["_id"]): d["email"] for d in docs}

    def list_all(self, *, acting: User, limit: int = 500) -> list[User]:
        """Users by email (bounded; for the admin's user filter and People panel). Admins only."""
        if not acting.is_admin:
            raise NotAllowed()
        return [
            _to_user(d) for d in self._db.run(lambda db: list(db.users.find().sort("email", 1).limit(limit)))
        ]

    def preferences(self, user_id: str) -> VoicePreferences:
        """The user's saved voice preferences (defaults for anything never saved)."""
        oid = parse_id(user_id)
        doc = self._db.run(lambda db: db.users.find_one({"_id": oid}, {"preferences": 1})) or {}
        saved = doc.get("preferences") or {}
        known = VoicePreferences.__dataclass_fields__
        return VoicePreferences(**{k: v for k, v in saved.items() if k in known})

    def save_preferences(self, user_id: str, preferences: VoicePreferences) -> None:
        """Store validated preferences; they apply from the user's next turn."""
        oid = parse_id(user_id)
        self._db.run(
            lambda db: db.users.update_one({"_id": oid}, {"$set": {"preferences": asdict(preferences)}})
        )


def _user_oid(user_id: str) -> object:
    try:
        return parse_id(user_id)
    except NotFound:
        raise NotFound("That user was not found.") from None


def _to_user(doc: Document) -> User:
    return User(
        id=str(doc["_id"]),
        email=doc["email"],
        name=doc.get("name") or doc["email"],
        role=doc.get("role", "user"),
        tier=doc.get("tier", "default"),
        created_at=doc.get("created_at"),
    )
