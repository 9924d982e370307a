"""When a running call must do something about its limits: warn that it is about to reach its longest
length, end there, renew its slot among the person's open calls, and (for engines billed by the minute)
check the budget again.

A plain schedule on the call's clock, asked at every frame the call takes (a call sends frames all the time,
even in silence or muted) and by the session's watchdog: no timers of its own, so an injected clock drives it
exactly.
"""

from __future__ import annotations

from typing import Literal

from voicechat import defaults

CallDue = Literal["warn", "end", "renew", "budget"]


class CallLimits:
    """What is due at a moment of the call; each warning and end is due once. Used on the session's loop."""

    def __init__(
        self,
        *,
        started: float,
        max_seconds: float,
        warn_before: float = defaults.CALL_END_WARNING_SECONDS,
        renew_every: float = defaults.CALL_SLOT_RENEW_SECONDS,
        budget_every: float | None = None,
    ) -> None:
        """``budget_every`` None: the engine is not billed by time, the budget is checked at each turn."""
        self._ends_at = started + max_seconds
        self._warn_at = self._ends_at - warn_before
        self._renew_every = renew_every
        self._next_renew = started + renew_every
        self._budget_every = budget_every
        self._next_budget = started + budget_every if budget_every is not None else None
        self._warned = False
        self._ended = False

    def due(self, now: float) -> list[CallDue]:
        """What to do now (in this order), given the call's clock reads ``now``."""
        due: list[CallDue] = []
        if self._ended:
            return due
        if now >= self._ends_at:
            self._ended = True
            return ["end"]
        if not self._warned and now >= self._warn_at:
            self._warned = True
            due.append("warn")
        if now >= self._next_renew:
            self._next_renew = now + self._renew_every
            due.append("renew")
        if self._next_budget is not None and self._budget_every is not None and now >= self._next_budget:
            self._next_budget = now + self._budget_every
            due.append("budget")
        return due
