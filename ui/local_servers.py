"""Offering the OpenAI-compatible servers running on this machine (Ollama, LM Studio, …) for a session."""

from __future__ import annotations

from dataclasses import replace

import streamlit as st

from ui.state import ChatState
from voicechat.config import Settings
from voicechat.preferences import local_offer
from voicechat.providers.chat_factory import default_chat_model
from voicechat.providers.local.servers import LocalServer, find_local_servers


@st.cache_data(ttl=30, show_spinner=False)
def found(candidates: tuple[tuple[str, str], ...]) -> list[LocalServer]:
    """The servers answering now (asked again at most every 30 s)."""
    return find_local_servers(candidates)


def offer(settings: Settings, state: ChatState) -> None:
    """A button per server found; once one is chosen, what is in use and how to stop using it."""
    if state.endpoint is not None:
        name, url, _ = state.endpoint
        cols = st.columns([4, 1])
        cols[0].caption(f"Chatting through {name} at {url}, on this machine.")
        if cols[1].button("Stop using it", key="local-server-stop"):
            state.endpoint, state.model = None, default_chat_model(settings, openai_api_key=state.api_key)
            state.widgets += 1  # the model list changes: the sidebar starts again from the state
            st.rerun()
        return
    for server in found(settings.local_servers):
        shown = ", ".join(server.models[:3]) + ("…" if len(server.models) > 3 else "")
        if st.button(f"Use {server.name} on this machine ({shown})", key=f"local-server-{server.base_url}"):
            state.endpoint = (server.name, server.base_url, server.models)
            state.model = server.models[0]
            state.widgets += 1  # the model list changes: the sidebar starts again from the state
            if local_offer(settings).available:  # its server has no speech: hear and speak here too
                state.preferences = replace(state.preferences, stt_provider="local", tts_provider="local")
            st.rerun()
