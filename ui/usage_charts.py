"""Drawing the usage report: headline, charts, per-user table with CSV, latency, provider health."""

from __future__ import annotations

import logging
from datetime import date

import pandas as pd
import streamlit as st

from ui.context import AppContext
from voicechat.config import Settings
from voicechat.dashboard import UsageReport, shutdown_warnings
from voicechat.export import usage_csv
from voicechat.glance import BUDGET_WARNING_SHARE, alerts, budget_use, daily_totals, every_day, money
from voicechat.providers.openai.client import make_client, reported_shutdown_dates

log = logging.getLogger("voicechat.ui")
TOP_USERS = 10


def render_report(report: UsageReport) -> None:
    """Headline figures, charts on a continuous date axis, top users, latency, rates, provider health."""
    head = report.headline
    row1 = st.columns(4)
    row1[0].metric("Cost", money(head.cost_usd))
    row1[1].metric("Active users", head.active_users)
    row1[2].metric("Conversations", head.conversations)
    row1[3].metric("Turns", head.turns)
    row2 = st.columns(4)
    row2[0].metric("Tokens", f"{head.tokens:,}")
    row2[1].metric("Audio in (min)", f"{head.audio_minutes_in:,.1f}")
    row2[2].metric("Audio out (min)", f"{head.audio_minutes_out:,.1f}")
    if head.estimated_cost_usd > 0:
        st.caption(
            f"{head.estimated_share:.1%} of this cost is estimated: replies cut short (barge-in, a page "
            "left, a dropped connection) are billed by the provider but never reported, so their tokens "
            "were counted here with the model's own tokeniser."
        )
    if not report.per_user:
        st.info(
            "No usage recorded in this period. Every chat turn records its tokens, cost and latency here."
        )
        return
    days = (report.start, report.end)
    st.subheader("Cost per day by kind (USD)")
    st.bar_chart(_daily(report.cost_by_day_kind, *days), stack=True, y_label="USD")
    st.subheader("Cost per day by model (USD)")
    st.bar_chart(_daily(report.cost_by_day_model, *days), stack=True, y_label="USD")
    st.subheader("Turns per day by kind")
    st.bar_chart(_daily(report.turns_by_day_kind, *days), stack=True, y_label="turns")
    st.subheader("Top users")
    users = pd.DataFrame([u.__dict__ for u in report.per_user[:TOP_USERS]]).drop(columns=["user_id"])
    st.dataframe(
        users,
        hide_index=True,
        column_config={"cost_usd": st.column_config.NumberColumn("cost", format="$%.4f")},
    )
    st.download_button(
        "Download CSV (everyone)",
        usage_csv(report.per_user),
        file_name=f"usage-{report.start}-{report.end}.csv",
        mime="text/csv",
    )
    st.subheader("Latency over time (p95, ms)")
    if report.latency:
        p95 = [(r.day, r.metric, r.p95_ms or 0.0) for r in report.latency]
        st.line_chart(_daily(p95, *days), y_label="ms")
        with st.expander("Daily percentiles as a table"):
            st.dataframe(pd.DataFrame([r.__dict__ for r in report.latency]), hide_index=True)
        st.caption("Percentiles are the upper bound of the histogram bucket they fall in.")
    else:
        st.caption("No successful calls with a measured latency in this period.")
    st.subheader("Error and refusal rates per day")
    rates = pd.DataFrame(
        {
            "failed provider calls": [r.error_rate * 100 for r in report.rates],
            "refused turns": [r.refusal_rate * 100 for r in report.rates],
        },
        index=pd.to_datetime([r.day for r in report.rates]),
    )
    st.line_chart(rates, y_label="%")
    st.subheader("Providers")
    st.dataframe(pd.DataFrame([p.__dict__ for p in report.providers]), hide_index=True)
    st.subheader("Tools")
    if report.tools:
        st.caption("Calls the assistant made to tools, how many failed, and how long they took (ms).")
        st.dataframe(pd.DataFrame([t.__dict__ for t in report.tools]), hide_index=True)
    else:
        st.caption("No tool was called in this range.")


def render_alerts_and_budgets(app: AppContext, today: date) -> None:
    """At the top of the page: who passed 80% of their budget, and an error spike in the last day."""
    uses = budget_use(app.store, app.settings, acting=app.user, today=today)
    for alert in alerts(app.store, uses):
        st.error(alert, icon=":material/warning:")
    if uses:
        with st.expander("Budgets this month", icon=":material/savings:"):
            table = pd.DataFrame(
                [
                    {
                        "person": u.email,
                        "tier": u.tier,
                        "spent": money(u.spent_usd),
                        "budget": money(u.budget_usd),
                        "used": f"{u.share:.0%}",
                        "over 80%": "yes" if u.share >= BUDGET_WARNING_SHARE else "no",
                    }
                    for u in uses
                ]
            )
            st.dataframe(table, hide_index=True)


def _daily(rows: list[tuple[str, str, float]], start: date, end: date) -> pd.DataFrame:
    """Series per name over every day of the range (zeros where nothing happened), indexed by date."""
    days = every_day(start, end)
    frame = pd.DataFrame(daily_totals(rows, start, end), index=days)  # keyed by the same day strings
    if frame.empty:
        frame = pd.DataFrame({"none": 0.0}, index=days)
    frame.index = pd.to_datetime(frame.index)  # a date axis
    return frame


def model_warnings(settings: Settings, today: date) -> None:
    """Warn about configured models within 60 days of an announced shutdown."""
    for model, when, days_left in shutdown_warnings(
        settings.configured_models, today=today, reported=_reported_dates(settings)
    ):
        verb = "was shut down" if days_left < 0 else f"shuts down in {days_left} days"
        if model == settings.tts_model and settings.speech_route == "auto":
            action = f"Spoken replies move to the Realtime route ({settings.realtime_tts_model}) that day."
            st.info(f"Model **{model}** {verb} ({when}). {action}", icon="ℹ️")
        else:
            st.warning(f"Model **{model}** {verb} ({when}). Choose a replacement in the settings.", icon="⚠️")


@st.cache_data(ttl=3600, show_spinner=False)
def _reported_dates(settings: Settings) -> dict[str, str]:
    # A short timeout and no retries: the dashboard must not wait on a slow provider for this.
    try:
        return reported_shutdown_dates(make_client(settings).with_options(timeout=5, max_retries=0))
    except Exception as exc:  # any failure: the built-in table of dates still applies
        log.info("model list unavailable for shutdown dates: %s", type(exc).__name__)
        return {}
