"""Typed per-session state: one dataclass under one key, created once per browser session."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Literal

import streamlit as st

from voicechat.config import Settings
from voicechat.models import VoicePreferences
from voicechat.preferences import usable_here
from voicechat.providers.chat_factory import default_chat_model
from voicechat.turns.text import TextTurn

_KEY = "voicechat"
REPLY_SETTLE_SECONDS = 5.0


@dataclass
class ChatState:
    """What this browser session has chosen. The API key typed here lives only in this session."""

    model: str
    system_prompt: str
    preferences: VoicePreferences  # the voice preferences in use (saved ones, made usable here)
    speak_replies: bool = False
    api_key: str | None = None
    history_cursor: str | None = None
    recorder_generation: int = 0  # bumped after each recording, so the recorder comes back empty
    autoplay_audio_id: str | None = None  # a reply clip to play once when the page next draws it
    handled_recording: str | None = None  # the recorder's file id already turned into a turn (or refused)
    notice: tuple[Literal["error", "warning", "info"], str] | None = None  # shown once on the next run
    endpoint: tuple[str, str, tuple[str, ...]] | None = None  # a local server chosen: (name, URL, models)
    pending_action: str | None = None  # a reply action to run on this run (regenerate)
    replying: TextTurn | None = None  # the reply a run is streaming (a click starts the next run meanwhile)
    widgets: int = 0  # bumped when the state changes outside the sidebar: its widgets start again from it


def session_settings(settings: Settings, state: ChatState) -> Settings:
    """The settings this session works with: a local server chosen here becomes its chat endpoint."""
    if state.endpoint is None:
        return settings
    _, base_url, models = state.endpoint
    return replace(settings, openai_base_url=base_url, chat_models=models, chat_model=models[0])


def chat_state(settings: Settings, preferences: Callable[[], VoicePreferences]) -> ChatState:
    """This session's state, created on first use from the user's preferences and the settings' defaults."""
    if _KEY not in st.session_state:
        saved = preferences()
        st.session_state[_KEY] = ChatState(
            model=default_chat_model(settings),
            system_prompt=saved.persona or settings.system_prompt,
            preferences=usable_here(saved, settings),
        )
    state: ChatState = st.session_state[_KEY]
    return state


def adopt_preferences(preferences: VoicePreferences, settings: Settings) -> None:
    """Use newly saved preferences in this session's chat from now on (speech, and the persona)."""
    state: ChatState | None = st.session_state.get(_KEY)
    if state is not None:
        state.preferences = usable_here(preferences, settings)
        if preferences.persona:
            state.system_prompt = preferences.persona
        state.widgets += 1  # the sidebar's widgets start again from the state


def conversation_id() -> str | None:
    """The open conversation, kept in the URL (``?c=``) so a reload or a shared link reopens it."""
    value = st.query_params.get("c")
    return value or None


def open_conversation(conversation: str | None) -> None:
    """Open ``conversation`` (None: start a new one)."""
    if conversation is None:
        st.query_params.pop("c", None)
    else:
        st.query_params["c"] = conversation


def wait_for_previous_reply(state: ChatState, timeout: float = REPLY_SETTLE_SECONDS) -> None:
    """A click while a reply streams (Stop generating, or anything else) starts this run at once, while the
    interrupted run still stores the reply as far as it came: wait for that (briefly) before drawing the
    conversation, so the reply is shown, marked interrupted."""
    turn = state.replying
    deadline = time.monotonic() + timeout
    while turn is not None and turn.status is None and time.monotonic() < deadline:
        time.sleep(0.05)
    state.replying = None
