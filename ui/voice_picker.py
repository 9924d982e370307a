"""The Voice list: the voices the chosen speech provider offers, by name, starting from the saved voice."""

from __future__ import annotations

from typing import Any

import streamlit as st

from voicechat.config import Settings
from voicechat.models import VoicePreferences
from voicechat.voice_catalog import voices_for


def pick_voice(
    settings: Settings, provider: str, saved: VoicePreferences, *, where: Any = st, **widget: Any
) -> tuple[str, str | None]:
    """A selectbox of ``provider``'s voices in ``where`` (a voice saved for it stays choosable even when
    the provider does not list it); the voice chosen, and why the list is short if it is. ``widget``: more
    ``st.selectbox`` arguments (key, help)."""
    listed = voices_for(settings, provider)
    voice_ids = [option.id for option in listed.options]
    if saved.voice not in voice_ids and saved.tts_provider == provider:
        voice_ids.insert(0, saved.voice)
    names = {option.id: option.label for option in listed.options}
    voice = where.selectbox(
        "Voice",
        voice_ids,
        index=voice_ids.index(saved.voice) if saved.voice in voice_ids else 0,
        format_func=lambda voice_id: names.get(voice_id, voice_id),
        **widget,
    )
    return str(voice), listed.problem
