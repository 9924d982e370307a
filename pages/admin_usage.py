"""Admin usage dashboard: cost per day by kind, from the daily rollups (full dashboard comes later)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import streamlit as st

from ui import context

app = context.current()
if not app.user.is_admin:
    st.error("This page is for administrators.")
    st.stop()

st.title("Usage")
days = st.slider("Days", min_value=7, max_value=90, value=30)
end = datetime.now(UTC).date()
rows = app.store.usage.daily_costs(start=end - timedelta(days=days - 1), end=end)
if not rows:
    st.info("No usage recorded in this period yet. Every chat turn records its tokens and cost here.")
    st.stop()
frame = pd.DataFrame([row.__dict__ for row in rows])
cols = st.columns(4)
total_cost = float(frame["cost_usd"].sum())
cols[0].metric("Cost (USD)", f"{total_cost:,.2f}" if total_cost >= 1 else f"{total_cost:.6f}")
cols[1].metric("Calls", int(frame["events"].sum()))
cols[2].metric("Errors", int(frame["errors"].sum()))
cols[3].metric("Tokens", int(frame["input_tokens"].sum() + frame["output_tokens"].sum()))
st.subheader("Cost per day by kind")
st.bar_chart(frame.pivot_table(index="day", columns="kind", values="cost_usd", aggfunc="sum").fillna(0))
st.subheader("By model")
st.dataframe(
    frame.groupby(["provider", "model"], as_index=False)[["cost_usd", "events", "errors"]].sum(),
    hide_index=True,
)
