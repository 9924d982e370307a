"""Play back a stored recording (a voice message or a spoken reply) under its message."""

from __future__ import annotations

import streamlit as st

from ui.context import AppContext
from voicechat.errors import NotFound


@st.cache_data(max_entries=200, show_spinner=False)
def _clip(_app: AppContext, owner_id: str, audio_id: str) -> tuple[bytes, str] | None:
    # Keyed by owner and audio id (the app context is not hashed); ownership is checked by the store.
    try:
        clip = _app.store.audio.get(owner_id=owner_id, audio_id=audio_id)
    except NotFound:
        return None
    return clip.data, clip.content_type


def replay(app: AppContext, audio_id: str, *, autoplay: bool = False) -> None:
    """An audio player for the clip (playing at once when ``autoplay``), or a short note when it is gone."""
    found = _clip(app, app.user.id, audio_id)
    if found is None:
        st.caption("Recording no longer available.")
    else:
        st.audio(found[0], format=found[1], autoplay=autoplay)
