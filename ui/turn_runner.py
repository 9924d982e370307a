"""Running one turn on the chat page: typed or recorded, with progress, the streamed reply, and speech.

After a turn that changes what the page shows (a new conversation, a spoken reply, a kept recording) the page
reruns and draws it from storage; a message to show and a clip to autoplay survive the rerun in the state.
"""

from __future__ import annotations

from datetime import date

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from ui import tool_steps
from ui.context import AppContext, admit
from ui.state import ChatState, open_conversation
from voicechat.errors import ProviderError, VoicechatError
from voicechat.providers.base import LLM
from voicechat.providers.chat_factory import llm_for
from voicechat.providers.speech_factory import recogniser_for, speaker_for
from voicechat.rendering import escape_markdown, stream_without_remote_images, without_remote_images
from voicechat.tools.runner import held_step
from voicechat.turns.push_to_talk import NothingHeard, TranscriptionFailed, VoiceTurnService
from voicechat.turns.text import ChatService, TextTurn, TurnOptions


def run_text_turn(
    app: AppContext,
    state: ChatState,
    current: str | None,
    prompt: str,
    *,
    area: DeltaGenerator,
    pressed: tool_steps.Pressed | None = None,
) -> None:
    """Store and answer a typed message, or the Yes / No ``pressed`` under a held call (and speak the
    answer when "Speak replies" is on), drawn in the conversation's ``area``."""
    service = ChatService(store=app.store, settings=app.settings)
    try:
        admit(app, "text")
        turn = service.begin_text_turn(
            user=app.user,
            conversation_id=current,
            text=prompt,
            options=_options(state),
            llm=_llm(app, state),
            watch=tool_steps.live_watch(),
            pressed=pressed.verdict if pressed is not None else None,
            seen=pressed.seen if pressed is not None else None,
        )
    except VoicechatError as exc:
        st.error(exc.user_message)
        with st.expander("Your text (not sent), to copy and edit"):
            st.text(prompt)
        return
    open_conversation(turn.conversation.id)
    with area:
        if current is None:  # as the rerun will draw the new conversation: its title first
            st.subheader(escape_markdown(turn.conversation.title))
        with st.chat_message("user"):
            st.markdown(without_remote_images(turn.user_message.content))
        spoke = _reply(app, state, turn, speak=state.speak_replies)
    if current is None or spoke:
        st.rerun()  # list the new conversation in the sidebar / play the spoken reply from storage


def run_regenerate(app: AppContext, state: ChatState, current: str, *, area: DeltaGenerator) -> None:
    """Answer the conversation's last question again (the reply it replaces stays on record, unseen)."""
    service = ChatService(store=app.store, settings=app.settings)
    try:
        admit(app, "text")
        turn = service.regenerate(
            user=app.user,
            conversation_id=current,
            options=_options(state),
            llm=_llm(app, state),
            watch=tool_steps.live_watch(),
        )
    except VoicechatError as exc:  # shown on a fresh page, with the reply it did not replace
        state.notice = ("error", exc.user_message)
        st.rerun()
    with area:
        _reply(app, state, turn, speak=state.speak_replies)
    st.rerun()  # the new reply with its actions, from storage


def run_voice_turn(
    app: AppContext, state: ChatState, current: str | None, recording: bytes, *, area: DeltaGenerator
) -> None:
    """Transcribe a recording, answer it, speak the answer; every failure is explained and nothing is lost."""
    service = VoiceTurnService(store=app.store, settings=app.settings)
    try:
        admit(app, "voice")
        with st.spinner("Transcribing…"):
            turn = service.begin_voice_turn(
                user=app.user,
                conversation_id=current,
                recording=recording,
                options=_options(state),
                recogniser=recogniser_for(app.settings, state.preferences, openai_api_key=state.api_key),
                llm=_llm(app, state),
            )
    except (TranscriptionFailed, NothingHeard) as exc:
        state.notice = ("warning", exc.user_message)
        state.recorder_generation += 1
        open_conversation(exc.message.conversation_id)
        st.rerun()
    except VoicechatError as exc:
        st.error(exc.user_message, icon=":material/mic_off:")
        return
    open_conversation(turn.conversation.id)
    with area:
        if current is None:
            st.subheader(escape_markdown(turn.conversation.title))
        with st.chat_message("user"):
            st.markdown(without_remote_images(turn.user_message.content))
            st.caption("🎙️ voice message")
        _reply(app, state, turn, speak=True)
    state.recorder_generation += 1
    st.rerun()


def _reply(app: AppContext, state: ChatState, turn: TextTurn, *, speak: bool) -> bool:
    """Stream the reply, then speak it if asked; True when a spoken reply was stored."""
    with st.chat_message("assistant"):
        # The text first, as the stored reply is drawn: the rerun replaces it in place, never beside it.
        body = st.container()
        # Any click reruns the page, which stops the stream: the reply is kept as far as it came, marked
        # interrupted. This button says so.
        stop = st.empty()
        stop.button("Stop generating", key="stop-generating", icon=":material/stop_circle:")
        reply = turn.stream_reply()
        state.replying = turn
        try:
            with body:
                st.write_stream(stream_without_remote_images(reply))
            stop.empty()
        except ProviderError as exc:
            stop.empty()
            state.notice = ("error", exc.user_message)
            st.error(exc.user_message)
            return False
        finally:
            # A click that reruns the page (Stop generating, or any other) interrupts the stream: the reply is
            # stored now, as far as it came, before the next run reads the conversation - not whenever the
            # interrupted run's frames are collected.
            reply.close()
            state.replying = None
        if turn.tool_steps:
            tool_steps.show_steps(turn.tool_steps)
            if turn.reply is not None and held_step(turn.tool_steps) is not None:
                st.rerun()  # the confirm buttons are drawn with the stored reply
        if not speak or turn.reply is None:
            return False
        try:
            with st.spinner("Speaking…"):
                speaker = speaker_for(
                    app.settings, state.preferences, today=date.today(), openai_api_key=state.api_key
                )
                spoken = VoiceTurnService(store=app.store, settings=app.settings).speak_reply(
                    user=app.user, reply=turn.reply, speaker=speaker
                )
        except VoicechatError as exc:
            state.notice = (
                "warning",
                f"The reply could not be spoken, so here it is as text. {exc.user_message}",
            )
            return True
        if spoken is not None and state.preferences.autoplay:
            state.autoplay_audio_id = spoken.message.audio_id
        return True


def _options(state: ChatState) -> TurnOptions:
    return TurnOptions(model=state.model, system_prompt=state.system_prompt, timezone=browser_timezone())


def browser_timezone() -> str | None:
    """The browser's time zone (for the time tool), when it told us."""
    try:
        return st.context.timezone
    except Exception:  # an older browser or a test run without one
        return None


def _llm(app: AppContext, state: ChatState) -> LLM:
    return llm_for(app.settings, state.model, openai_api_key=state.api_key)
