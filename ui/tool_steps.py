"""Tool calls under a reply: one collapsible step each (what was called with what, what came back, how
long it took), and the confirm buttons under a reply whose last call waits for the user's yes. Tool output
is shown as plain text, never as Markdown or HTML: it comes from outside systems."""

from __future__ import annotations

import streamlit as st

from voicechat.models import ToolStep
from voicechat.providers.base import ToolCall
from voicechat.tools.runner import CONFIRM_REPLY, DECLINE_REPLY, held_steps
from voicechat.turns.tool_rounds import ToolWatch

STATUS_WORDS = {
    "ok": "done",
    "error": "failed",
    "timeout": "timed out",
    "awaiting_confirmation": "waiting for your confirmation",
    "declined": "declined",
    "unavailable": "unavailable",
}
STATUS_ICONS = {
    "ok": ":material/check_circle:",
    "awaiting_confirmation": ":material/help:",
}


def label(name: str) -> str:
    """A tool's name as people read it ("board__open_ticket" -> "board: open ticket")."""
    source, _, tool = name.rpartition("__")
    words = tool.replace("_", " ")
    return f"{source}: {words}" if source else words


def show_steps(steps: tuple[ToolStep, ...]) -> None:
    """The reply's tool calls, collapsed."""
    for step in steps:
        icon = STATUS_ICONS.get(step.status, ":material/error:")
        title = f"Tool: {label(step.name)} - {STATUS_WORDS[step.status]} ({step.duration_ms:.0f} ms)"
        with st.expander(title, icon=icon):
            st.caption(f"From {step.source}. Arguments:")
            st.code(step.arguments or "{}", language="json", wrap_lines=True)
            st.caption("Result:")
            st.text(step.result or "(nothing)")


def confirm_buttons(message_id: str, steps: tuple[ToolStep, ...]) -> str | None:
    """Under a reply whose last call waits for confirmation: what the user answered, if they just did."""
    if not held_steps(steps):
        return None
    st.caption(f"The assistant wants to use **{label(steps[-1].name)}**. Go ahead?")
    yes, no, _ = st.columns([1, 1, 3])
    if yes.button("Yes, go ahead", key=f"confirm-{message_id}", type="primary", icon=":material/check:"):
        return CONFIRM_REPLY
    if no.button("No", key=f"decline-{message_id}", icon=":material/close:"):
        return DECLINE_REPLY
    return None


def live_watch() -> ToolWatch:
    """Shows each call as it starts, inside the reply being streamed."""

    def started(call: ToolCall) -> None:
        st.caption(f":material/build: Using {label(call.name)}…")

    return ToolWatch(started=started)
