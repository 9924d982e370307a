"""Remembering that a shared service (Redis) is down, so the app works on without it and sees it return.

After a failure the service is left alone for ``retry_after`` seconds (a dead server costs one short timeout,
not one per call); the outage is logged once when it starts and once when the service answers again.
"""

from __future__ import annotations

import logging
import threading
import time


class OutageTracker:
    """Thread-safe: ``should_try()`` before a call, then ``failed(exc)`` or ``succeeded()``."""

    def __init__(self, *, retry_after: float, log: logging.Logger, down: str, back: str) -> None:
        self._retry_after = retry_after
        self._log = log
        self._down_message = down  # logged with the exception's type name as its one argument
        self._back_message = back
        self._down_until: float | None = None
        self._lock = threading.Lock()

    @property
    def down(self) -> bool:
        """True from a failure until the next success."""
        return self._down_until is not None

    def should_try(self) -> bool:
        """Whether to call the service now (it is up, or its quiet period is over)."""
        with self._lock:
            return self._down_until is None or time.monotonic() >= self._down_until

    def failed(self, exc: Exception) -> None:
        """A call failed: leave the service alone for a while (logged once per outage)."""
        with self._lock:
            first = self._down_until is None
            self._down_until = time.monotonic() + self._retry_after
        if first:
            self._log.warning(self._down_message, type(exc).__name__)

    def succeeded(self) -> None:
        """A call worked: the outage, if any, is over."""
        with self._lock:
            was_down, self._down_until = self._down_until is not None, None
        if was_down:
            self._log.info(self._back_message)
