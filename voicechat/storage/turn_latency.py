"""How long Talk turns waited, per day: the end-of-turn wait and voice-to-voice, as latency histograms.

A Talk turn's latencies are stored on its reply; these daily rollups (per user, so the dashboard can narrow to
one) let the dashboard chart them next to the providers' latencies without reading messages.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from pymongo import UpdateOne

from voicechat.models import TurnMetrics
from voicechat.storage.database import Database, parse_id
from voicechat.usage import latency_bucket

# Stored metric -> the name the dashboard shows.
TURN_METRICS = {"end_of_turn_ms": "End of turn (Talk)", "voice_to_voice_ms": "Voice-to-voice (Talk)"}


class TurnLatencyRepository:
    """Folds each Talk turn's latencies into per-day, per-user histograms."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def record(self, metrics: TurnMetrics, *, user_id: str, at: datetime | None = None) -> None:
        """Count one turn's end-of-turn wait and voice-to-voice time (those it measured)."""
        inc = {
            f"hist.{name}.{latency_bucket(value)}": 1
            for name in TURN_METRICS
            if (value := getattr(metrics, name)) is not None
        }
        if not inc:
            return
        day = (at or datetime.now(UTC)).strftime("%Y-%m-%d")
        key = {"day": day, "user_id": parse_id(user_id)}
        self._db.run(
            lambda db: db.turn_latency_daily.bulk_write([UpdateOne(key, {"$inc": inc}, upsert=True)])
        )

    def daily(
        self, *, start: date, end: date, user_id: str | None = None
    ) -> dict[tuple[str, str], dict[str, int]]:
        """(day, metric name) -> histogram, for days ``start``..``end`` inclusive (one user's if given)."""
        query: dict[str, object] = {"day": {"$gte": start.isoformat(), "$lte": end.isoformat()}}
        if user_id is not None:
            query["user_id"] = parse_id(user_id)
        merged: dict[tuple[str, str], dict[str, int]] = {}
        for doc in self._db.run(lambda db: list(db.turn_latency_daily.find(query, {"_id": 0}))):
            for name, histogram in (doc.get("hist") or {}).items():
                if name not in TURN_METRICS:
                    continue
                into = merged.setdefault((doc["day"], TURN_METRICS[name]), {})
                for bucket, count in histogram.items():
                    into[bucket] = into.get(bucket, 0) + int(count)
        return merged
