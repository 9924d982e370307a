"""Hot conversation context: the last N messages of a conversation, in Redis or in this process.

The cache is only ever a copy: each entry records the id of the conversation's newest message it contains
(its ``head``), and readers compare it with the conversation document from MongoDB, so an entry that missed a
write (Redis was down, another process wrote) is rebuilt instead of served stale.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Protocol

import redis

from voicechat import defaults
from voicechat.models import ContextMessage

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CachedContext:
    """The newest message id it includes, and the messages oldest first."""

    head_id: str | None
    messages: tuple[ContextMessage, ...]


class ContextCache(Protocol):
    """What the context store needs from a cache."""

    def get(self, conversation_id: str) -> CachedContext | None:
        """The cached context, or None on a miss (or when the cache is unavailable)."""

    def put(self, conversation_id: str, context: CachedContext) -> None:
        """Store (replace) the context with the configured TTL."""

    def delete(self, conversation_id: str) -> None:
        """Forget a conversation's context."""

    def close(self) -> None:
        """Release connections; the cache is not used afterwards."""


class MemoryContextCache:
    """An in-process cache with TTL and a size bound, used when ``REDIS_URL`` is unset. Thread-safe."""

    def __init__(
        self, *, ttl_seconds: float = defaults.CONTEXT_TTL_SECONDS, max_entries: int = 10_000
    ) -> None:
        self._ttl = ttl_seconds
        self._max = max_entries
        self._entries: OrderedDict[str, tuple[float, CachedContext]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, conversation_id: str) -> CachedContext | None:
        """See ``ContextCache.get``."""
        with self._lock:
            entry = self._entries.get(conversation_id)
            if entry is None:
                return None
            expires, context = entry
            if expires < time.monotonic():
                del self._entries[conversation_id]
                return None
            self._entries.move_to_end(conversation_id)
            return context

    def put(self, conversation_id: str, context: CachedContext) -> None:
        """See ``ContextCache.put``."""
        with self._lock:
            self._entries[conversation_id] = (time.monotonic() + self._ttl, context)
            self._entries.move_to_end(conversation_id)
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)

    def delete(self, conversation_id: str) -> None:
        """See ``ContextCache.delete``."""
        with self._lock:
            self._entries.pop(conversation_id, None)

    def close(self) -> None:
        """See ``ContextCache.close`` (entries are dropped; there is nothing else to release)."""
        with self._lock:
            self._entries.clear()


class RedisContextCache:
    """Context in Redis, shared by every app process; survives Redis outages by acting as a miss.

    After a failure it leaves Redis alone for ``retry_after`` seconds (so a dead server costs one short
    timeout, not one per call), logs the outage once, and logs again when Redis answers.
    """

    KEY_PREFIX = "voicechat:context:"

    def __init__(
        self,
        client: redis.Redis,
        *,
        ttl_seconds: int = defaults.CONTEXT_TTL_SECONDS,
        retry_after: float = defaults.REDIS_RETRY_AFTER_SECONDS,
    ) -> None:
        self._client = client
        self._ttl = ttl_seconds
        self._retry_after = retry_after
        self._down_until: float | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_url(cls, url: str) -> RedisContextCache:
        """A cache on the Redis at ``url`` with short timeouts (a slow cache is worse than none)."""
        client = redis.Redis.from_url(
            url,
            socket_timeout=defaults.REDIS_SOCKET_TIMEOUT_SECONDS,
            socket_connect_timeout=defaults.REDIS_SOCKET_TIMEOUT_SECONDS,
        )
        return cls(client)

    @property
    def available(self) -> bool:
        """False while Redis is considered down."""
        return self._down_until is None

    def get(self, conversation_id: str) -> CachedContext | None:
        """See ``ContextCache.get``."""
        if not self._should_try():
            return None
        try:
            raw = self._client.get(self.KEY_PREFIX + conversation_id)
        except redis.RedisError as exc:
            self._mark_down(exc)
            return None
        self._mark_up()
        return _decode(raw) if isinstance(raw, bytes) else None

    def put(self, conversation_id: str, context: CachedContext) -> None:
        """See ``ContextCache.put``."""
        if not self._should_try():
            return
        try:
            self._client.set(self.KEY_PREFIX + conversation_id, _encode(context), ex=self._ttl)
        except redis.RedisError as exc:
            self._mark_down(exc)
            return
        self._mark_up()

    def delete(self, conversation_id: str) -> None:
        """See ``ContextCache.delete``."""
        if not self._should_try():
            return
        try:
            self._client.delete(self.KEY_PREFIX + conversation_id)
        except redis.RedisError as exc:
            self._mark_down(exc)
            return
        self._mark_up()

    def close(self) -> None:
        """See ``ContextCache.close``: closes the pooled Redis connections."""
        self._client.close()

    def _should_try(self) -> bool:
        with self._lock:
            return self._down_until is None or time.monotonic() >= self._down_until

    def _mark_down(self, exc: Exception) -> None:
        with self._lock:
            first = self._down_until is None
            self._down_until = time.monotonic() + self._retry_after
        if first:
            log.warning(
                "Redis unavailable (%s); serving conversation context from MongoDB", type(exc).__name__
            )

    def _mark_up(self) -> None:
        with self._lock:
            was_down = self._down_until is not None
            self._down_until = None
        if was_down:
            log.info("Redis is reachable again; using the context cache")


def _encode(context: CachedContext) -> str:
    return json.dumps(
        {"head": context.head_id, "messages": [[m.id, m.role, m.content] for m in context.messages]}
    )


def _decode(raw: bytes) -> CachedContext | None:
    try:
        data = json.loads(raw)
        messages = tuple(ContextMessage(id=i, role=r, content=c) for i, r, c in data["messages"])
        return CachedContext(head_id=data["head"], messages=messages)
    except (ValueError, KeyError, TypeError):
        return None  # an entry we cannot read is a miss
