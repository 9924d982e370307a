"""The chat page's sidebar: conversations, model, persona, speech for this session, and a session-only key."""

from __future__ import annotations

from dataclasses import asdict
from typing import Literal

import streamlit as st

from ui.context import AppContext
from ui.state import ChatState, conversation_id, open_conversation
from ui.voice_picker import pick_voice
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
        # Each widget starts from the state (its default), so a page still loading when the user clicks
        # elsewhere can only send the state's own value back; ``state.widgets`` renews them all when the state
        # changes from outside the sidebar.
        models = offered_chat_models(app.settings)
        if state.model not in models:
            state.model = models[0]
        state.model = st.selectbox(
            "Model",
            models,
            index=models.index(state.model),
            key=_key(state, "chat_model"),
            format_func=lambda m: f"{m} (offline, on this machine)" if is_local(m) else m,
        )
        state.system_prompt = st.text_area(
            "Persona (system prompt)",
            value=state.system_prompt,
            key=_key(state, "chat_persona"),
            height=120,
            help="How the assistant behaves.",
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


def _key(state: ChatState, name: str) -> str:
    return f"{name}-{state.widgets}"


def chosen_model(state: ChatState) -> str:
    """The model the sidebar's list holds now, before the sidebar is drawn (a widget's state is current
    from the start of a run)."""
    model = st.session_state.get(_key(state, "chat_model"), state.model)
    return model if isinstance(model, str) else state.model


def typed_api_key(state: ChatState) -> str | None:
    """The key typed in the sidebar now, before the sidebar is drawn."""
    typed = st.session_state.get("chat_api_key")
    return (typed.strip() or None) if isinstance(typed, str) else state.api_key


def _voice_controls(app: AppContext, state: ChatState) -> None:
    """Speech for this session, starting from the saved preferences (the preferences page saves them)."""
    chosen = state.preferences
    state.speak_replies = st.toggle(
        "Speak replies",
        value=state.speak_replies,
        key=_key(state, "chat_speak_replies"),
        help="Also speak answers to typed messages.",
    )
    autoplay = st.toggle(
        "Play spoken replies automatically", value=chosen.autoplay, key=_key(state, "chat_autoplay")
    )
    offers = preferences.speech_provider_offers(app.settings)
    usable = [name for name, offer in offers.items() if offer.available] or ["openai"]
    with st.expander("Voice", icon=":material/record_voice_over:"):
        provider = st.selectbox(
            "Speech provider",
            usable,
            index=usable.index(chosen.tts_provider) if chosen.tts_provider in usable else 0,
            key=_key(state, "chat_tts_provider"),
        )
        voice, _ = pick_voice(
            app.settings,
            provider,
            chosen,
            key=_key(state, f"chat_voice-{provider}"),
            help="Voice preferences can play each voice before you choose.",
        )
        speed = st.slider(
            "Speed",
            *defaults.SPEECH_SPEED_RANGE,
            value=chosen.speed,
            step=0.05,
            key=_key(state, "chat_speed"),
        )
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
