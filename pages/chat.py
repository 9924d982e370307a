"""Chat: the conversation, a message box, and the reply streaming in."""

from __future__ import annotations

import streamlit as st

from ui import audio_replay, chat_sidebar, context
from ui.state import chat_state, conversation_id, open_conversation
from voicechat import defaults
from voicechat.engine.turn import ChatService, TurnOptions
from voicechat.errors import NotFound, ProviderError, VoicechatError
from voicechat.providers.openai.client import make_client, provider_name
from voicechat.providers.openai.llm import OpenAIChat

app = context.current()
state = chat_state(app.settings, lambda: app.store.users.preferences(app.user.id))
chat_sidebar.render(app, state)

key_available = app.settings.openai_configured or bool(state.api_key)
if not key_available:
    st.info(
        "**Add an OpenAI API key to start chatting.** Any one of these works:\n"
        '- put `OPENAI_API_KEY = "sk-..."` in `.streamlit/secrets.toml` (see `secrets.toml.example`);\n'
        "- set the `OPENAI_API_KEY` environment variable before `make run`;\n"
        "- paste a key in the sidebar (kept only in this browser session);\n"
        "- or point `OPENAI_BASE_URL` at a local OpenAI-compatible server (Ollama, llama.cpp, vLLM).",
        icon=":material/key:",
    )

current = conversation_id()
if current is not None:
    try:
        conversation = app.store.conversations.get(owner_id=app.user.id, conversation_id=current)
        st.subheader(conversation.title)
        shown = st.session_state.get(f"shown-{current}", defaults.MESSAGES_PAGE_SIZE)
        history = app.store.conversations.messages_page(
            owner_id=app.user.id, conversation_id=current, limit=shown
        )
    except NotFound as exc:
        st.warning(exc.user_message)
        open_conversation(None)
        current = None
    else:
        if history.next_cursor and st.button("Show earlier messages", icon=":material/expand_less:"):
            st.session_state[f"shown-{current}"] = shown + defaults.MESSAGES_PAGE_SIZE
            st.rerun()
        for message in history.items:
            with st.chat_message(message.role):
                st.markdown(message.content)
                if message.audio_id:
                    audio_replay.replay(app, message.audio_id)
                if message.status != "complete":
                    st.caption("⚠️ reply interrupted" if message.interrupted else "⚠️ reply incomplete")

# No max_chars on the widget: it would cut a pasted text silently; the turn refuses it with a message instead.
prompt = st.chat_input("Message the assistant", disabled=not key_available)
if prompt is not None:
    service = ChatService(store=app.store, settings=app.settings)
    try:
        llm = OpenAIChat(
            client=make_client(app.settings, api_key=state.api_key), provider=provider_name(app.settings)
        )
        turn = service.begin_text_turn(
            user=app.user,
            conversation_id=current,
            text=prompt,
            options=TurnOptions(model=state.model, system_prompt=state.system_prompt),
            llm=llm,
        )
    except VoicechatError as exc:
        st.error(exc.user_message)
        with st.expander("Your text (not sent), to copy and edit"):
            st.text(prompt)
    else:
        if current is None:
            open_conversation(turn.conversation.id)
        with st.chat_message("user"):
            st.markdown(turn.user_message.content)
        with st.chat_message("assistant"):
            try:
                st.write_stream(turn.stream_reply())
            except ProviderError as exc:
                st.error(exc.user_message)
            else:
                if current is None:
                    st.rerun()  # list the new conversation in the sidebar
