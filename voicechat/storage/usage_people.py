"""Each day's per-person usage totals in one small document, so the dashboard's people table reads about 30
documents a month instead of one per day, person, kind and model (about 6,000 at 1M events, ~450 ms here).

``usage_daily_people`` holds ``{day, people: {<user id>: {cost_usd, events, tokens, audio_seconds, errors}}}``
(``$inc``ed with the other rollups on every usage write). Model rows (``usage_daily``) created since carry
``people_complete``; a day with a model row lacking it had events before this collection existed, so it is
folded from the per-user rollup (``usage_daily_users``) instead, and once the day is settled (no more events
expected) that fold is written back, so the next read of the day is fast.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from bson import ObjectId
from pymongo import UpdateMany, UpdateOne

from voicechat import defaults
from voicechat.models import DailyUsage
from voicechat.storage.database import Database, Document

COMPLETE = "people_complete"  # on a model row: its day's people document counts it
_SHAPE_DAYS_AT_ONCE = 31  # days of per-user rows folded in one read when shaping all of them
_USER_FIELDS = {
    "cost_usd": 1,
    "events": 1,
    "input_tokens": 1,
    "output_tokens": 1,
    "audio_seconds": 1,
    "errors": 1,
}


@dataclass(frozen=True)
class PersonTotals:
    """One person's usage over a date range (a row of the dashboard's per-user table)."""

    cost_usd: float
    calls: int
    tokens: int
    audio_minutes: float
    errors: int


def people_ops(by_user: dict[tuple[str, ObjectId, str, str, str], Document]) -> list[UpdateOne]:
    """One ``$inc`` upsert per day adding per-user rollup increments (keyed day, user, kind, provider,
    model) to that day's people document."""
    by_day: dict[str, Document] = {}
    for (day, user, *_), inc in by_user.items():
        into = by_day.setdefault(day, {})
        for name, value in _person(inc).items():
            key = f"people.{user}.{name}"
            into[key] = into.get(key, 0) + value
    return [UpdateOne({"day": day}, {"$inc": inc}, upsert=True) for day, inc in by_day.items()]


def totals_from_rows(rows: Iterable[DailyUsage]) -> dict[str, PersonTotals]:
    """Per-person totals folded from per-user rollup rows (one user's report)."""
    sums = _Sums()
    for row in rows:
        figures = {
            "cost_usd": row.cost_usd,
            "events": row.events,
            "tokens": row.input_tokens + row.output_tokens,
            "audio_seconds": row.audio_seconds,
            "errors": row.errors,
        }
        sums.add(row.user_id or "", figures)
    return sums.totals()


def people_totals(
    db: Database, model_docs: list[Document], *, start: date, end: date, today: date | None = None
) -> dict[str, PersonTotals]:
    """Everyone's totals over days ``start``..``end``, given that range's model-rollup documents.

    Reads the range's people documents; days with a model row older than them are folded from the per-user
    rollup instead (the whole day, so nothing counts twice), and settled ones are shaped for next time."""
    legacy_days = sorted({doc["day"] for doc in model_docs if not doc.get(COMPLETE)})
    legacy = set(legacy_days)
    query = {"day": {"$gte": start.isoformat(), "$lte": end.isoformat()}}
    sums = _Sums()
    for doc in db.run(lambda raw: list(raw.usage_daily_people.find(query, {"_id": 0}))):
        if doc["day"] not in legacy:
            for user_hex, person in (doc.get("people") or {}).items():
                sums.add(user_hex, person)
    if legacy_days:
        folded = _fold_user_rollup(db, legacy_days)
        for people in folded.values():
            for user_hex, person in people.items():
                sums.add(user_hex, person)
        cutoff = _settled_before(today)
        _shape(db, {day: people for day, people in folded.items() if day < cutoff})
    return sums.totals()


