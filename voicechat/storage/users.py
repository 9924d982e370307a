"""Users: created on first sign-in, keyed by the identity provider's stable identity (issuer + subject).

An email address is only an attribute: two providers (or a provider where people choose their own address)
can both say ``boss@corp``, so the address never decides who an account is, and it grants the admin role only
when the provider vouches for it (``email_verified``).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Literal, get_args

from pymongo import ReturnDocument
from pymongo.database import Database as PymongoDatabase

from voicechat import defaults
from voicechat.errors import InvalidInput, NotAllowed, NotFound
from voicechat.models import User, UserRole, VoicePreferences
from voicechat.storage.database import Database, Document, parse_id

LOCAL_ISSUER = "local"  # accounts made on this machine: the single local user, tests, benchmarks, the demo
LEGACY_PREFIX = "legacy:"  # accounts made before identities were bound, keyed by email until claimed
AdminSource = Literal["list", "promotion"]


@dataclass(frozen=True)
class Identity:
    """Who signed in, as the identity provider (or the hosting platform) says."""

    issuer: str
    subject: str
    email: str
    email_verified: bool
    name: str = ""

    @classmethod
    def local(cls, email: str, name: str) -> Identity:
        """An account made on this machine (the single local user, tests, benchmarks, demo data)."""
        email = email.strip().lower()
        return cls(issuer=LOCAL_ISSUER, subject=email, email=email, email_verified=True, name=name)

    @property
    def key(self) -> str:
        """The account key: stable for this person at this provider, different at any other provider."""
        return f"{self.issuer}|{self.subject}"


class UserRepository:
    """Reads and writes the ``users`` collection."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def sign_in(self, identity: Identity, *, listed_admin: bool) -> User:
        """The account of ``identity``, created at the first sign-in and its email, name and role brought up
        to date at every later one.

        ``listed_admin`` (the caller checked VOICECHAT_ADMINS, and only for a verified email) makes the person
        an admin; someone who was admin only because of that list stops being one once it no longer names
        them, while an admin promoted on the People page stays one. An account from before identities were
        bound (keyed by email) is claimed by the first sign-in with that verified email.
        """
        email = identity.email.strip().lower()
        if identity.email_verified and email:
            self._claim_legacy(email, identity.key)
        current = self._db.run(lambda db: db.users.find_one({"identity": identity.key})) or {}
        changes: Document = {
            "name": identity.name or email,
            "email": email,
            "email_verified": identity.email_verified,
        }
        if listed_admin:
            changes["role"] = "admin"
            if current.get("admin_by") != "promotion":
                changes["admin_by"] = "list"
        elif current.get("role") == "admin" and current.get("admin_by", "list") == "list":
            changes |= {"role": "user", "admin_by": None}  # the list no longer names them
        insert: Document = {
            "issuer": identity.issuer,
            "subject": identity.subject,
            "tier": "default",
            "created_at": datetime.now(UTC),
        }
        if "role" not in changes:
            insert["role"] = "user"
        doc = self._db.run(
            lambda db: db.users.find_one_and_update(
                {"identity": identity.key},
                {"$set": changes, "$setOnInsert": insert},
                upsert=True,
                return_document=ReturnDocument.AFTER,
            )
        )
        if doc is None:  # upsert with ReturnDocument.AFTER always returns the document
            raise RuntimeError("user upsert returned nothing")
        return _to_user(doc)

    def get_or_create(self, *, email: str, name: str, admin: bool = False) -> User:
        """A local account for ``email`` (this machine's single user, tests, benchmarks, the demo data)."""
        return self.sign_in(Identity.local(email, name), listed_admin=admin)

    def find_by_email(self, email: str) -> list[User]:
        """Every account with this email (one per identity provider that vouched for it)."""
        docs = self._db.run(lambda db: list(db.users.find({"email": email.strip().lower()}).limit(20)))
        return [_to_user(d) for d in docs]

    def _claim_legacy(self, email: str, key: str) -> None:
        self._db.run(
            lambda db: db.users.update_one({"identity": LEGACY_PREFIX + email}, {"$set": {"identity": key}})
        )

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
        an unknown user. Emails listed in VOICECHAT_ADMINS become admins again at their next sign-in; an admin
        made here stays one when the list changes.
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
        admin_by: AdminSource | None = "promotion" if role == "admin" else None
        doc = self._db.run(
            lambda db: db.users.find_one_and_update(
                {"_id": oid},
                {"$set": {"role": role, "tier": tier, "admin_by": admin_by}},
                return_document=ReturnDocument.AFTER,
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

    def memory(self, user_id: str) -> list[str]:
        """The facts the assistant remembers about the user, oldest first."""
        oid = parse_id(user_id)
        doc = self._db.run(lambda db: db.users.find_one({"_id": oid}, {"memory": 1})) or {}
        return [str(fact) for fact in doc.get("memory") or ()]

    def remember(self, user_id: str, fact: str) -> list[str]:
        """Add a fact (trimmed, capped; a repeat is kept once); the oldest go past the limit. Returns them."""
        fact = " ".join(fact.split())[: defaults.MEMORY_FACT_CHARS]
        facts = [f for f in self.memory(user_id) if f.casefold() != fact.casefold()]
        return self.set_memory(user_id, [*facts, fact][-defaults.MEMORY_FACTS :])

    def forget(self, user_id: str, about: str) -> int:
        """Remove every fact containing ``about`` (case aside); how many went."""
        facts = self.memory(user_id)
        kept = [f for f in facts if about.casefold() not in f.casefold()]
        self.set_memory(user_id, kept)
        return len(facts) - len(kept)

    def set_memory(self, user_id: str, facts: list[str]) -> list[str]:
        """Replace the remembered facts (the preferences page edits them); blank ones are dropped."""
        cleaned = [" ".join(f.split())[: defaults.MEMORY_FACT_CHARS] for f in facts if f.strip()]
        cleaned = cleaned[-defaults.MEMORY_FACTS :]
        oid = parse_id(user_id)
        self._db.run(lambda db: db.users.update_one({"_id": oid}, {"$set": {"memory": cleaned}}))
        return cleaned


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
        email_verified=bool(doc.get("email_verified")),
    )


def migrate_users(db: Database) -> None:
    """Bind accounts made before identities were (keyed by email) to ``legacy:<email>``, and drop the old
    unique email index, so the same email from two providers can be two accounts. Idempotent; runs before
    the indexes are created."""

    def migrate(raw: PymongoDatabase[Document]) -> None:
        for doc in list(raw.users.find({"identity": {"$exists": False}}, {"email": 1})):
            raw.users.update_one({"_id": doc["_id"]}, {"$set": {"identity": LEGACY_PREFIX + doc["email"]}})
        for name, spec in raw.users.index_information().items():
            if spec.get("unique") and [key for key, _ in spec["key"]] == ["email"]:
                raw.users.drop_index(name)

    db.run(migrate)
