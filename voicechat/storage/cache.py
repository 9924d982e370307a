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
from dataclasses import asdict, dataclass
from typing import Protocol

import redis

from voicechat import defaults
from voicechat.models import ContextMessage, ToolStep
from voicechat.storage.outage import OutageTracker

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

    After a failure it leaves Redis alone for a moment (see ``OutageTracker``).
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
        self._outage = OutageTracker(
            "Redis", meanwhile="serving conversation context from MongoDB", log=log, retry_after=retry_after
        )

    @classmethod
    def from_url(
        cls, url: str, *, retry_after: float = defaults.REDIS_RETRY_AFTER_SECONDS
    ) -> RedisContextCache:
        """A cache on the Redis at ``url`` with short timeouts (a slow cache is worse than none)."""
        client = redis.Redis.from_url(
            url,
            socket_timeout=defaults.REDIS_SOCKET_TIMEOUT_SECONDS,
            socket_connect_timeout=defaults.REDIS_SOCKET_TIMEOUT_SECONDS,
        )
        return cls(client, retry_after=retry_after)

    @property
    def available(self) -> bool:
        """False while Redis is considered down."""
        return not self._outage.down

    def get(self, conversation_id: str) -> CachedContext | None:
        """See ``ContextCache.get``."""
        if not self._outage.should_try():
            return None
        try:
            raw = self._client.get(self.KEY_PREFIX + conversation_id)
        except redis.RedisError as exc:
            self._outage.failed(exc)
            return None
        self._outage.succeeded()
        return _decode(raw) if isinstance(raw, bytes) else None

    def put(self, conversation_id: str, context: CachedContext) -> None:
        """See ``ContextCache.put``."""
        if not self._outage.should_try():
            return
        try:
            self._client.set(self.KEY_PREFIX + conversation_id, _encode(context), ex=self._ttl)
        except redis.RedisError as exc:
            self._outage.failed(exc)
            return
        self._outage.succeeded()

    def delete(self, conversation_id: str) -> None:
        """See ``ContextCache.delete``."""
        if not self._outage.should_try():
            return
        try:
            self._client.delete(self.KEY_PREFIX + conversation_id)
        except redis.RedisError as exc:
            self._outage.failed(exc)
            return
        self._outage.succeeded()

    def close(self) -> None:
        """See ``ContextCache.close``: closes the pooled Redis connections."""
        self._client.close()


def _encode(context: CachedContext) -> str:
    messages = [[m.id, m.role, m.content, [asdict(s) for s in m.tool_steps]] for m in context.messages]
    return json.dumps({"head": context.head_id, "messages": messages})


def _decode(raw: bytes) -> CachedContext | None:
    try:
        data = json.loads(raw)
        messages = tuple(
            ContextMessage(id=i, role=r, content=c, tool_steps=tuple(ToolStep(**s) for s in steps))
            for i, r, c, steps in data["messages"]
        )
        return CachedContext(head_id=data["head"], messages=messages)
    except (ValueError, KeyError, TypeError):
        return None  # an entry we cannot read is a miss (one written before steps were kept, too)
