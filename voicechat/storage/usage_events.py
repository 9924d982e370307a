"""Usage events, one per provider call, plus daily rollups kept up to date on write.

Aggregating a million raw events per page view takes seconds on the embedded server (shared/FINDINGS.md),
so every write also ``$inc``s two small rollups: per day/kind/provider/model and per day/user.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, date, datetime

from bson import ObjectId
from pymongo import UpdateOne

from voicechat.models import DailyCost, UsageEvent
from voicechat.storage.database import Database, Document, parse_id


class UsageRepository:
    """Writes usage events and reads the daily rollups the dashboard draws."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def record(self, event: UsageEvent) -> None:
        """Store one event and fold it into the rollups."""
        self.record_many([event])

    def record_many(self, events: list[UsageEvent]) -> None:
        """Store events in bulk (also used by the benchmark's seeding) and fold them into the rollups."""
        if not events:
            return
        docs = [_to_document(event) for event in events]
        self._db.run(lambda db: db.usage_events.insert_many(docs, ordered=False))
        by_kind: dict[tuple[str, str, str, str], Document] = {}
        by_user: dict[tuple[str, ObjectId], Document] = {}
        for doc in docs:
            day = doc["created_at"].strftime("%Y-%m-%d")
            _add(by_kind.setdefault((day, doc["kind"], doc["provider"], doc["model"]), {}), doc)
            _add(by_user.setdefault((day, doc["user_id"]), {}), doc)
        kind_ops = [
            UpdateOne({"day": d, "kind": k, "provider": p, "model": m}, {"$inc": inc}, upsert=True)
            for (d, k, p, m), inc in by_kind.items()
        ]
        user_ops = [
            UpdateOne({"day": d, "user_id": u}, {"$inc": inc}, upsert=True) for (d, u), inc in by_user.items()
        ]
        self._db.run(lambda db: db.usage_daily.bulk_write(kind_ops, ordered=False))
        self._db.run(lambda db: db.usage_daily_users.bulk_write(user_ops, ordered=False))

    def daily_costs(self, *, start: date, end: date) -> list[DailyCost]:
        """Rollup rows for days ``start``..``end`` inclusive, ordered by day."""
        query = {"day": {"$gte": start.isoformat(), "$lte": end.isoformat()}}
        docs = self._db.run(lambda db: list(db.usage_daily.find(query, {"_id": 0}).sort("day", 1)))
        return [
            DailyCost(
                day=d["day"],
                kind=d["kind"],
                provider=d["provider"],
                model=d["model"],
                cost_usd=round(float(d.get("cost_usd", 0.0)), 8),
                events=int(d.get("events", 0)),
                errors=int(d.get("errors", 0)),
                input_tokens=int(d.get("input_tokens", 0)),
                output_tokens=int(d.get("output_tokens", 0)),
            )
            for d in docs
        ]

    def events_for(self, *, user_id: str, limit: int = 100) -> list[UsageEvent]:
        """A user's latest events, newest first (bounded)."""
        oid = parse_id(user_id)
        docs = self._db.run(
            lambda db: list(db.usage_events.find({"user_id": oid}).sort("created_at", -1).limit(limit))
        )
        return [_to_event(doc) for doc in docs]


def _to_document(event: UsageEvent) -> Document:
    doc: Document = asdict(event)
    doc["_id"] = ObjectId()
    doc["user_id"] = parse_id(event.user_id)
    doc["conversation_id"] = parse_id(event.conversation_id) if event.conversation_id else None
    doc["created_at"] = event.created_at or datetime.now(UTC)
    return doc


def _add(total: Document, doc: Document) -> None:
    for key in ("cost_usd", "input_tokens", "output_tokens", "audio_seconds", "characters"):
        total[key] = total.get(key, 0) + doc[key]
    total["events"] = total.get("events", 0) + 1
    total["errors"] = total.get("errors", 0) + (0 if doc["status"] in ("ok", "interrupted") else 1)


def _to_event(doc: Document) -> UsageEvent:
    return UsageEvent(
        user_id=str(doc["user_id"]),
        kind=doc["kind"],
        provider=doc["provider"],
        model=doc["model"],
        status=doc["status"],
        conversation_id=str(doc["conversation_id"]) if doc.get("conversation_id") else None,
        input_tokens=doc["input_tokens"],
        output_tokens=doc["output_tokens"],
        audio_seconds=doc["audio_seconds"],
        characters=doc["characters"],
        cost_usd=doc["cost_usd"],
        latency_ms=doc.get("latency_ms"),
        created_at=doc["created_at"],
    )
