"""What the assistant remembers about you: the facts its "remember" tool kept, to read, edit or clear."""

from __future__ import annotations

import streamlit as st

from ui.context import AppContext
from voicechat import defaults


def render(app: AppContext) -> None:
    """One fact per line; saving replaces the list (blank lines are dropped)."""
    st.subheader("What the assistant remembers about you")
    facts = app.store.users.memory(app.user.id)
    st.caption(
        "Facts you asked the assistant to remember; it is told them at the start of every reply. One per "
        f"line, at most {defaults.MEMORY_FACTS}. Edit or delete any of them here."
    )
    with st.form("memory"):
        text = st.text_area(
            "Remembered facts", value="\n".join(facts), height=140, placeholder="Nothing remembered yet."
        )
        saved = st.form_submit_button("Save remembered facts")
    if saved:
        kept = app.store.users.set_memory(app.user.id, text.splitlines())
        st.success(f"Saved: {len(kept)} fact(s) remembered." if kept else "Saved: nothing is remembered.")
