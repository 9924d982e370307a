"""The admin usage report, computed from the daily rollups (never from raw events)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta

from voicechat import defaults
from voicechat.errors import NotAllowed
from voicechat.glance import DayRates, daily_rates, turns_by_day
from voicechat.models import DailyUsage, UsageKind, User
from voicechat.storage.refusals import RefusalCount
from voicechat.storage.store import Store
from voicechat.storage.usage_events import conversations_started
from voicechat.storage.usage_people import PersonTotals, totals_from_rows
from voicechat.usage import histogram_percentile

LATENCY_METRIC: Mapping[UsageKind, str] = {
    "chat": "LLM first token",
    "stt": "Speech-to-text",
    "tts": "TTS first byte",
    "realtime": "Voice-to-voice (realtime)",
    "tool": "Tool call",
}


@dataclass(frozen=True)
class Headline:
    """The figures at the top of the dashboard."""

    active_users: int
    conversations: int
    turns: int
    audio_minutes_in: float
    audio_minutes_out: float
    tokens: int
    cost_usd: float
    estimated_cost_usd: float = 0.0  # priced from our own token counts (replies cut before usage came)

    @property
    def estimated_share(self) -> float:
        """The part of the cost that is estimated, 0..1."""
        return self.estimated_cost_usd / self.cost_usd if self.cost_usd > 0 else 0.0


@dataclass(frozen=True)
class UserUsage:
    """One row of the per-user table."""

    user_id: str
    email: str
    cost_usd: float
    calls: int
    tokens: int
    audio_minutes: float
    errors: int


@dataclass(frozen=True)
class LatencyRow:
    """Daily percentiles of one latency metric (bucket upper bounds, in ms)."""

    day: str
    metric: str
    p50_ms: float | None
    p95_ms: float | None
    samples: int


@dataclass(frozen=True)
class ProviderHealth:
    """Calls, failures and rate limits of one provider over the range."""

    provider: str
    calls: int
    errors: int
    rate_limited: int


@dataclass(frozen=True)
class ToolUsage:
    """Calls, failures and time of one tool over the range."""

    tool: str
    source: str
    calls: int
    failures: int
    p50_ms: float | None
    p95_ms: float | None


@dataclass(frozen=True)
class UsageReport:
    """Everything the dashboard shows for a date range (and optionally one user)."""

    start: date
    end: date
    headline: Headline
    cost_by_day_kind: list[tuple[str, str, float]]
    cost_by_day_model: list[tuple[str, str, float]]
    per_user: list[UserUsage]
    latency: list[LatencyRow]
    providers: list[ProviderHealth]
    refusals: list[RefusalCount]
    tools: list[ToolUsage]
    turns_by_day_kind: list[tuple[str, str, float]]
    rates: list[DayRates]


def build_report(
    store: Store, *, acting: User, start: date, end: date, user_id: str | None = None
) -> UsageReport:
    """The report for days ``start``..``end`` inclusive; ``user_id`` narrows every figure to one user.

    Everyone's usage: for admins only (``NotAllowed`` otherwise)."""
    if not acting.is_admin:
        raise NotAllowed("This page is for administrators.")
    if user_id:
        model_rows = store.usage.daily_by_user(start=start, end=end, user_id=user_id)
        people = totals_from_rows(model_rows)
    else:  # everyone: one people document per day rather than thousands of per-user rows
        model_rows, people = store.usage.daily_with_people(start=start, end=end)
    emails = store.users.emails({person for person in people if person})
    headline = Headline(
        active_users=sum(1 for totals in people.values() if totals.calls),
        conversations=conversations_started(store.db, start=start, end=end, user_id=user_id),
        turns=sum(row.turns for row in model_rows),
        audio_minutes_in=round(sum(r.audio_seconds for r in model_rows if r.kind == "stt") / 60, 2),
        audio_minutes_out=round(
            sum(r.audio_seconds for r in model_rows if r.kind in ("tts", "realtime")) / 60, 2
        ),
        tokens=sum(r.input_tokens + r.output_tokens for r in model_rows),
        cost_usd=round(sum(r.cost_usd for r in model_rows), 6),
        estimated_cost_usd=round(sum(r.estimated_cost_usd for r in model_rows), 6),
    )
    refusals = store.refusals.daily(start=start, end=end, user_id=user_id)
    return UsageReport(
        start=start,
        end=end,
        headline=headline,
        cost_by_day_kind=_sum_by(model_rows, lambda r: (r.day, r.kind)),
        cost_by_day_model=_sum_by(model_rows, lambda r: (r.day, r.model)),
        per_user=_per_user(people, emails),
        latency=_latency(model_rows, store.turn_latency.daily(start=start, end=end, user_id=user_id)),
        providers=_providers(model_rows),
        refusals=refusals,
        tools=_tools(model_rows),
        turns_by_day_kind=turns_by_day(model_rows),
        rates=daily_rates(model_rows, _refused_by_day(refusals), start, end),
    )


