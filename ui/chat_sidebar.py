"""The chat page's sidebar: conversations, model, persona, speech for this session, and a session-only key."""

from __future__ import annotations

from dataclasses import asdict
from typing import Literal

import streamlit as st

from ui.context import AppContext
from ui.state import ChatState, conversation_id, open_conversation
from voicechat import defaults, preferences
from voicechat.errors import InvalidInput, NotFound
from voicechat.providers.chat_factory import is_local, offered_chat_models
from voicechat.rendering import escape_markdown


def render(app: AppContext, state: ChatState) -> None:
    """Draw the sidebar; changes land in ``state`` and the URL."""
    with st.sidebar:
        if st.button("New conversation", icon=":material/add:", width="stretch"):
            open_conversation(None)
            st.rerun()
        _recent_conversations(app, state)
        st.divider()
        # Widgets keyed once from the session state, so a rerun never resets what the user typed.
        models = offered_chat_models(app.settings)
        st.session_state.setdefault("chat_model", state.model if state.model in models else models[0])
        st.session_state.setdefault("chat_persona", state.system_prompt)
        state.model = st.selectbox(
            "Model",
            models,
            key="chat_model",
            format_func=lambda m: f"{m} (offline, on this machine)" if is_local(m) else m,
        )
        state.system_prompt = st.text_area(
            "Persona (system prompt)", key="chat_persona", height=120, help="How the assistant behaves."
        )
        _voice_controls(app, state)
        if not app.settings.openai_configured:
            typed = st.text_input(
                "OpenAI API key",
                type="password",
                key="chat_api_key",
                help="Kept only in this browser session; never stored or logged.",
            )
            state.api_key = typed.strip() or None


def _voice_controls(app: AppContext, state: ChatState) -> None:
    """Speech for this session, starting from the saved preferences (the preferences page saves them)."""
    st.session_state.setdefault("chat_speak_replies", state.speak_replies)
    st.session_state.setdefault("chat_autoplay", state.preferences.autoplay)
    state.speak_replies = st.toggle(
        "Speak replies", key="chat_speak_replies", help="Also speak answers to typed messages."
    )
    autoplay = st.toggle("Play spoken replies automatically", key="chat_autoplay")
    offers = preferences.speech_provider_offers(app.settings)
    usable = [name for name, offer in offers.items() if offer.available] or ["openai"]
    with st.expander("Voice", icon=":material/record_voice_over:"):
        st.session_state.setdefault(
            "chat_tts_provider",
            state.preferences.tts_provider if state.preferences.tts_provider in usable else usable[0],
        )
        st.session_state.setdefault("chat_voice", state.preferences.voice)
        st.session_state.setdefault("chat_speed", state.preferences.speed)
        provider = st.selectbox("Speech provider", usable, key="chat_tts_provider")
        voice = st.text_input(
            "Voice", key="chat_voice", help="alloy, verse, marin… or an ElevenLabs voice id."
        )
        speed = st.slider("Speed", *defaults.SPEECH_SPEED_RANGE, step=0.05, key="chat_speed")
    try:
        state.preferences = preferences.validate(
            {
                **asdict(state.preferences),
                "tts_provider": provider,
                "voice": voice.strip(),
                "speed": speed,
                "autoplay": autoplay,
            }
        )
    except InvalidInput as exc:
        st.warning(exc.user_message)


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
        label = ("🎙️ " if conversation.has_voice else "") + escape_markdown(conversation.title)
        kind: Literal["primary", "tertiary"] = "primary" if conversation.id == current else "tertiary"
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
