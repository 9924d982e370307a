"""Admin usage dashboard: who used what, its cost, how fast it was, what failed - from daily rollups."""

from __future__ import annotations

from datetime import UTC, datetime

import streamlit as st

from ui import context, people_admin, tools_admin
from ui.usage_charts import model_warnings, render_alerts_and_budgets, render_report
from voicechat.dashboard import build_report, days_back

app = context.current()
if not app.user.is_admin:
    st.error("This page is for administrators.")
    st.stop()

st.title("Usage")
render_alerts_and_budgets(app, datetime.now(UTC).date())
if app.quotas.degraded:
    st.warning(
        "Redis is not answering: rate limits are counted by each app process on its own until it returns.",
        icon=":material/warning:",
    )
today = datetime.now(UTC).date()
filters = st.columns([2, 2])
chosen = filters[0].date_input(
    "Dates", value=(days_back(today, 30), today), max_value=today, min_value=days_back(today, 366)
)
users = app.store.users.list_all(acting=app.user)
labels = {"": "Everyone", **{u.id: u.email for u in users}}
user_id = filters[1].selectbox("User", list(labels), format_func=labels.__getitem__)
if not isinstance(chosen, tuple) or len(chosen) != 2:
    st.info("Pick the last day of the range.")
    st.stop()
start, end = chosen
report = build_report(app.store, acting=app.user, start=start, end=end, user_id=user_id or None)
model_warnings(app.settings, today)
render_report(report)

st.subheader("Refused requests")
refused = report.refusals
if refused:
    st.caption("Turns refused by a rate limit (voice, text, address) or a monthly budget.")
    st.dataframe(
        [{"day": r.day, "reason": r.reason, "refused": r.refusals, "users": r.users} for r in refused],
        hide_index=True,
    )
else:
    st.caption("No request was refused in this range.")

st.subheader("Feedback")
feedback = app.store.feedback.summary(start=start, end=end, user_id=user_id or None)
st.markdown(f"Ratings on replies: **{feedback.up} up**, **{feedback.down} down**.")
if feedback.negatives:
    st.caption("Latest thumbs-down comments (the user's own words, shown as text):")
    emails = app.store.users.emails({n.user_id for n in feedback.negatives})
    for negative in feedback.negatives:
        st.text(
            f"{negative.at:%Y-%m-%d %H:%M} · {emails.get(negative.user_id, 'someone')}: {negative.comment}"
        )

people_admin.render(app)
tools_admin.render(app)
