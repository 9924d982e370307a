"""Who may do how much: rate limits per user (voice and text turns), per client address for signed-out use,
a monthly cost budget per subscription tier, and how many calls one person may have open at once.

Counting uses the ``limits`` library with moving windows: in Redis when ``REDIS_URL`` is set (shared by every
app process, atomic across them), in memory otherwise (one process). A refusal raises ``Refused`` with when
to try again, and is recorded for the dashboard. Budgets are read from the usage rollups (cost is fixed when
each usage event is written), so a user over budget is refused until the first day of next month.

A call (Talk mode) is admitted once, when it starts (``CallQuota``): the budget, one voice turn (its greeting
is spoken by then) and a slot among the person's open calls, counted in Redis as a set of calls that each
lapse unless the call renews it, so a crashed process's calls stop counting by themselves.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Literal, TypeVar

import redis
from limits import RateLimitItem, parse
from limits.errors import StorageError
from limits.storage import MemoryStorage, RedisStorage, Storage
from limits.strategies import MovingWindowRateLimiter

from voicechat import defaults
from voicechat.config import Settings
from voicechat.errors import Refused
from voicechat.models import User
from voicechat.storage.outage import OutageTracker
from voicechat.storage.store import Store

log = logging.getLogger(__name__)
Action = Literal["voice", "text"]
T = TypeVar("T")
NOUNS = {"voice": "voice turns", "text": "messages", "address": "requests from your address"}
# Forget the calls that lapsed, then add (or renew) this one if it fits: atomic, on Redis's own clock (the
# app processes' clocks may differ). KEYS[1]: the person's calls; ARGV: call id, lifetime in ms, limit (0 to
# renew, whatever the count).
TAKE_SLOT = """
local now = redis.call('TIME')
local ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ms)
local limit = tonumber(ARGV[3])
if limit > 0 and not redis.call('ZSCORE', KEYS[1], ARGV[1]) and redis.call('ZCARD', KEYS[1]) >= limit then
  return 0
end
redis.call('ZADD', KEYS[1], ms + tonumber(ARGV[2]), ARGV[1])
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
redis.call('PEXPIREAT', KEYS[1], last[2])  -- the set goes when its last call would lapse
return 1
"""


def limit_storage(settings: Settings) -> Storage:
    """Redis (shared by all processes) when configured, else this process's memory."""
    if settings.redis_url:
        return RedisStorage(
            settings.redis_url,
            key_prefix="voicechat-limits",
            wrap_exceptions=True,  # every Redis failure arrives as limits' StorageError
            socket_timeout=defaults.REDIS_SOCKET_TIMEOUT_SECONDS,
            socket_connect_timeout=defaults.REDIS_SOCKET_TIMEOUT_SECONDS,
        )
    return MemoryStorage()


class FailoverLimiter:
    """Moving-window counting in the shared storage, and in this process's memory while that is unreachable.

    When Redis stops answering, turns are still admitted and refused, counted per process (so the limits hold
    for each process, not for the site) with a warning in the log; Redis is tried again after
    ``retry_after`` seconds and used as soon as it answers. ``degraded`` tells the dashboard.
    """

    def __init__(self, shared: Storage, *, retry_after: float = defaults.REDIS_RETRY_AFTER_SECONDS) -> None:
        self._storage = shared
        self._shared = MovingWindowRateLimiter(shared)
        self._local = MovingWindowRateLimiter(MemoryStorage())
        self._outage = OutageTracker(
            "rate-limit storage", meanwhile="counting in this process", log=log, retry_after=retry_after
        )

    @property
    def degraded(self) -> bool:
        """True while counting falls back to this process's memory."""
        return self._outage.down

    def test(self, item: RateLimitItem, *key: str) -> bool:
        """Whether one more hit fits (nothing is counted)."""
        return self._run(lambda limiter: limiter.test(item, *key))

    def hit(self, item: RateLimitItem, *key: str) -> bool:
        """Count one hit; False when it does not fit."""
        return self._run(lambda limiter: limiter.hit(item, *key))

    def reset_time(self, item: RateLimitItem, *key: str) -> float:
        """When the window frees a slot again (epoch seconds)."""
        return self._run(lambda limiter: limiter.get_window_stats(item, *key).reset_time)

    def close(self) -> None:
        """Release the shared storage's connections (its Redis client, if it has one)."""
        client = getattr(self._storage, "storage", None)  # limits' RedisStorage keeps its client here
        if client is not None and callable(getattr(client, "close", None)):
            client.close()

    def _run(self, call: Callable[[MovingWindowRateLimiter], T]) -> T:
        return failover(self._outage, lambda: call(self._shared), lambda: call(self._local), StorageError)


