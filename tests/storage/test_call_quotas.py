"""A call is admitted like a call, not like a turn: how many one person may have open at once, counted across
processes in one real Redis (two ``Quotas`` on one redis-server, as two app processes have), in memory
without it, and through a Redis outage; a crashed process's calls lapse by themselves."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime

import pytest
import redis

from tests.fakes.servers import RedisServer
from voicechat.config import Settings, SettingsError
from voicechat.errors import Refused
from voicechat.models import UsageEvent, User
from voicechat.quotas import CallSlots, Quotas
from voicechat.storage.store import Store


@pytest.fixture
def user(store: Store) -> User:
    return store.users.get_or_create(email=f"c{uuid.uuid4().hex[:6]}@example.com", name="Caller")


@pytest.fixture
def two_processes(store: Store, redis_server: RedisServer) -> Iterator[tuple[Quotas, Quotas]]:
    """Two processes' limits on one Redis (each its own connections and memory)."""
    settings = Settings.from_mapping({"REDIS_URL": redis_server.url})
    both = Quotas(settings, store), Quotas(settings, store)
    yield both
    for quotas in both:
        quotas.close()


def test_a_third_call_of_one_person_on_two_processes_is_refused(
    two_processes: tuple[Quotas, Quotas], user: User, store: Store
) -> None:
    first, second = two_processes
    calls = [first.for_call(user), second.for_call(user), first.for_call(user)]
    calls[0].begin()
    calls[1].begin()
    with pytest.raises(Refused) as refused:
        calls[2].begin()
    assert refused.value.reason == "calls"
    assert "2 calls open" in refused.value.user_message
    first.for_call(replace(user, id="0" * 24)).begin()  # somebody else's calls are their own
    calls[1].end()  # ended on the other process: its slot is free everywhere
    calls[2].begin()
    today = date.today()
    [row] = store.refusals.daily(start=today, end=today, user_id=user.id)
    assert (row.reason, row.refusals) == ("calls", 1)


def test_the_count_is_a_setting(store: Store, user: User) -> None:
    quotas = Quotas(Settings.from_mapping({"VOICECHAT_MAX_CALLS_PER_USER": "1"}), store)
    quotas.for_call(user).begin()
    with pytest.raises(Refused):
        quotas.for_call(user).begin()


def test_without_redis_one_process_counts_in_memory(store: Store, user: User) -> None:
    quotas = Quotas(Settings(), store)
    calls = [quotas.for_call(user) for _ in range(3)]
    calls[0].begin()
    calls[1].begin()
    with pytest.raises(Refused):
        calls[2].begin()
    calls[0].end()
    calls[0].end()  # idempotent
    calls[2].begin()


def test_a_crashed_processs_calls_lapse_while_a_running_call_keeps_its_slot(
    store: Store, user: User, redis_server: RedisServer
) -> None:
    settings = Settings.from_mapping({"REDIS_URL": redis_server.url})
    client = redis.Redis.from_url(redis_server.url)
    key = CallSlots.KEY_PREFIX + user.id
    alive = Quotas(settings, store)
    crashed = Quotas(settings, store, calls=CallSlots(client, ttl=0.5))  # its call is never ended
    try:
        running = alive.for_call(user)
        running.begin()
        crashed.for_call(user).begin()
        waiting = alive.for_call(user)
        with pytest.raises(Refused):
            waiting.begin()
        deadline = time.monotonic() + 10
        while True:  # admitted once the crashed process's call has lapsed
            try:
                waiting.begin()
                break
            except Refused:
                assert time.monotonic() < deadline, "a crashed process's call never lapsed"
                time.sleep(0.05)
        assert client.zscore(key, running.call_id) is not None  # the running call still counts
    finally:
        crashed.close()
        alive.close()


def test_a_running_call_renews_its_slot_and_frees_it_when_it_ends(
    store: Store, user: User, redis_server: RedisServer
) -> None:
    settings = Settings.from_mapping({"REDIS_URL": redis_server.url})
    client = redis.Redis.from_url(redis_server.url)
    key = CallSlots.KEY_PREFIX + user.id
    quotas = Quotas(settings, store, calls=CallSlots(client, ttl=30))
    try:
        call = quotas.for_call(user)
        call.begin()
        lapses = client.zscore(key, call.call_id)
        assert lapses is not None
        deadline = time.monotonic() + 5
        while (client.zscore(key, call.call_id) or 0) <= lapses:  # each renewal is a new lifetime
            assert time.monotonic() < deadline, "renewing did not move the call's lapse"
            call.renew()
        assert client.pttl(key) > 29_000  # the set lives as long as its last call
        call.end()
        call.renew()  # a renewal after the end (one in flight) does not put it back
        assert client.zscore(key, call.call_id) is None
    finally:
        quotas.close()


def test_calls_are_counted_in_each_process_while_redis_is_down(
    store: Store, user: User, caplog: pytest.LogCaptureFixture
) -> None:
    server = RedisServer().start()
    quotas = Quotas(Settings.from_mapping({"REDIS_URL": server.url}), store)
    try:
        quotas.for_call(user).begin()
        server.kill()
        quotas.for_call(user).begin()  # counted in this process now
        quotas.for_call(user).begin()
        with pytest.raises(Refused):
            quotas.for_call(user).begin()
        assert any("call-count storage unavailable" in r.getMessage() for r in caplog.records)
    finally:
        quotas.close()
        server.kill()


def test_call_settings_are_read_and_bad_values_refused_by_name() -> None:
    values = {"VOICECHAT_MAX_CALLS_PER_USER": "3", "VOICECHAT_MAX_CALL_MINUTES": "30"}
    settings = Settings.from_mapping(values)
    assert (settings.max_calls_per_user, settings.max_call_minutes) == (3, 30)
    assert (Settings().max_calls_per_user, Settings().max_call_minutes) == (2, 60)
    with pytest.raises(SettingsError, match="VOICECHAT_MAX_CALL_MINUTES"):
        Settings.from_mapping({"VOICECHAT_MAX_CALL_MINUTES": "1"})  # no room for the minute's warning
    with pytest.raises(SettingsError, match="VOICECHAT_MAX_CALLS_PER_USER"):
        Settings.from_mapping({"VOICECHAT_MAX_CALLS_PER_USER": "0"})


def test_a_call_asks_whether_its_next_turn_would_be_admitted_without_counting_it(
    store: Store, settings: Settings, user: User
) -> None:
    # Asked before a call drafts a reply in the user's pause: a turn the limits will refuse gets no draft.
    quotas = Quotas(replace(settings, voice_rate_limit="2/15 minutes"), store)
    call = quotas.for_call(user)
    call.begin()  # counts one voice turn
    for _ in range(3):
        assert call.would_admit_turn()  # asking counts nothing
    quotas.admit(user, "voice")
    assert not call.would_admit_turn()
    assert not store.refusals.daily(start=date.today(), end=date.today(), user_id=user.id)  # not a refusal
    with pytest.raises(Refused):
        quotas.admit(user, "voice")

    budgeted = Quotas(replace(settings, monthly_budgets=(("default", 1.0),)), store)
    assert budgeted.would_admit(user, "text")
    store.usage.record(
        UsageEvent(
            user_id=user.id,
            kind="chat",
            provider="openai",
            model="m",
            cost_usd=1.0,
            created_at=datetime.now(UTC),
        )
    )
    assert not budgeted.would_admit(user, "text")
