"""Rate limits and budgets: exact under bursts (threads in one process with memory storage; two processes
sharing one real Redis), a refusal says when to try again and is recorded, addresses are counted apart for
signed-out use, and a tier's monthly budget refuses once spent."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import redis

from tests.fakes.servers import RedisServer
from voicechat.config import Settings
from voicechat.errors import Refused
from voicechat.models import UsageEvent, User
from voicechat.quotas import Quotas
from voicechat.storage.store import Store

ROOT = Path(__file__).parents[2]
BURST_SCRIPT = """
import json, sys, time
from voicechat.config import Settings
from voicechat.errors import Refused
from voicechat.models import User
from voicechat.quotas import Quotas
from voicechat.storage.cache import MemoryContextCache
from voicechat.storage.database import Database
from voicechat.storage.store import Store

mongo_uri, redis_url, user_id, attempts = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
start_at = float(sys.argv[5])
settings = Settings.from_mapping({"REDIS_URL": redis_url, "VOICECHAT_VOICE_RATE_LIMIT": "25/15 minutes"})
db = Database.connect(mongo_uri)
quotas = Quotas(settings, Store.over(db, cache=MemoryContextCache(), context_size=10))
user = User(id=user_id, email="burst@example.com", name="Burst")
admitted = 0
time.sleep(max(0.0, start_at - time.time()))  # both processes start their burst at the same moment
for _ in range(attempts):
    try:
        quotas.admit(user, "voice")
        admitted += 1
    except Refused:
        pass
print(json.dumps({"admitted": admitted}))
"""


@pytest.fixture
def user(store: Store) -> User:
    return store.users.get_or_create(email=f"q{uuid.uuid4().hex[:6]}@example.com", name="Quota")


def test_a_burst_in_one_process_admits_exactly_the_limit(store: Store, user: User) -> None:
    quotas = Quotas(Settings.from_mapping({"VOICECHAT_VOICE_RATE_LIMIT": "50/15 minutes"}), store)

    def attempt(_: int) -> bool:
        try:
            quotas.admit(user, "voice")
        except Refused:
            return False
        return True

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(attempt, range(80)))
    assert sum(results) == 50
    with pytest.raises(Refused) as refused:
        quotas.admit(user, "voice")
    message = refused.value.user_message
    assert "50 voice turns per 15 minutes" in message and "try again in" in message
    assert refused.value.retry_at > datetime.now(UTC)
    quotas.admit(user, "text")  # another kind has its own count
    [row] = store.refusals.daily(start=date.today(), end=date.today())
    assert (row.reason, row.refusals, row.users) == ("voice", 31, 1)


def test_a_burst_from_two_processes_sharing_redis_admits_exactly_the_limit(
    store: Store, user: User, mongo_uri: str, redis_server: RedisServer
) -> None:
    user_id = user.id
    start_at = str(time.time() + 4)
    command = [sys.executable, "-c", BURST_SCRIPT, mongo_uri, redis_server.url, user_id, "30", start_at]
    processes = [subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [process.communicate(timeout=120)[0] for process in processes]
    assert all(process.returncode == 0 for process in processes), outputs
    admitted = [json.loads(out.strip().splitlines()[-1])["admitted"] for out in outputs]
    assert sum(admitted) == 25 and all(n > 0 for n in admitted), admitted
    [row] = store.refusals.daily(start=date.today(), end=date.today(), user_id=user_id)
    assert row.refusals == 35


def test_signed_out_addresses_are_counted_apart(store: Store, user: User) -> None:
    settings = Settings.from_mapping(
        {"VOICECHAT_ADDRESS_RATE_LIMIT": "2/minute", "VOICECHAT_TEXT_RATE_LIMIT": "100/minute"}
    )
    quotas = Quotas(settings, store)
    for _ in range(2):
        quotas.admit(user, "text", client_address="10.0.0.1")
    with pytest.raises(Refused) as refused:
        quotas.admit(user, "text", client_address="10.0.0.1")
    assert "2 requests from your address per minute" in refused.value.user_message
    quotas.admit(user, "text", client_address="10.0.0.2")


def test_a_spent_monthly_budget_refuses_until_next_month(store: Store, user: User) -> None:
    settings = Settings.from_mapping({"VOICECHAT_MONTHLY_BUDGETS": "default=1.50;pro=100"})
    quotas = Quotas(settings, store)
    now = datetime(2026, 11, 24, 12, tzinfo=UTC)
    store.usage.record(
        UsageEvent(user_id=user.id, kind="chat", provider="openai", model="m", cost_usd=1.0, created_at=now)
    )
    quotas.admit(user, "text", now=now)
    store.usage.record(
        UsageEvent(user_id=user.id, kind="chat", provider="openai", model="m", cost_usd=0.6, created_at=now)
    )
    with pytest.raises(Refused) as refused:
        quotas.admit(user, "text", now=now)
    assert refused.value.reason == "budget" and "01 December 2026" in refused.value.user_message
    assert refused.value.retry_at == datetime(2026, 12, 1, tzinfo=UTC)
    quotas.admit(replace(user, tier="pro"), "text", now=now)  # a bigger plan is still within budget
    quotas.admit(user, "text", now=datetime(2026, 12, 1, 0, 1, tzinfo=UTC))  # a new month


def test_bad_limit_settings_are_refused_by_name() -> None:
    from voicechat.config import SettingsError

    with pytest.raises(SettingsError, match="VOICECHAT_VOICE_RATE_LIMIT"):
        Settings.from_mapping({"VOICECHAT_VOICE_RATE_LIMIT": "lots"})


def test_limits_keep_working_when_redis_dies_mid_conversation_and_return_to_it(
    store: Store, user: User, caplog: pytest.LogCaptureFixture
) -> None:
    redis_server = RedisServer().start()
    settings = Settings.from_mapping({"REDIS_URL": redis_server.url, "VOICECHAT_TEXT_RATE_LIMIT": "5/minute"})
    quotas = Quotas(settings, store)
    try:
        for _ in range(2):
            quotas.admit(user, "text")
        assert not quotas.degraded

        redis_server.kill()  # mid-conversation
        started = time.monotonic()
        for _ in range(5):  # turns go on, counted in this process
            quotas.admit(user, "text")
        assert time.monotonic() - started < 5  # a dead Redis costs a short timeout, not a hang per turn
        assert quotas.degraded
        assert any("rate-limit storage unavailable" in r.getMessage() for r in caplog.records)
        with pytest.raises(Refused):
            quotas.admit(user, "text")  # the per-process count holds the limit: a 6th in this minute

        redis_server.start()  # back on the same port
        deadline = time.monotonic() + 15
        while quotas.degraded:  # retried after a moment; the first answer ends the fallback
            assert time.monotonic() < deadline, "never went back to Redis"
            with contextlib.suppress(Refused):
                quotas.admit(replace(user, id="0" * 24), "text")
        client = redis.Redis.from_url(redis_server.url)
        assert any(b"voicechat-limits" in key for key in client.keys("*"))
        client.close()
    finally:
        quotas.close()
        redis_server.kill()
