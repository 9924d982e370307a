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

    def __init__(self, service: str, *, meanwhile: str, log: logging.Logger, retry_after: float) -> None:
        """``service`` names what may go down, ``meanwhile`` what the app does without it (for the log)."""
        self._retry_after = retry_after
        self._log = log
        self._service = service
        self._meanwhile = meanwhile
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
            self._log.warning("%s unavailable (%s); %s", self._service, type(exc).__name__, self._meanwhile)

    def succeeded(self) -> None:
        """A call worked: the outage, if any, is over."""
        with self._lock:
            was_down, self._down_until = self._down_until is not None, None
        if was_down:
            self._log.info("%s reachable again", self._service)
