"""Who may do how much: rate limits per user (voice and text turns), per client address for signed-out use,
and a monthly cost budget per subscription tier.

Counting uses the ``limits`` library with moving windows: in Redis when ``REDIS_URL`` is set (shared by every
app process, atomic across them), in memory otherwise (one process). A refusal raises ``Refused`` with when
to try again, and is recorded for the dashboard. Budgets are read from the usage rollups (cost is fixed when
each usage event is written), so a user over budget is refused until the first day of next month.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Literal, TypeVar

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
        if self._outage.should_try():
            try:
                result = call(self._shared)
            except StorageError as exc:
                self._outage.failed(exc)
            else:
                self._outage.succeeded()
                return result
        return call(self._local)


class Quotas:
    """Admits or refuses each turn. Thread-safe; one per process (the storage is the shared part)."""

    def __init__(self, settings: Settings, store: Store, *, storage: Storage | None = None) -> None:
        self._store = store
        self._limiter = FailoverLimiter(storage or limit_storage(settings))
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

    def admit(
        self, user: User, action: Action, *, client_address: str | None = None, now: datetime | None = None
    ) -> None:
        """Count one ``action`` by ``user`` or raise ``Refused``. ``client_address`` is given for signed-out
        use (every browser is the one local user, so the address tells them apart)."""
        now = now or datetime.now(UTC)
        self._check_budget(user, now)
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

    def _check_budget(self, user: User, now: datetime) -> None:
        budget = self._budgets.get(user.tier)
        if budget is None:
            return
        first = now.date().replace(day=1)
        rows = self._store.usage.daily_by_user(start=first, end=now.date(), user_id=user.id)
        spent = sum(row.cost_usd for row in rows)
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


def _window(item: RateLimitItem) -> str:
    unit = item.GRANULARITY.name
    return unit if item.multiples == 1 else f"{item.multiples} {unit}s"


def _duration(seconds: int) -> str:
    if seconds < 90:
        return f"{seconds} seconds"
    return f"{round(seconds / 60)} minutes"
