"""The dashboard at a glance: money people can read, days with no use as zeros, who is near their budget,
error and refusal rates, and the alerts that belong at the top of the page (all computed from the rollups)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from voicechat.config import Settings
from voicechat.models import DailyUsage, User
from voicechat.storage.store import Store

BUDGET_WARNING_SHARE = 0.8
ERROR_ALERT_RATE = 0.05


def money(value: float) -> str:
    """US dollars with sensible precision: cents from a dollar up, three places below, "< $0.001" for dust."""
    if value == 0:
        return "$0.00"
    if abs(value) >= 1:
        return f"${value:,.2f}"
    if abs(value) >= 0.001:
        return f"${value:.3f}"
    return "< $0.001"


def every_day(start: date, end: date) -> list[str]:
    """Each day of the range as YYYY-MM-DD (a continuous axis: days with no use are zeros)."""
    return [(start + timedelta(days=n)).isoformat() for n in range((end - start).days + 1)]


def daily_totals(rows: list[tuple[str, str, float]], start: date, end: date) -> dict[str, dict[str, float]]:
    """(day, series, value) rows as series -> day -> value over every day of the range (zeros filled in)."""
    days = every_day(start, end)
    days_set = set(days)
    series: dict[str, dict[str, float]] = defaultdict(lambda: dict.fromkeys(days, 0.0))
    for day, name, value in rows:
        if day in days_set:
            series[name][day] += value
    return dict(series)


def turns_by_day(rows: list[DailyUsage]) -> list[tuple[str, str, float]]:
    """Turns per day and kind (for the stacked turns chart)."""
    totals: dict[tuple[str, str], float] = defaultdict(float)
    for row in rows:
        if row.turns:
            totals[(row.day, row.kind)] += row.turns
    return sorted((day, kind, count) for (day, kind), count in totals.items())


@dataclass(frozen=True)
class BudgetUse:
    """One person's spending this month against their tier's budget."""

    email: str
    tier: str
    spent_usd: float
    budget_usd: float

    @property
    def share(self) -> float:
        """Spent / budget."""
        return self.spent_usd / self.budget_usd if self.budget_usd > 0 else 0.0


def budget_use(store: Store, settings: Settings, *, acting: User, today: date) -> list[BudgetUse]:
    """Everyone on a tier with a budget, most used first (month to date)."""
    budgets = dict(settings.monthly_budgets)
    if not budgets:
        return []
    # Everyone's month so far from one small document per day (not the per-user rows: thousands of them).
    _, people = store.usage.daily_with_people(start=today.replace(day=1), end=today)
    spent = {user_id: totals.cost_usd for user_id, totals in people.items()}
    uses = [
        BudgetUse(person.email, person.tier, round(spent.get(person.id, 0.0), 6), budgets[person.tier])
        for person in store.users.list_all(acting=acting)
        if person.tier in budgets
    ]
    return sorted(uses, key=lambda use: use.share, reverse=True)


@dataclass(frozen=True)
class DayRates:
    """Of one day's provider calls, the share that failed; of its turns, the share refused."""

    day: str
    error_rate: float
    refusal_rate: float


def daily_rates(rows: list[DailyUsage], refusals: dict[str, int], start: date, end: date) -> list[DayRates]:
    """Error and refusal rates for every day of the range (0 on a day with nothing)."""
    calls: dict[str, int] = defaultdict(int)
    errors: dict[str, int] = defaultdict(int)
    turns: dict[str, int] = defaultdict(int)
    for row in rows:
        calls[row.day] += row.events
        errors[row.day] += row.errors
        turns[row.day] += row.turns
    return [
        DayRates(
            day,
            errors[day] / calls[day] if calls[day] else 0.0,
            refusals.get(day, 0) / (turns[day] + refusals.get(day, 0))
            if turns[day] + refusals.get(day, 0)
            else 0.0,
        )
        for day in every_day(start, end)
    ]


def alerts(store: Store, uses: list[BudgetUse], *, now: datetime | None = None) -> list[str]:
    """What an admin must see first: people past 80% of their budget, and an error rate over 5% in the
    last 24 hours (provider calls)."""
    found = [
        f"{use.email} has used {use.share:.0%} of the {use.tier} budget this month "
        f"({money(use.spent_usd)} of {money(use.budget_usd)})."
        for use in uses
        if use.share >= BUDGET_WARNING_SHARE
    ]
    now = now or datetime.now(UTC)
    rows = store.usage.daily_by_model(start=(now - timedelta(days=1)).date(), end=now.date())
    calls, failed = sum(r.events for r in rows), sum(r.errors for r in rows)
    if calls and failed / calls > ERROR_ALERT_RATE:
        found.append(f"{failed / calls:.0%} of provider calls failed since yesterday ({failed} of {calls}).")
    return found