def shape_settled_days(db: Database, *, today: date | None = None) -> int:
    """Write the people documents of every settled day with model rows older than them; returns how many.

    The dashboard does this for the days it shows; this does all of them (e.g. once at start-up)."""
    query = {"day": {"$lt": _settled_before(today)}, COMPLETE: {"$exists": False}}
    days = sorted(set(db.run(lambda raw: raw.usage_daily.distinct("day", query))))
    for first in range(0, len(days), _SHAPE_DAYS_AT_ONCE):
        _shape(db, _fold_user_rollup(db, days[first : first + _SHAPE_DAYS_AT_ONCE]))
    return len(days)


def _person(inc: Document) -> Document:
    return {
        "cost_usd": inc.get("cost_usd", 0.0),
        "events": inc.get("events", 0),
        "tokens": inc.get("input_tokens", 0) + inc.get("output_tokens", 0),
        "audio_seconds": inc.get("audio_seconds", 0.0),
        "errors": inc.get("errors", 0),
    }


def _settled_before(today: date | None) -> str:
    """Days before this one (YYYY-MM-DD) get no more events."""
    settled = (today or datetime.now(UTC).date()) - timedelta(days=defaults.USAGE_SETTLED_AFTER_DAYS)
    return settled.isoformat()


def _fold_user_rollup(db: Database, days: list[str]) -> dict[str, dict[str, Document]]:
    """day -> user id -> that person's figures for the day, from the per-user rollup rows of ``days``."""
    projection = {"_id": 0, "day": 1, "user_id": 1, **_USER_FIELDS}
    query = {"day": {"$gte": days[0], "$lte": days[-1]}}
    wanted = set(days)
    folded: dict[str, dict[str, Document]] = {day: {} for day in days}
    for doc in db.run(lambda raw: list(raw.usage_daily_users.find(query, projection))):
        if doc["day"] not in wanted:
            continue
        into = folded[doc["day"]].setdefault(str(doc["user_id"]), {})
        for name, value in _person(doc).items():
            into[name] = into.get(name, 0) + value
    return folded


def _shape(db: Database, folded: dict[str, dict[str, Document]]) -> None:
    """Store each day's folded people document, then mark the day's model rows as counted by it.

    Repeating it (two readers, or a crash in between) writes the same figures again."""
    if not folded:
        return
    people_writes = [
        UpdateOne({"day": day}, {"$set": {"people": people}}, upsert=True) for day, people in folded.items()
    ]
    db.run(lambda raw: raw.usage_daily_people.bulk_write(people_writes, ordered=False))
    marks = [
        UpdateMany({"day": day, COMPLETE: {"$exists": False}}, {"$set": {COMPLETE: True}}) for day in folded
    ]
    db.run(lambda raw: raw.usage_daily.bulk_write(marks, ordered=False))


class _Sums:
    """Running per-person sums, in the units and rounding of the per-user rollup rows."""

    def __init__(self) -> None:
        self._by_user: dict[str, list[float]] = {}

    def add(self, user_hex: str, figures: Document) -> None:
        """Add one person's ``cost_usd``, ``events``, ``tokens``, ``audio_seconds`` and ``errors``."""
        total = self._by_user.setdefault(user_hex, [0.0, 0, 0, 0.0, 0])
        total[0] += round(float(figures.get("cost_usd", 0.0)), 8)
        total[1] += int(figures.get("events", 0))
        total[2] += int(figures.get("tokens", 0))
        total[3] += float(figures.get("audio_seconds", 0.0)) / 60
        total[4] += int(figures.get("errors", 0))

    def totals(self) -> dict[str, PersonTotals]:
        """The sums, rounded as the dashboard shows them."""
        return {
            user_hex: PersonTotals(
                cost_usd=round(t[0], 6),
                calls=int(t[1]),
                tokens=int(t[2]),
                audio_minutes=round(t[3], 2),
                errors=int(t[4]),
            )
            for user_hex, t in self._by_user.items()
        }
