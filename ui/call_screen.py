"""The call screen: the call's state in words, icon and colour, its running time, the microphone level, live
captions of both sides, the last turn's latencies, and big Mute and End call buttons, in the app's own style.

It only draws a ``TalkSnapshot`` (``None`` while the call still connects) and says which button was pressed;
``talk_panel`` acts on it.
"""

from __future__ import annotations

from typing import Any, Literal

import streamlit as st

from ui.tool_steps import label
from voicechat.rendering import escape_markdown, without_remote_images
from voicechat.talk.call_status import call_status, call_time
from voicechat.talk.view import TalkSnapshot

Action = Literal["end", "mute"]
END: Action = "end"
MUTE: Action = "mute"
CAPTION_LINES = 6
_STYLE = """<style>
.st-key-start-call button, .st-key-mute-call button, .st-key-end-call button {
  min-height: 3.25rem; font-size: 1.05rem; }
.st-key-end-call button { background-color: #c62828; border-color: #c62828; color: #fff; }
.st-key-end-call button:hover, .st-key-end-call button:focus {
  background-color: #a31515; border-color: #a31515; color: #fff; }
</style>"""
_LATENCY_NAMES = {
    "end_of_turn_ms": "end of turn",
    "stt_ms": "transcription",
    "first_token_ms": "first token",
    "tts_first_byte_ms": "first audio byte",
    "voice_to_voice_ms": "voice to voice",
    "barge_in_ms": "barge-in",
}


def style() -> None:
    """The call buttons' look (big, End call in red); takes no space on the page."""
    st.html(_STYLE)


def show(snap: TalkSnapshot | None) -> Action | None:
    """Draw the call screen; the button the user pressed in this run, if any."""
    status = call_status(snap)
    muted = snap is not None and snap.muted
    with st.container(border=True, key="call-screen"):
        head = st.columns([3, 1], vertical_alignment="center")
        badges = f":{status.colour}-badge[:material/{status.icon}: {status.words}]"
        if muted:
            badges += " :gray-badge[:material/mic_off: Microphone off]"
        head[0].markdown(badges)
        head[1].markdown(f"Call time **{call_time(snap.elapsed_s if snap else 0.0)}**")
        head[0].progress(_level(snap), text="Microphone off" if muted else "Microphone level")
        _captions(snap)
        controls = st.columns([1, 2])
        mute = controls[0].button(
            "Unmute" if muted else "Mute",
            key="mute-call",
            icon=":material/mic:" if muted else ":material/mic_off:",
            width="stretch",
            disabled=snap is None or snap.state == "stopped",
            help="While muted the assistant hears nothing; the call stays on.",
        )
        end = controls[1].button(
            "End call", key="end-call", type="primary", icon=":material/call_end:", width="stretch"
        )
        if snap is not None and snap.last_turn is not None:
            st.caption("Last turn (ms): " + latencies(snap.last_turn.__dict__))
        if snap is not None and snap.vad:
            decided = "decided by the voice engine" if snap.vad == "provider" else snap.vad
            st.caption(f"End of turn: {decided}")
    return END if end else MUTE if mute else None


def _level(snap: TalkSnapshot | None) -> float:
    if snap is None or snap.muted or snap.level_dbfs == float("-inf"):
        return 0.0
    return min(1.0, max(0.0, (snap.level_dbfs + 60) / 60))


def _captions(snap: TalkSnapshot | None) -> None:
    """Both sides' words as they come (the user's partial words when the engine gives them)."""
    st.caption("Live captions")
    if snap is None:
        st.caption("Connecting the call: allow the microphone if the browser asks.")
        return
    if not snap.transcript:
        st.caption("Say something: your words show here as you speak.")
    for line in snap.transcript[-CAPTION_LINES:]:
        with st.chat_message(line.role):
            st.markdown(without_remote_images(line.text) or "…")
            if line.interrupted:
                st.caption("✋ interrupted - kept as far as you heard it")
    if snap.tool:
        st.caption(f":material/build: Using {label(snap.tool)}…")
    if snap.held is not None:  # what a spoken yes will run, exactly, whatever the model's question said
        held = snap.held
        st.caption(
            f":material/help: Waiting for your yes: **{label(held.name)}** from "
            f"{escape_markdown(held.source)}, with these arguments (say yes or no):"
        )
        st.code(held.arguments or "{}", language="json", wrap_lines=True)
    if snap.error:
        st.warning(snap.error)


def latencies(values: dict[str, Any]) -> str:
    """A turn's latencies in ms, by name: ``end of turn 229 · transcription 2 · ...``."""
    return " · ".join(
        f"{name} {values[key]:.0f}" for key, name in _LATENCY_NAMES.items() if values.get(key) is not None
    )
