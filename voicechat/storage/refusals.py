"""Requests refused by a rate limit or a budget: kept so admins can see who hit which limit, and when."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from bson import ObjectId

from voicechat.storage.database import Database, parse_id

MAX_SCANNED = 20_000  # refusals in a dashboard range; far more means something else is wrong


@dataclass(frozen=True)
class RefusalCount:
    """How many requests were refused on one day for one reason, and for how many users."""

    day: str
    reason: str
    refusals: int
    users: int


class RefusalRepository:
    """Writes refusals and counts them per day and reason."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def record(self, *, user_id: str, reason: str, at: datetime | None = None) -> None:
        """One refused request."""
        doc = {
            "_id": ObjectId(),
            "user_id": parse_id(user_id),
            "reason": reason,
            "at": at or datetime.now(UTC),
        }
        self._db.run(lambda db: db.refusals.insert_one(doc))

    def daily(self, *, start: date, end: date, user_id: str | None = None) -> list[RefusalCount]:
        """Refusals per day and reason for days ``start``..``end`` inclusive (optionally one user's)."""
        query: dict[str, object] = {
            "at": {
                "$gte": datetime.combine(start, time.min, UTC),
                "$lt": datetime.combine(end + timedelta(days=1), time.min, UTC),
            }
        }
        if user_id:
            query["user_id"] = parse_id(user_id)
        docs = self._db.run(
            lambda db: list(db.refusals.find(query, {"reason": 1, "at": 1, "user_id": 1}).limit(MAX_SCANNED))
        )
        counts: Counter[tuple[str, str]] = Counter()
        users: dict[tuple[str, str], set[ObjectId]] = {}
        for doc in docs:
            key = (doc["at"].strftime("%Y-%m-%d"), doc["reason"])
            counts[key] += 1
            users.setdefault(key, set()).add(doc["user_id"])
        return [
            RefusalCount(day, reason, n, len(users[(day, reason)]))
            for (day, reason), n in sorted(counts.items())
        ]