def failover(
    outage: OutageTracker, shared: Callable[[], T], local: Callable[[], T], error: type[Exception]
) -> T:
    """``shared()`` unless the shared storage is down (or raises ``error`` now: then it is down), else
    ``local()``: how every counter here works on through a Redis outage."""
    if outage.should_try():
        try:
            result = shared()
        except error as exc:
            outage.failed(exc)
        else:
            outage.succeeded()
            return result
    return local()


class CallSlots:
    """Each person's open calls, shared by every app process through Redis (when given one), else, and
    while it is unreachable, in this process's memory. A call's slot lapses ``ttl`` seconds after it was
    taken or last renewed. Thread-safe."""

    KEY_PREFIX = "voicechat:calls:"

    def __init__(
        self,
        client: redis.Redis | None,
        *,
        ttl: float = defaults.CALL_SLOT_TTL_SECONDS,
        retry_after: float = defaults.REDIS_RETRY_AFTER_SECONDS,
    ) -> None:
        self._client = client
        self._ttl = ttl
        self._take = client.register_script(TAKE_SLOT) if client is not None else None
        self._local: dict[str, dict[str, float]] = {}  # user id -> call id -> when it lapses (monotonic)
        self._lock = threading.Lock()
        self._outage = OutageTracker(
            "call-count storage", meanwhile="counting calls in this process", log=log, retry_after=retry_after
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> CallSlots:
        """On the deployment's Redis, with short timeouts, or in memory without one."""
        if not settings.redis_url:
            return cls(None)
        return cls(
            redis.Redis.from_url(
                settings.redis_url,
                socket_timeout=defaults.REDIS_SOCKET_TIMEOUT_SECONDS,
                socket_connect_timeout=defaults.REDIS_SOCKET_TIMEOUT_SECONDS,
            )
        )

    def take(self, user_id: str, call_id: str, *, limit: int) -> bool:
        """Count call ``call_id`` among ``user_id``'s open calls if fewer than ``limit`` are open."""
        return self._run(user_id, call_id, limit)

    def renew(self, user_id: str, call_id: str) -> None:
        """The call is still on: its slot lasts another ``ttl`` seconds."""
        self._run(user_id, call_id, 0)

    def release(self, user_id: str, call_id: str) -> None:
        """The call ended: its slot is free at once."""
        with self._lock:
            self._local.get(user_id, {}).pop(call_id, None)
        client = self._client
        if client is not None:
            failover(
                self._outage,
                lambda: client.zrem(self.KEY_PREFIX + user_id, call_id),
                lambda: 0,
                redis.RedisError,
            )

    def close(self) -> None:
        """Release the Redis connections, if any."""
        if self._client is not None:
            self._client.close()

    def _run(self, user_id: str, call_id: str, limit: int) -> bool:
        take = self._take
        if take is None:
            return self._take_local(user_id, call_id, limit)
        key, ttl_ms = self.KEY_PREFIX + user_id, int(self._ttl * 1000)
        return failover(
            self._outage,
            lambda: bool(take(keys=[key], args=[call_id, ttl_ms, limit])),
            lambda: self._take_local(user_id, call_id, limit),
            redis.RedisError,
        )

    def _take_local(self, user_id: str, call_id: str, limit: int) -> bool:
        now = time.monotonic()
        with self._lock:
            calls = {c: until for c, until in self._local.get(user_id, {}).items() if until > now}
            if limit and call_id not in calls and len(calls) >= limit:
                return False
            calls[call_id] = now + self._ttl
            self._local[user_id] = calls
            return True


class Quotas:
    """Admits or refuses each turn. Thread-safe; one per process (the storage is the shared part)."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        *,
        storage: Storage | None = None,
        calls: CallSlots | None = None,
    ) -> None:
        self._store = store
        self._limiter = FailoverLimiter(storage or limit_storage(settings))
        self._calls = calls or CallSlots.from_settings(settings)
        self._max_calls = settings.max_calls_per_user
        self._per_user: dict[Action, RateLimitItem] = {
            "voice": parse(settings.voice_rate_limit),
            "text": parse(settings.text_rate_limit),
        }
        self._per_address = parse(settings.address_rate_limit)
        self._budgets = dict(settings.monthly_budgets)

    @property
    def degraded(self) -> bool:
        """True while the shared counter store (Redis) is unreachable and limits count per process."""
        return self._limiter.degraded

    def close(self) -> None:
        """Release connections; the limiter is not used afterwards."""
        self._limiter.close()
        self._calls.close()

    def for_call(self, user: User, *, client_address: str | None = None) -> CallQuota:
        """The limits of one new call by ``user`` (nothing is counted until it ``begin``s)."""
        return CallQuota(self, user, client_address=client_address)

    def check_budget(self, user: User, *, pending_usd: float = 0.0, now: datetime | None = None) -> None:
        """Raise ``Refused`` when this month's spending, plus ``pending_usd`` not billed yet, reaches the
        user's budget (nothing is counted)."""
        self._check_budget(user, now or datetime.now(UTC), pending_usd)

    def admit(
        self, user: User, action: Action, *, client_address: str | None = None, now: datetime | None = None
    ) -> None:
        """Count one ``action`` by ``user`` or raise ``Refused``. ``client_address`` is given for signed-out
        use (every browser is the one local user, so the address tells them apart)."""
        now = now or datetime.now(UTC)
        self._check_budget(user, now)
        self._count(user, action, client_address, now)

    def would_admit(self, user: User, action: Action, *, client_address: str | None = None) -> bool:
        """Whether one more ``action`` would be admitted now: nothing is counted or recorded (a call asks
        before it drafts a reply it may not give)."""
        budget = self._budgets.get(user.tier)
        if budget is not None:
            today = datetime.now(UTC).date()
            rows = self._store.usage.daily_by_user(start=today.replace(day=1), end=today, user_id=user.id)
            if sum(row.cost_usd for row in rows) >= budget:
                return False
        keys: list[tuple[RateLimitItem, tuple[str, ...]]] = [(self._per_user[action], (action, user.id))]
        if client_address:
            keys.append((self._per_address, ("address", client_address)))
        return all(self._limiter.test(item, *key) for item, key in keys)

    def admit_call(
        self, user: User, call_id: str, *, client_address: str | None = None, now: datetime | None = None
    ) -> None:
        """Admit a new call or raise ``Refused``: within the budget, one voice turn (the greeting is spoken
        by then) and a slot among the person's open calls (held until ``end_call``, or until it lapses
        without ``renew_call``)."""
        now = now or datetime.now(UTC)
        self._check_budget(user, now)
        if not self._calls.take(user.id, call_id, limit=self._max_calls):
            self._record(user, "calls")
            raise Refused(
                f"You already have {self._max_calls} calls open, the most one person may have at once. "
                "End one of them (or close its tab) to start another.",
                reason="calls",
                retry_at=now + timedelta(seconds=defaults.CALL_SLOT_TTL_SECONDS),
            )
        try:
            self._count(user, "voice", client_address, now)
        except Refused:
            self._calls.release(user.id, call_id)
            raise

    def renew_call(self, user: User, call_id: str) -> None:
        """The call is still on: it keeps its slot among the person's open calls."""
        self._calls.renew(user.id, call_id)

    def end_call(self, user: User, call_id: str) -> None:
        """The call ended: its slot is free."""
        self._calls.release(user.id, call_id)

    def _count(self, user: User, action: Action, client_address: str | None, now: datetime) -> None:
        checks: list[tuple[str, RateLimitItem, tuple[str, ...]]] = [
            (action, self._per_user[action], (action, user.id))
        ]
        if client_address:
            checks.append(("address", self._per_address, ("address", client_address)))
        for reason, item, key in checks:  # test all first, so one refusal does not use up another quota
            if not self._limiter.test(item, *key):
                self._refuse(user, reason, item, key, now)
        for reason, item, key in checks:
            if not self._limiter.hit(item, *key):  # another process took the last slot meanwhile
                self._refuse(user, reason, item, key, now)

    def _refuse(
        self, user: User, reason: str, item: RateLimitItem, key: tuple[str, ...], now: datetime
    ) -> None:
        reset = datetime.fromtimestamp(self._limiter.reset_time(item, *key), UTC)
        wait = max(1, int((reset - now).total_seconds()) + 1)
        message = (
            f"You have reached the limit of {item.amount} {NOUNS[reason]} per "
            f"{_window(item)}. You can try again in {_duration(wait)} (at {reset:%H:%M} UTC)."
        )
        self._record(user, reason)
        raise Refused(message, reason=reason, retry_at=reset)

    def _check_budget(self, user: User, now: datetime, pending_usd: float = 0.0) -> None:
        budget = self._budgets.get(user.tier)
        if budget is None:
            return
        first = now.date().replace(day=1)
        rows = self._store.usage.daily_by_user(start=first, end=now.date(), user_id=user.id)
        spent = sum(row.cost_usd for row in rows) + pending_usd
        if spent < budget:
            return
        resets = date(first.year + first.month // 12, first.month % 12 + 1, 1)
        self._record(user, "budget")
        raise Refused(
            f"This month's usage budget for your plan ({user.tier}: ${budget:.2f}) has been used up. "
            f"It renews on {resets:%d %B %Y}; an administrator can raise it.",
            reason="budget",
            retry_at=datetime(resets.year, resets.month, resets.day, tzinfo=UTC),
        )

    def _record(self, user: User, reason: str) -> None:
        log.info("refused user=%s reason=%s", user.id, reason)
        self._store.refusals.record(user_id=user.id, reason=reason)


class CallQuota:
    """One call's limits, for the call itself (``TalkSession``): admitted when it begins, its slot kept while
    it runs, the budget checked again for engines billed by the minute, its slot freed when it ends."""

    def __init__(self, quotas: Quotas, user: User, *, client_address: str | None = None) -> None:
        self._quotas = quotas
        self._user = user
        self._client_address = client_address
        self.call_id = uuid.uuid4().hex
        self._lock = threading.Lock()  # a renewal in flight never puts back a slot just freed
        self._ended = False

    def begin(self) -> None:
        """Admit the call or raise ``Refused`` (see ``Quotas.admit_call``)."""
        self._quotas.admit_call(self._user, self.call_id, client_address=self._client_address)

    def renew(self) -> None:
        """Keep the call's slot among the person's open calls (nothing once it ended)."""
        with self._lock:
            if not self._ended:
                self._quotas.renew_call(self._user, self.call_id)

    def would_admit_turn(self) -> bool:
        """Whether the call's next voice turn would be admitted (nothing counted)."""
        return self._quotas.would_admit(self._user, "voice", client_address=self._client_address)

    def check_budget(self, *, pending_usd: float = 0.0) -> None:
        """Raise ``Refused`` once the budget is spent, with ``pending_usd`` the call has not billed yet."""
        self._quotas.check_budget(self._user, pending_usd=pending_usd)

    def end(self) -> None:
        """Free the call's slot (idempotent)."""
        with self._lock:
            self._ended = True
            self._quotas.end_call(self._user, self.call_id)


def _window(item: RateLimitItem) -> str:
    unit = item.GRANULARITY.name
    return unit if item.multiples == 1 else f"{item.multiples} {unit}s"


def _duration(seconds: int) -> str:
    if seconds < 90:
        return f"{seconds} seconds"
    return f"{round(seconds / 60)} minutes"
