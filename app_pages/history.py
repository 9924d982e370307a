"""History: search past conversations by their words, page through them, open, rename, export, delete."""

from __future__ import annotations

import streamlit as st

from ui import context, history_row
from voicechat.errors import NotFound

app = context.current()
st.title("History")

query = st.text_input("Search your messages", placeholder="Words that appear in the conversation")
if query.strip():
    hits = app.store.search.search(owner_id=app.user.id, query=query)
    if not hits:
        st.info("No message contains all of those words.")
    for hit in hits:
        with st.container(border=True):
            st.caption(f"{hit.role} · {hit.created_at:%Y-%m-%d %H:%M}")
            st.text(hit.snippet)
            if st.button("Open", key=f"hit-{hit.message_id}"):
                st.switch_page("app_pages/chat.py", query_params={"c": hit.conversation_id})
    st.divider()

cursor = st.session_state.get("history_page_cursor")
try:
    page = app.store.conversations.list_page(owner_id=app.user.id, cursor=cursor)
except NotFound:
    st.session_state["history_page_cursor"] = None
    st.rerun()
if not page.items and cursor is None:
    st.info("No conversations yet. Open **Chat** and say hello; everything you say is kept here.")
for conversation in page.items:
    history_row.render(app, conversation)
nav = st.columns(2)
if cursor and nav[0].button("Newest"):
    st.session_state["history_page_cursor"] = None
    st.rerun()
if page.next_cursor and nav[1].button("Older"):
    st.session_state["history_page_cursor"] = page.next_cursor
    st.rerun()
