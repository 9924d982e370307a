"""Usage events, one per provider call, plus daily rollups kept up to date on write.

Aggregating a million raw events per page view takes seconds on the embedded server (shared/FINDINGS.md),
so every write also ``$inc``s two small rollups: per day/kind/provider/model, and the same per user. Each
rollup row carries a latency histogram, so daily percentiles need no raw events either. A third
rollup holds each day's per-person totals in one document (``usage_people``) for the dashboard's people table.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, date, datetime

from bson import ObjectId
from pymongo import UpdateOne

from voicechat.models import DailyUsage, UsageEvent
from voicechat.storage.database import Database, Document, parse_id
from voicechat.storage.usage_people import COMPLETE, PersonTotals, people_ops, people_totals
from voicechat.usage import latency_bucket

_SUMMED = ("cost_usd", "input_tokens", "output_tokens", "audio_seconds", "characters")


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
        by_model: dict[tuple[str, str, str, str], Document] = {}
        by_user: dict[tuple[str, ObjectId, str, str, str], Document] = {}
        for doc in docs:
            day = doc["created_at"].strftime("%Y-%m-%d")
            _add(by_model.setdefault((day, doc["kind"], doc["provider"], doc["model"]), {}), doc)
            _add(
                by_user.setdefault((day, doc["user_id"], doc["kind"], doc["provider"], doc["model"]), {}), doc
            )
        model_ops = [
            UpdateOne(
                {"day": d, "kind": k, "provider": p, "model": m},
                {"$inc": inc, "$setOnInsert": {COMPLETE: True}},
                upsert=True,
            )
            for (d, k, p, m), inc in by_model.items()
        ]
        user_ops = [
            UpdateOne(
                {"day": d, "user_id": u, "kind": k, "provider": p, "model": m}, {"$inc": inc}, upsert=True
            )
            for (d, u, k, p, m), inc in by_user.items()
        ]
        self._db.run(lambda db: db.usage_daily.bulk_write(model_ops, ordered=False))
        self._db.run(lambda db: db.usage_daily_users.bulk_write(user_ops, ordered=False))
        day_ops = people_ops(by_user)
        self._db.run(lambda db: db.usage_daily_people.bulk_write(day_ops, ordered=False))

    def daily_by_model(self, *, start: date, end: date) -> list[DailyUsage]:
        """Rollup rows per day, kind, provider and model for days ``start``..``end`` inclusive."""
        query = {"day": {"$gte": start.isoformat(), "$lte": end.isoformat()}}
        return [_to_row(d) for d in self._db.run(lambda db: list(db.usage_daily.find(query, {"_id": 0})))]

    def daily_with_people(
        self, *, start: date, end: date
    ) -> tuple[list[DailyUsage], dict[str, PersonTotals]]:
        """``daily_by_model``'s rows plus each person's totals over the range (user id -> totals).

        Reads one people document per day, not the per-user rows (but for days written before those existed).
        """
        query = {"day": {"$gte": start.isoformat(), "$lte": end.isoformat()}}
        docs = self._db.run(lambda db: list(db.usage_daily.find(query, {"_id": 0})))
        return [_to_row(d) for d in docs], people_totals(self._db, docs, start=start, end=end)

    def daily_by_user(self, *, start: date, end: date, user_id: str | None = None) -> list[DailyUsage]:
        """Rollup rows per day, user, kind, provider and model (of one user when ``user_id`` is given)."""
        query: Document = {"day": {"$gte": start.isoformat(), "$lte": end.isoformat()}}
        if user_id is not None:
            query["user_id"] = parse_id(user_id)
        return [
            _to_row(d) for d in self._db.run(lambda db: list(db.usage_daily_users.find(query, {"_id": 0})))
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
    for key in _SUMMED:
        total[key] = total.get(key, 0) + doc[key]
    total["events"] = total.get("events", 0) + 1
    if doc.get("estimated"):
        total["estimated_cost_usd"] = total.get("estimated_cost_usd", 0) + doc["cost_usd"]
    chat_turn = doc["kind"] == "chat" and not doc.get("follow_up")
    total["turns"] = total.get("turns", 0) + (chat_turn or bool(doc.get("turn")))
    total["errors"] = total.get("errors", 0) + (doc["status"] == "error")
    total["rate_limited"] = total.get("rate_limited", 0) + (doc["status"] == "rate_limited")
    if doc["latency_ms"] is not None and doc["status"] == "ok":
        key = "latency_hist." + latency_bucket(doc["latency_ms"])
        total[key] = total.get(key, 0) + 1


def _to_row(doc: Document) -> DailyUsage:
    return DailyUsage(
        day=doc["day"],
        kind=doc["kind"],
        provider=doc.get("provider", ""),
        model=doc.get("model", ""),
        user_id=str(doc["user_id"]) if doc.get("user_id") else None,
        cost_usd=round(float(doc.get("cost_usd", 0.0)), 8),
        estimated_cost_usd=round(float(doc.get("estimated_cost_usd", 0.0)), 8),
        events=int(doc.get("events", 0)),
        errors=int(doc.get("errors", 0)),
        rate_limited=int(doc.get("rate_limited", 0)),
        input_tokens=int(doc.get("input_tokens", 0)),
        output_tokens=int(doc.get("output_tokens", 0)),
        audio_seconds=float(doc.get("audio_seconds", 0.0)),
        characters=int(doc.get("characters", 0)),
        turns=int(doc.get("turns", 0)),
        latency_hist={k: int(v) for k, v in (doc.get("latency_hist") or {}).items()},
    )


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
        turn=bool(doc.get("turn", False)),
        follow_up=bool(doc.get("follow_up", False)),
        estimated=bool(doc.get("estimated", False)),
    )


def record_conversation_started(db: Database, *, owner_id: ObjectId, when: datetime) -> None:
    """Count a new conversation in the per-day rollup the dashboard reads."""
    day = when.strftime("%Y-%m-%d")
    db.run(
        lambda raw: raw.conversations_daily.update_one(
            {"day": day, "user_id": owner_id}, {"$inc": {"conversations": 1}}, upsert=True
        )
    )


def conversations_started(db: Database, *, start: date, end: date, user_id: str | None = None) -> int:
    """How many conversations were started on days ``start``..``end`` (by one user, if given)."""
    query: Document = {"day": {"$gte": start.isoformat(), "$lte": end.isoformat()}}
    if user_id is not None:
        query["user_id"] = parse_id(user_id)
    return sum(
        int(d.get("conversations", 0)) for d in db.run(lambda raw: list(raw.conversations_daily.find(query)))
    )
