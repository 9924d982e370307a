"""The usage report against independently computed sums of the seeded events."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

import pytest

from tests.fakes.openai_server import FakeOpenAI
from voicechat.config import Settings
from voicechat.dashboard import build_report, shutdown_warnings
from voicechat.errors import NotAllowed
from voicechat.models import TurnMetrics, UsageEvent, User
from voicechat.providers.openai.client import make_client, reported_shutdown_dates
from voicechat.storage.store import Store
from voicechat.usage import histogram_percentile, latency_bucket

KIND_MODEL = {
    "chat": ("openai", "gpt-6-luna"),
    "stt": ("openai", "stt-model"),
    "tts": ("elevenlabs", "tts-model"),
    "realtime": ("openai", "realtime-model"),
}


def seed(store: Store, rng: random.Random) -> tuple[list[str], list[UsageEvent]]:
    users = [store.users.get_or_create(email=f"user{i}@example.com", name=f"U{i}").id for i in range(3)]
    base = datetime(2026, 11, 1, 12, tzinfo=UTC)
    events = []
    for _ in range(300):
        kind = rng.choice(list(KIND_MODEL))
        provider, model = KIND_MODEL[kind]
        events.append(
            UsageEvent(
                user_id=rng.choice(users),
                kind=kind,
                provider=provider,
                model=model,  # type: ignore[arg-type]
                status=rng.choice(["ok", "ok", "ok", "error", "rate_limited"]),
                input_tokens=rng.randint(0, 500),
                output_tokens=rng.randint(0, 300),
                audio_seconds=round(rng.random() * 30, 3) if kind != "chat" else 0.0,
                cost_usd=round(rng.random() / 100, 6),
                latency_ms=rng.choice([80.0, 350.0, 900.0, 4000.0, None]),
                turn=kind == "realtime" and rng.random() < 0.7,
                created_at=base + timedelta(days=rng.randint(0, 9), minutes=rng.randint(0, 600)),
            )
        )
    store.usage.record_many(events[:150])
    for event in events[150:]:
        store.usage.record(event)
    return users, events


def admin(store: Store) -> User:
    return store.users.get_or_create(email="admin@example.com", name="Admin", admin=True)


def in_range(event: UsageEvent, start: date, end: date) -> bool:
    assert event.created_at is not None
    return start <= event.created_at.date() <= end


@pytest.mark.parametrize("filtered", [False, True])
def test_report_figures_equal_sums_of_the_events(store: Store, filtered: bool) -> None:
    users, events = seed(store, random.Random(3))
    start, end = date(2026, 11, 3), date(2026, 11, 7)
    user_id = users[1] if filtered else None
    chosen = [e for e in events if in_range(e, start, end) and (user_id is None or e.user_id == user_id)]
    report = build_report(store, acting=admin(store), start=start, end=end, user_id=user_id)
    head = report.headline
    assert head.cost_usd == pytest.approx(sum(e.cost_usd for e in chosen))
    assert head.tokens == sum(e.input_tokens + e.output_tokens for e in chosen)
    # A realtime event is a turn when it answers the user (not a greeting or idle call time).
    assert head.turns == sum(1 for e in chosen if e.kind == "chat" or e.turn)
    assert head.active_users == len({e.user_id for e in chosen})
    assert head.audio_minutes_in == pytest.approx(
        sum(e.audio_seconds for e in chosen if e.kind == "stt") / 60, abs=0.01
    )
    assert head.audio_minutes_out == pytest.approx(
        sum(e.audio_seconds for e in chosen if e.kind in ("tts", "realtime")) / 60, abs=0.01
    )
    by_kind: dict[tuple[str, str], float] = {}
    for e in chosen:
        assert e.created_at is not None
        key = (e.created_at.strftime("%Y-%m-%d"), e.kind)
        by_kind[key] = by_kind.get(key, 0.0) + e.cost_usd
    assert {(d, k): pytest.approx(c) for d, k, c in report.cost_by_day_kind} == by_kind
    top = report.per_user[0]
    assert top.cost_usd == pytest.approx(
        max(sum(e.cost_usd for e in chosen if e.user_id == u) for u in {e.user_id for e in chosen})
    )
    assert [u.cost_usd for u in report.per_user] == sorted(
        (u.cost_usd for u in report.per_user), reverse=True
    )
    health = {p.provider: (p.calls, p.errors, p.rate_limited) for p in report.providers}
    for provider in ("openai", "elevenlabs"):
        mine = [e for e in chosen if e.provider == provider]
        expected = (
            len(mine),
            sum(e.status == "error" for e in mine),
            sum(e.status == "rate_limited" for e in mine),
        )
        assert health.get(provider, (0, 0, 0)) == expected
    day = "2026-11-05"
    ok_chat = sorted(
        e.latency_ms or 0
        for e in chosen
        if e.kind == "chat" and e.status == "ok" and e.created_at and e.created_at.strftime("%Y-%m-%d") == day
    )
    row = next((r for r in report.latency if r.day == day and r.metric == "LLM first token"), None)
    if ok_chat:
        assert row is not None and row.samples == len(ok_chat)
        assert row.p95_ms == float(latency_bucket(ok_chat[max(0, -(-95 * len(ok_chat) // 100) - 1)])[2:])


def test_conversations_started_are_counted(store: Store) -> None:
    user = store.users.get_or_create(email="c@example.com", name="C")
    for _ in range(3):
        store.conversations.create(owner_id=user.id, title="t")
    today = datetime.now(UTC).date()
    assert build_report(store, acting=admin(store), start=today, end=today).headline.conversations == 3
    assert (
        build_report(
            store, acting=admin(store), start=today, end=today, user_id=user.id
        ).headline.conversations
        == 3
    )
    other = store.users.get_or_create(email="d@example.com", name="D")
    assert (
        build_report(
            store, acting=admin(store), start=today, end=today, user_id=other.id
        ).headline.conversations
        == 0
    )


def test_talk_turns_end_of_turn_wait_and_voice_to_voice_are_charted_per_day(store: Store) -> None:
    quick, slow = (
        store.users.get_or_create(email=f"{name}@example.com", name=name).id for name in ("quick", "slow")
    )
    day = datetime(2026, 11, 3, 9, tzinfo=UTC)
    for end_of_turn in (180, 220, 260):
        store.turn_latency.record(
            TurnMetrics(end_of_turn_ms=end_of_turn, voice_to_voice_ms=900), user_id=quick, at=day
        )
    store.turn_latency.record(TurnMetrics(end_of_turn_ms=1216, voice_to_voice_ms=None), user_id=slow, at=day)
    store.turn_latency.record(TurnMetrics(stt_ms=300), user_id=slow, at=day)  # not a Talk turn: not counted

    def rows(user_id: str | None) -> dict[str, tuple[float | None, int]]:
        report = build_report(store, acting=admin(store), start=day.date(), end=day.date(), user_id=user_id)
        return {r.metric: (r.p50_ms, r.samples) for r in report.latency if r.day == "2026-11-03"}

    def percentile(samples: list[float]) -> float | None:
        histogram: dict[str, int] = {}
        for ms in samples:
            histogram[latency_bucket(ms)] = histogram.get(latency_bucket(ms), 0) + 1
        return histogram_percentile(histogram, 0.5)

    assert rows(None) == {
        "End of turn (Talk)": (percentile([180, 220, 260, 1216]), 4),
        "Voice-to-voice (Talk)": (percentile([900, 900, 900]), 3),
    }
    assert rows(slow) == {"End of turn (Talk)": (percentile([1216]), 1)}


def test_histogram_percentiles() -> None:
    hist: dict[str, int] = {}
    for ms in [10, 60, 120, 120, 180, 450, 450, 450, 2500, 40000]:
        key = latency_bucket(ms)
        hist[key] = hist.get(key, 0) + 1
    assert histogram_percentile(hist, 0.5) == 200
    assert histogram_percentile(hist, 0.9) == 3000
    assert histogram_percentile(hist, 1.0) == float("inf")
    assert histogram_percentile({}, 0.5) is None


def test_shutdown_warnings_prefer_the_providers_dates(settings: Settings, fake_openai: FakeOpenAI) -> None:
    fake_openai.shutdown_dates = {"gpt-6-luna": "2027-01-10"}
    try:
        reported = reported_shutdown_dates(make_client(settings))
    finally:
        fake_openai.shutdown_dates = {}
    assert reported == {"gpt-6-luna": "2027-01-10"}
    today = date(2026, 11, 24)
    warnings = shutdown_warnings(["gpt-6-luna", "gpt-4o-mini", "gpt-6.1-sol"], today=today, reported=reported)
    assert warnings == [("gpt-6-luna", "2027-01-10", 47), ("gpt-4o-mini", "2027-01-14", 51)]
    assert shutdown_warnings(["gpt-4o-mini"], today=date(2026, 10, 1)) == []


def test_only_admins_get_the_report_or_the_people(store: Store) -> None:
    user = store.users.get_or_create(email="e@example.com", name="E")
    today = datetime.now(UTC).date()
    with pytest.raises(NotAllowed):
        build_report(store, acting=user, start=today, end=today)
    with pytest.raises(NotAllowed):
        store.users.list_all(acting=user)
    assert [u.email for u in store.users.list_all(acting=admin(store))] == [
        "admin@example.com",
        "e@example.com",
    ]
