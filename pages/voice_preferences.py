"""Voice preferences (placeholder until the voice issues land)."""

from __future__ import annotations

import streamlit as st

from ui import context

app = context.current()
st.title("Voice preferences")
st.info(
    "Voice is coming: push-to-talk and hands-free conversation. This page will hold your voice, speed, "
    "language, speech providers, turn-taking sensitivity, barge-in and persona - saved to your account.",
    icon=":material/record_voice_over:",
)
st.caption(f"Signed in as {app.user.name}. Text chat works today on the Chat page.")
