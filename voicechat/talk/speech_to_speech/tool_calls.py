"""A speech-to-speech model's function calls, run by the same runner as every other engine's: each call is
reported as it starts and ends (``ToolActivity``: shown, stored with the reply), billed as a tool event, and
its result returned as data for the engine to send back to its provider."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from voicechat.providers.base import FunctionSpec, ToolCall
from voicechat.talk.engine import EngineHost
from voicechat.talk.events import ToolActivity, ToolState, UsageMeasured
from voicechat.tools.runner import SETTLED, tool_usage
from voicechat.tools.spec import ToolOutcome

TOOLS_OFF = json.dumps({"status": "error", "data": "Tools are not available in this conversation."})


class EngineTools:
    """The tools of one call on a speech-to-speech engine (on the session's loop)."""

    def __init__(self, host: EngineHost) -> None:
        self._host = host
        self.specs: tuple[FunctionSpec, ...] = ()
        self.instructions = ""  # what the model is told besides its persona when it has tools

    async def prepare(self) -> None:
        """Learn which tools the model may call (before the session is configured)."""
        box, self.instructions = await asyncio.wrap_future(
            self._host.recorder.toolbox("", "", open_conversation=False)
        )
        self.specs = box.specs if box is not None else ()

    def heard(self, said: str, utterance: str) -> None:
        """The user said ``said`` in utterance ``utterance``: it answers a held call, if one waits (anything
        but a clear yes drops it)."""
        self._host.recorder.heard(said, utterance)

    async def run(
        self, key: str, calls: list[ToolCall], said: str, utterance: str
    ) -> list[ToolOutcome | str]:
        """Run ``calls`` (made while answering reply ``key``; the user last said ``said``, in their
        utterance ``utterance``) together; each result's content for the model, in order."""
        host = self._host
        box, _ = await asyncio.wrap_future(host.recorder.toolbox(said, utterance, open_conversation=True))
        if box is None:
            return [TOOLS_OFF for _ in calls]
        for call in calls:
            host.emit(ToolActivity(key, box.name_of(call), "started"))
        loop = asyncio.get_running_loop()
        outcomes = await asyncio.gather(*(loop.run_in_executor(None, box.run, call) for call in calls))
        for outcome in outcomes:
            step = outcome.step
            state: ToolState = "finished" if step.status in SETTLED else "failed"
            host.emit(ToolActivity(key, step.name, state, step))
            host.emit(UsageMeasured(tool_usage(step)))
        return list(outcomes)


def content_of(result: ToolOutcome | str) -> str:
    """What goes back to the provider as the call's output."""
    return result if isinstance(result, str) else result.content


def realtime_tools(specs: tuple[FunctionSpec, ...]) -> list[dict[str, Any]]:
    """The specs as a Realtime session's ``tools``."""
    return [
        {
            "type": "function",
            "name": s.name,
            "description": s.description,
            "parameters": json.loads(s.parameters),
        }
        for s in specs
    ]
