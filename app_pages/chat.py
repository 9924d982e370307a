"""Chat: the conversation, a message box and a voice recorder, and the reply streaming in (and spoken)."""

from __future__ import annotations

from dataclasses import replace

import streamlit as st

from ui import (
    audio_replay,
    chat_sidebar,
    context,
    local_servers,
    message_actions,
    offline_models,
    talk_panel,
    tool_steps,
)
from ui.state import (
    ChatState,
    chat_state,
    conversation_id,
    open_conversation,
    session_settings,
    wait_for_previous_reply,
)
from ui.turn_runner import run_regenerate, run_text_turn, run_voice_turn
from voicechat import defaults
from voicechat.errors import NotFound
from voicechat.models import Message
from voicechat.providers.chat_factory import is_local
from voicechat.rendering import escape_markdown, without_remote_images
from voicechat.tools.catalog import tools_off_reason

app = context.current()
state = chat_state(app.settings, lambda: app.store.users.preferences(app.user.id))
configured = app.settings.openai_configured or bool(chat_sidebar.typed_api_key(state))
app = replace(app, settings=session_settings(app.settings, state))  # a local server chosen for this session
key_available = app.settings.openai_configured or configured or is_local(chat_sidebar.chosen_model(state))
# The message box goes first: the browser draws it while the rest of the page is still being made. No
# max_chars: it would cut a pasted text silently; the turn refuses it with a message instead.
typed = st.chat_input("Message the assistant", disabled=not key_available)
chat_sidebar.render(app, state)
if not configured:
    local_servers.offer(app.settings, state)
if is_local(state.model) and not configured:
    st.info(
        "**Offline mode**: a small model, speech recognition and a voice all run on this machine; nothing "
        "leaves it (English only; answers are short and simple). For better answers add an OpenAI API key "
        "(secrets, the `OPENAI_API_KEY` variable or the sidebar), or point `OPENAI_BASE_URL` at a local "
        "server such as Ollama.",
        icon=":material/wifi_off:",
    )
elif not key_available:
    st.info(
        "**Add an OpenAI API key to start chatting.** Any one of these works:\n"
        '- put `OPENAI_API_KEY = "sk-..."` in `.streamlit/secrets.toml` (see `secrets.toml.example`);\n'
        "- set the `OPENAI_API_KEY` environment variable before `make run`;\n"
        "- paste a key in the sidebar (kept only in this browser session);\n"
        "- point `OPENAI_BASE_URL` at a local OpenAI-compatible server (Ollama, llama.cpp, vLLM);\n"
        "- or run `make offline` once (about 9 minutes) to chat with a model on this machine, no key at all.",
        icon=":material/key:",
    )


offline_models.prepare(state)


def show_message(message: Message, state: ChatState, *, last: bool = False) -> None:
    """One stored message with its recording or spoken reply, and what went wrong if anything did."""
    with st.chat_message(message.role):
        if message.content:
            st.markdown(without_remote_images(message.content))
        if message.audio_id:
            autoplay = message.audio_id == state.autoplay_audio_id
            audio_replay.replay(app, message.audio_id, autoplay=autoplay)
            if autoplay:
                state.autoplay_audio_id = None
        if message.role == "user" and message.is_voice:
            st.caption(
                "🎙️ voice message - not transcribed; please type it instead"
                if message.status == "failed"
                else "🎙️ voice message"
            )
        elif message.status != "complete":
            st.caption("⚠️ reply interrupted" if message.interrupted else "⚠️ reply incomplete")
        if message.tool_steps:
            tool_steps.show_steps(message.tool_steps)
        if message.role == "assistant" and message.content and message.status != "pending":
            message_actions.render(app, state, message, last=last)


def answered_confirmation(messages: list[Message]) -> tool_steps.Pressed | None:
    """The user's answer to the last reply's held tool call, if they just clicked one."""
    if not messages or messages[-1].role != "assistant" or not messages[-1].tool_steps:
        return None
    last = messages[-1]
    waiting = app.store.held_calls.waiting(owner_id=app.user.id, conversation_id=last.conversation_id)
    return tool_steps.confirm_buttons(last.id, last.tool_steps, waiting=waiting is not None)


wait_for_previous_reply(state)
current = conversation_id()
confirmation: tool_steps.Pressed | None = None
# The conversation, and any turn answered in this run, in one place: a new conversation's first reply is
# streamed where the rerun draws it from storage, so it is never on the page twice.
conversation_area = st.container()
with conversation_area:
    if current is not None:
        try:
            conversation = app.store.conversations.get(owner_id=app.user.id, conversation_id=current)
            st.subheader(escape_markdown(conversation.title))
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
            shown_messages = [m for m in history.items if m.status != "replaced"]
            regenerating = state.pending_action == message_actions.REGENERATE and typed is None
            if regenerating and shown_messages and shown_messages[-1].role == "assistant":
                shown_messages.pop()  # the new reply streams in its place below: never both on the page
            for message in shown_messages:
                show_message(message, state, last=message is shown_messages[-1])
            if typed is None:  # a typed message answers a held call itself: no buttons under it meanwhile
                confirmation = answered_confirmation(shown_messages)

if state.notice is not None:
    kind, text = state.notice
    state.notice = None
    {"error": st.error, "warning": st.warning, "info": st.info}[kind](text)

recording = None
if not talk_panel.render(app, state, enabled=key_available):
    recording = st.audio_input(
        "Ask by voice: record, then the answer is spoken back",
        key=f"recorder-{state.recorder_generation}",
        disabled=not key_available,
    )
prompt = typed or (confirmation.words if confirmation is not None else None)
if (off := tools_off_reason(app.settings, state.model)) is not None and app.settings.tools_enabled:
    st.caption(f":material/build: {off}")
if state.pending_action == message_actions.REGENERATE and current is not None and prompt is None:
    state.pending_action = None
    run_regenerate(app, state, current, area=conversation_area)
elif prompt is not None:
    pressed = None if typed else confirmation
    run_text_turn(app, state, current, prompt, pressed=pressed, area=conversation_area)
elif recording is not None and recording.file_id != state.handled_recording:
    state.handled_recording = recording.file_id
    run_voice_turn(app, state, current, recording.getvalue(), area=conversation_area)