def _refused_by_day(refusals: list[RefusalCount]) -> dict[str, int]:
    totals: dict[str, int] = defaultdict(int)
    for refusal in refusals:
        totals[refusal.day] += refusal.refusals
    return dict(totals)


def days_back(end: date, days: int) -> date:
    """The first day of a range of ``days`` days ending on ``end``."""
    return end - timedelta(days=days - 1)


def shutdown_warnings(
    models: Iterable[str], *, today: date, reported: Mapping[str, str] | None = None, within_days: int = 60
) -> list[tuple[str, str, int]]:
    """Configured models with an announced shutdown date within ``within_days``: (model, date, days left).

    Dates the provider reports (its model list) win over the built-in table.
    """
    known = {**defaults.MODEL_SHUTDOWN_DATES, **(reported or {})}
    warnings = []
    for model in dict.fromkeys(models):
        when = known.get(model)
        if when:
            days_left = (date.fromisoformat(when) - today).days
            if days_left <= within_days:
                warnings.append((model, when, days_left))
    return sorted(warnings, key=lambda w: w[2])


def _sum_by(
    rows: list[DailyUsage], key: Callable[[DailyUsage], tuple[str, str]]
) -> list[tuple[str, str, float]]:
    totals: dict[tuple[str, str], float] = defaultdict(float)
    for row in rows:
        totals[key(row)] += row.cost_usd
    return sorted((day, name, round(cost, 8)) for (day, name), cost in totals.items())


def _per_user(people: Mapping[str, PersonTotals], emails: Mapping[str, str]) -> list[UserUsage]:
    users = [
        UserUsage(
            user_id=user_id,
            email=emails.get(user_id, "(deleted user)"),
            cost_usd=totals.cost_usd,
            calls=totals.calls,
            tokens=totals.tokens,
            audio_minutes=totals.audio_minutes,
            errors=totals.errors,
        )
        for user_id, totals in people.items()
    ]
    return sorted(users, key=lambda u: u.cost_usd, reverse=True)


def _latency(rows: list[DailyUsage], turns: dict[tuple[str, str], dict[str, int]]) -> list[LatencyRow]:
    """Each provider kind's latency per day, and Talk turns' end-of-turn wait and voice-to-voice."""
    merged: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for row in rows:
        for bucket, count in row.latency_hist.items():
            merged[(row.day, LATENCY_METRIC[row.kind])][bucket] += count
    for key, histogram in turns.items():
        for bucket, count in histogram.items():
            merged[key][bucket] += count
    return [
        LatencyRow(
            day=day,
            metric=metric,
            p50_ms=histogram_percentile(hist, 0.5),
            p95_ms=histogram_percentile(hist, 0.95),
            samples=sum(hist.values()),
        )
        for (day, metric), hist in sorted(merged.items())
    ]


def _providers(rows: list[DailyUsage]) -> list[ProviderHealth]:
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for row in rows:
        total = totals[row.provider]
        total[0] += row.events
        total[1] += row.errors
        total[2] += row.rate_limited
    return [
        ProviderHealth(provider=p, calls=t[0], errors=t[1], rate_limited=t[2])
        for p, t in sorted(totals.items())
    ]


def _tools(rows: list[DailyUsage]) -> list[ToolUsage]:
    calls: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    times: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for row in rows:
        if row.kind != "tool":
            continue
        key = (row.model, row.provider)
        calls[key][0] += row.events
        calls[key][1] += row.errors
        for bucket, count in row.latency_hist.items():
            times[key][bucket] += count
    return [
        ToolUsage(
            tool=tool,
            source=source,
            calls=counts[0],
            failures=counts[1],
            p50_ms=histogram_percentile(times[(tool, source)], 0.5),
            p95_ms=histogram_percentile(times[(tool, source)], 0.95),
        )
        for (tool, source), counts in sorted(calls.items(), key=lambda item: -item[1][0])
    ]
