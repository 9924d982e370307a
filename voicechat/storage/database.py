"""The MongoDB connection: one pymongo client, indexes, id parsing and recovery from a lost server.

Every repository runs its operations through ``Database.run`` so that a dropped connection to the embedded
server restarts it once and retries, and any other database failure becomes ``StorageUnavailable``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

from bson import ObjectId
from bson.errors import InvalidId
from pymongo import ASCENDING, DESCENDING, MongoClient
from pymongo.database import Database as PymongoDatabase
from pymongo.errors import ConnectionFailure, PyMongoError

from voicechat import defaults
from voicechat.errors import NotFound, StorageUnavailable

log = logging.getLogger(__name__)
T = TypeVar("T")
Document = dict[str, Any]

INDEXES: dict[str, list[tuple[list[tuple[str, int]], dict[str, Any]]]] = {
    # An account is its provider's identity (issuer|subject); two accounts may share an email.
    "users": [([("identity", ASCENDING)], {"unique": True}), ([("email", ASCENDING)], {})],
    "conversations": [
        ([("owner_id", ASCENDING), ("updated_at", DESCENDING), ("_id", DESCENDING)], {}),
        ([("deleted_at", ASCENDING)], {}),  # deletes begun but not finished, swept at start-up
    ],
    "messages": [
        ([("conversation_id", ASCENDING), ("created_at", ASCENDING), ("_id", ASCENDING)], {}),
        # Portable full-text search: normalised terms per message, queried by equality (see search.py).
        ([("owner_id", ASCENDING), ("terms", ASCENDING)], {}),
        ([("feedback.at", ASCENDING)], {}),  # the dashboard's feedback over a date range
    ],
    # A confirm-first call waits for the user's yes this long at most (checked on use as well).
    "held_tool_calls": [([("held_at", ASCENDING)], {"expireAfterSeconds": defaults.TOOL_CONFIRM_SECONDS})],
    "usage_events": [
        ([("created_at", ASCENDING)], {}),
        ([("user_id", ASCENDING), ("created_at", ASCENDING)], {}),
    ],
    "usage_daily": [
        (
            [("day", ASCENDING), ("kind", ASCENDING), ("provider", ASCENDING), ("model", ASCENDING)],
            {"unique": True},
        )
    ],
    "usage_daily_users": [
        (
            [
                ("day", ASCENDING),
                ("user_id", ASCENDING),
                ("kind", ASCENDING),
                ("provider", ASCENDING),
                ("model", ASCENDING),
            ],
            {"unique": True},
        ),
        ([("user_id", ASCENDING), ("day", ASCENDING)], {}),
    ],
    "usage_daily_people": [([("day", ASCENDING)], {"unique": True})],  # each day's per-person totals
    "turn_latency_daily": [([("day", ASCENDING), ("user_id", ASCENDING)], {"unique": True})],
    "conversations_daily": [([("day", ASCENDING), ("user_id", ASCENDING)], {"unique": True})],
    # Recordings by conversation, so a delete finds clips stored but never attached to a message.
    # ... and GridFS's own indexes (clips are written as GridFS documents directly, not through a bucket,
    # which would look for these on every upload).
    "audio.files": [
        ([("metadata.conversation_id", ASCENDING)], {}),
        ([("filename", ASCENDING), ("uploadDate", ASCENDING)], {}),
    ],
    "audio.chunks": [([("files_id", ASCENDING), ("n", ASCENDING)], {"unique": True})],
    # Refusals expire after 90 days (a TTL index): the dashboard shows recent ones, nobody needs old ones.
    "refusals": [([("at", ASCENDING)], {"expireAfterSeconds": 90 * 24 * 3600})],
}


def parse_id(value: object) -> ObjectId:
    """Parse an id from a URL, a widget or a document; anything malformed is simply "not found"."""
    if isinstance(value, ObjectId):
        return value
    if not isinstance(value, str):
        raise NotFound()
    try:
        return ObjectId(value)
    except (InvalidId, TypeError):
        raise NotFound() from None


class Database:
    """A pymongo database plus a recovery hook used when the server went away."""

    def __init__(
        self,
        *,
        client: MongoClient[Document],
        name: str,
        uri: str | None = None,
        recover: Callable[[], str] | None = None,
    ) -> None:
        self._client = client
        self._db: PymongoDatabase[Document] = client[name]
        self._uri = uri
        self._recover = recover

    @classmethod
    def connect(cls, uri: str, *, recover: Callable[[], str] | None = None) -> Database:
        """Connect to ``uri``; the database name is the URI's path, or ``voicechat``.

        ``recover`` restarts a lost (embedded) server and returns its URI, which may have a new port.
        """
        client = _client(uri)
        name = client.get_default_database(default=defaults.DEFAULT_DATABASE).name
        return cls(client=client, name=name, uri=uri, recover=recover)

    @property
    def name(self) -> str:
        """The database name."""
        return self._db.name

    def run(self, operation: Callable[[PymongoDatabase[Document]], T]) -> T:
        """Run ``operation``; after a connection failure recover (embedded server) and retry once."""
        try:
            return operation(self._db)
        except ConnectionFailure as exc:
            if self._recover is None:
                log.warning("database unreachable: %s", type(exc).__name__)
                raise StorageUnavailable() from exc
            log.warning("embedded database unreachable (%s); restarting it", type(exc).__name__)
        try:
            uri = self._recover()
            if uri != self._uri:
                old, self._client, self._uri = self._client, _client(uri), uri
                self._db = self._client[self._db.name]
                old.close()
            return operation(self._db)
        except PyMongoError as exc:
            log.error("database still unreachable after recovery: %s", type(exc).__name__)
            raise StorageUnavailable() from exc

    def ensure_indexes(self) -> None:
        """Create every index (idempotent; safe to call from each process at start-up)."""

        def create(db: PymongoDatabase[Document]) -> None:
            for collection, indexes in INDEXES.items():
                for keys, options in indexes:
                    db[collection].create_index(keys, **options)

        self.run(create)

    def close(self) -> None:
        """Close the client's connections."""
        self._client.close()


def _client(uri: str) -> MongoClient[Document]:
    return MongoClient(
        uri,
        serverSelectionTimeoutMS=defaults.MONGO_SERVER_SELECTION_TIMEOUT_MS,
        tz_aware=True,
        appname="voicechat",
    )
