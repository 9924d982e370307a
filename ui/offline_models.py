"""Loading the offline models with visible progress, once per process, before the first offline turn."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st

from ui.state import ChatState
from voicechat.providers.chat_factory import is_local
from voicechat.providers.local.model_files import LocalEngineUnavailable
from voicechat.providers.local.models import shared_models


def prepare(state: ChatState) -> None:
    """Load whatever local model this session will use and is not loaded yet, saying what happens."""
    engines = shared_models()  # one thread-safe holder per process, shared by every session
    loaders: dict[str, Callable[[], Any]] = {}
    if is_local(state.model):
        loaders["chat model"] = engines.chat_model
    if state.preferences.stt_provider == "local":
        loaders["recogniser"] = engines.recogniser
    if state.preferences.tts_provider == "local":
        loaders["voice"] = engines.synthesiser
    missing = {what: load for what, load in loaders.items() if not engines.loaded(what)}
    if not missing:
        return
    with st.status("Loading the offline models (once per server start)…", expanded=True) as status:
        for what, load in missing.items():
            try:
                load()
            except LocalEngineUnavailable as exc:
                st.write(f"The offline {what} is not available: {exc.user_message}")
                continue
            st.write(f"The offline {what} is ready ({engines.load_seconds[what]:.1f} s).")
        status.update(label="Offline models loaded", state="complete", expanded=False)
