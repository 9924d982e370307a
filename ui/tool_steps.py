"""Tool calls under a reply: one collapsible step each (what was called with what, what came back, how
long it took), and the confirm buttons under a reply whose last call waits for the user's yes. Tool output
is shown as plain text, never as Markdown or HTML: it comes from outside systems. So do tool names (an MCP
server picks its own), which ``label`` escapes wherever they are put into Markdown."""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from voicechat.models import ToolStep
from voicechat.providers.base import ToolCall
from voicechat.rendering import escape_markdown
from voicechat.tools.confirmation import Verdict
from voicechat.tools.runner import CONFIRM_REPLY, DECLINE_REPLY, held_step
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
    """A tool's name as people read it ("board__open_ticket" -> "board: open ticket"), escaped for the
    Markdown of titles, captions and labels: whatever the name holds, it shows as literal text."""
    source, _, tool = name.rpartition("__")
    words = escape_markdown(" ".join(tool.replace("_", " ").split()))
    return f"{escape_markdown(source)}: {words}" if source else words


def show_steps(steps: tuple[ToolStep, ...]) -> None:
    """The reply's tool calls, collapsed."""
    for step in steps:
        icon = STATUS_ICONS.get(step.status, ":material/error:")
        title = f"Tool: {label(step.name)} - {STATUS_WORDS[step.status]} ({step.duration_ms:.0f} ms)"
        with st.expander(title, icon=icon):
            st.caption(f"From {escape_markdown(step.source)}. Arguments:")
            st.code(step.arguments or "{}", language="json", wrap_lines=True)
            st.caption("Result:")
            st.text(step.result or "(nothing)")


@dataclass(frozen=True)
class Pressed:
    """The user's button under a held call: the verdict, the words stored as their message, and the call
    they saw (it runs only if it is the one still waiting)."""

    verdict: Verdict
    words: str
    seen: ToolStep


def confirm_buttons(message_id: str, steps: tuple[ToolStep, ...], *, waiting: bool) -> Pressed | None:
    """Under a reply whose last call waits for confirmation (``waiting``: it still does): exactly what will
    run, in plain text, and Yes / No; what the user pressed, if they just did."""
    step = held_step(steps)
    if not waiting or step is None:
        return None
    st.caption(
        f"The assistant wants to use **{label(step.name)}** from {escape_markdown(step.source)}, "
        "with these arguments. Go ahead?"
    )
    st.code(step.arguments or "{}", language="json", wrap_lines=True)
    yes, no, _ = st.columns([1, 1, 3])
    if yes.button("Yes, go ahead", key=f"confirm-{message_id}", type="primary", icon=":material/check:"):
        return Pressed("yes", CONFIRM_REPLY, step)
    if no.button("No", key=f"decline-{message_id}", icon=":material/close:"):
        return Pressed("no", DECLINE_REPLY, step)
    return None


def live_watch() -> ToolWatch:
    """Shows each call as it starts, inside the reply being streamed."""

    def started(call: ToolCall) -> None:
        st.caption(f":material/build: Using {label(call.name)}…")

    return ToolWatch(started=started)
