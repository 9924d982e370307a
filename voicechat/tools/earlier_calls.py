"""Earlier turns' tool calls as context: a later question ("and who owns it?") is answered from what a tool
said before, without calling it again. Each call goes back with its stored (capped) result, marked as data
like any tool result, within ``TOOL_CONTEXT_CHARS`` for the whole context: the oldest results drop first."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

from voicechat import defaults
from voicechat.models import ContextMessage, ToolStep

_FUNCTION_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")  # what models accept ("unknown tool" is not one)


def kept_steps(context: Sequence[ContextMessage]) -> dict[str, tuple[ToolStep, ...]]:
    """The steps of each message (by id) that go back as context: the newest first, until their results
    fill the budget."""
    kept: dict[str, tuple[ToolStep, ...]] = {}
    left = defaults.TOOL_CONTEXT_CHARS
    for message in reversed(context):
        steps: list[ToolStep] = []
        for step in reversed(message.tool_steps):
            if message.role != "assistant" or not _FUNCTION_NAME.match(step.name):
                continue
            left -= len(step.result) + len(step.arguments)
            if left < 0:
                return kept
            steps.insert(0, step)
        if steps:
            kept[message.id] = tuple(steps)
    return kept


def call_id(message_id: str, index: int) -> str:
    """The id an earlier call goes back under (unique in the context)."""
    return f"earlier-{message_id[-12:]}-{index}"


def arguments_of(step: ToolStep) -> str:
    """The call's arguments as JSON (stored capped: a cut one goes back as ``{}``)."""
    try:
        json.loads(step.arguments or "{}")
    except json.JSONDecodeError:
        return "{}"
    return step.arguments or "{}"


def result_of(step: ToolStep) -> str:
    """The call's stored result as the model saw it: data, never instructions."""
    return json.dumps({"tool": step.name, "status": step.status, "data": step.result})
