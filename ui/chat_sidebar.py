"""The chat page's sidebar: new conversation, recent conversations, model, persona, and a session-only key."""

from __future__ import annotations

import streamlit as st

from ui.context import AppContext
from ui.state import ChatState, conversation_id, open_conversation
from voicechat.errors import NotFound


def render(app: AppContext, state: ChatState) -> None:
    """Draw the sidebar; changes land in ``state`` and the URL."""
    with st.sidebar:
        if st.button("New conversation", icon=":material/add:", width="stretch"):
            open_conversation(None)
            st.rerun()
        _recent_conversations(app, state)
        st.divider()
        # Widgets keyed once from the session state, so a rerun never resets what the user typed.
        st.session_state.setdefault(
            "chat_model", state.model if state.model in app.settings.chat_models else app.settings.chat_model
        )
        st.session_state.setdefault("chat_persona", state.system_prompt)
        state.model = st.selectbox("Model", app.settings.chat_models, key="chat_model")
        state.system_prompt = st.text_area(
            "Persona (system prompt)", key="chat_persona", height=120, help="How the assistant behaves."
        )
        if not app.settings.openai_configured:
            typed = st.text_input(
                "OpenAI API key",
                type="password",
                key="chat_api_key",
                help="Kept only in this browser session; never stored or logged.",
            )
            state.api_key = typed.strip() or None


def _recent_conversations(app: AppContext, state: ChatState) -> None:
    st.caption("Recent conversations")
    try:
        page = app.store.conversations.list_page(owner_id=app.user.id, cursor=state.history_cursor)
    except NotFound:
        state.history_cursor = None
        return
    if not page.items:
        st.caption("None yet: say something to start one.")
    current = conversation_id()
    for conversation in page.items:
        label = ("🎙️ " if conversation.has_voice else "") + conversation.title
        kind = "primary" if conversation.id == current else "tertiary"
        if st.button(label, key=f"open-{conversation.id}", type=kind, width="stretch"):
            open_conversation(conversation.id)
            st.rerun()
    cols = st.columns(2)
    if state.history_cursor and cols[0].button("Newer", width="stretch"):
        state.history_cursor = None
        st.rerun()
    if page.next_cursor and cols[1].button("Older", width="stretch"):
        state.history_cursor = page.next_cursor
        st.rerun()
