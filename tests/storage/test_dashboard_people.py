"""The dashboard's people table from the per-day people rollup, and days written before it existed."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

import pytest

from tests.storage.test_dashboard import admin, in_range, seed
from voicechat.dashboard import UsageReport, build_report
from voicechat.models import UsageEvent
from voicechat.storage.store import Store
from voicechat.storage.usage_people import COMPLETE, shape_settled_days

START, END = date(2026, 11, 1), date(2026, 11, 10)


def report(store: Store, start: date = START, end: date = END) -> UsageReport:
    return build_report(store, acting=admin(store), start=start, end=end)


def people(report: UsageReport) -> dict[str, tuple[str, float, int, int, float, int]]:
    return {
        u.user_id: (u.email, u.cost_usd, u.calls, u.tokens, u.audio_minutes, u.errors)
        for u in report.per_user
    }


def assert_same_people(got: UsageReport, expected: UsageReport) -> None:
    assert got.headline == expected.headline
    mine, theirs = people(got), people(expected)
    assert mine.keys() == theirs.keys()
    for user_id, row in mine.items():
        email, cost, calls, tokens, audio, errors = theirs[user_id]
        close_cost, close_audio = pytest.approx(cost, abs=2e-6), pytest.approx(audio, abs=0.011)
        assert row == (email, close_cost, calls, tokens, close_audio, errors)


def make_legacy(store: Store) -> None:
    """Rollups as written before the people rollup: no per-day people documents, no marks on model rows."""
    store.db.run(lambda db: db.usage_daily_people.delete_many({}))
    store.db.run(lambda db: db.usage_daily.update_many({}, {"$unset": {COMPLETE: ""}}))


def drop_per_user_rows(store: Store) -> None:
    store.db.run(lambda db: db.usage_daily_users.delete_many({}))


def test_people_table_equals_sums_of_the_events(store: Store) -> None:
    users, events = seed(store, random.Random(5))
    start, end = date(2026, 11, 2), date(2026, 11, 8)
    chosen = [e for e in events if in_range(e, start, end)]
    got = report(store, start, end)
    expected = {
        user_id: (
            f"user{users.index(user_id)}@example.com",
            pytest.approx(sum(e.cost_usd for e in mine), abs=2e-6),
            len(mine),
            sum(e.input_tokens + e.output_tokens for e in mine),
            pytest.approx(sum(e.audio_seconds for e in mine) / 60, abs=0.011),
            sum(e.status == "error" for e in mine),
        )
        for user_id in users
        if (mine := [e for e in chosen if e.user_id == user_id])
    }
    assert people(got) == expected
    assert got.headline.active_users == len(expected)
    days = {e.created_at.strftime("%Y-%m-%d") for e in events if e.created_at}
    assert store.db.run(lambda db: db.usage_daily_people.count_documents({})) == len(days)  # one per day


def test_everyones_report_reads_no_per_user_rows(store: Store) -> None:
    seed(store, random.Random(6))
    before = report(store)
    drop_per_user_rows(store)
    assert report(store) == before


def test_days_written_before_the_people_rollup_are_folded_then_shaped(store: Store) -> None:
    seed(store, random.Random(7))
    expected = report(store)
    make_legacy(store)
    assert_same_people(report(store), expected)  # folded from the per-user rows...
    assert store.db.run(lambda db: db.usage_daily.count_documents({COMPLETE: {"$exists": False}})) == 0
    drop_per_user_rows(store)
    assert_same_people(report(store), expected)  # ...and written back: the per-user rows are no longer read


def test_a_day_still_receiving_events_is_folded_but_left_unshaped(store: Store) -> None:
    user = store.users.get_or_create(email="now@example.com", name="Now")
    now = datetime.now(UTC)

    def event(cost: float) -> UsageEvent:
        return UsageEvent(
            user_id=user.id, kind="chat", provider="openai", model="m", cost_usd=cost, created_at=now
        )

    store.usage.record_many([event(0.25), event(0.5)])
    make_legacy(store)
    store.usage.record(event(1.0))  # after the upgrade: the day's new people document holds this one only
    today = report(store, now.date(), now.date())
    assert [(u.email, u.cost_usd, u.calls) for u in today.per_user] == [("now@example.com", 1.75, 3)]
    assert store.db.run(lambda db: db.usage_daily.count_documents({COMPLETE: {"$exists": False}})) == 1
    assert shape_settled_days(store.db) == 0  # today is not settled
    tomorrow_but_two = now.date() + timedelta(days=3)
    assert shape_settled_days(store.db, today=tomorrow_but_two) == 1
    drop_per_user_rows(store)
    again = report(store, now.date(), now.date())
    assert [(u.email, u.cost_usd, u.calls) for u in again.per_user] == [("now@example.com", 1.75, 3)]


def test_shaping_every_settled_day_at_once(store: Store) -> None:
    seed(store, random.Random(8))
    expected = report(store)
    make_legacy(store)
    assert shape_settled_days(store.db) == 10
    assert shape_settled_days(store.db) == 0  # done once
    drop_per_user_rows(store)
    assert_same_people(report(store), expected)
