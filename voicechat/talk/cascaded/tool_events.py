"""A call's tools as events: each call shown as it starts and ends (``ToolActivity``), its step stored with
the reply, and a filler said while a slow one runs. Tool rounds run on a worker thread: every event is
handed to the session's loop."""

from __future__ import annotations

import threading

from voicechat import defaults
from voicechat.models import ToolStep
from voicechat.providers.base import ToolCall
from voicechat.talk.engine import EngineHost
from voicechat.talk.events import ToolActivity, ToolState
from voicechat.tools.runner import SETTLED
from voicechat.turns.tool_rounds import ToolWatch


def reply_watch(host: EngineHost, key: str) -> ToolWatch:
    """The tools of reply ``key``, reported as they run (from the worker thread that runs them)."""
    return ToolWatch(
        started=lambda call: host.loop.call(host.emit, activity(key, call)),
        finished=lambda step: host.loop.call(host.emit, activity(key, step)),
        filler=defaults.TOOL_FILLER,
    )


def activity(key: str, item: ToolCall | ToolStep) -> ToolActivity:
    """A call starting, or a step that ended, as an event of reply ``key``."""
    if isinstance(item, ToolCall):
        return ToolActivity(key, item.name, "started")
    state: ToolState = "finished" if item.status in SETTLED else "failed"
    return ToolActivity(key, item.name, state, item)


class DraftWatch:
    """A drafted reply's tools: kept back while it is only a draft, reported once it becomes the reply."""

    def __init__(self, host: EngineHost) -> None:
        self._host = host
        self._lock = threading.Lock()
        self._key: str | None = None
        self._waiting: list[ToolCall | ToolStep] = []
        self.watch = ToolWatch(started=self._keep, finished=self._keep, filler=defaults.TOOL_FILLER)

    def adopt(self, key: str) -> None:
        """The draft is reply ``key`` (called on the loop): report what it did so far at once, before its
        buffered text is taken (the reply is stored with its steps), and the rest as it happens."""
        with self._lock:
            self._key, waiting, self._waiting = key, self._waiting, []
        for item in waiting:
            self._host.emit(activity(key, item))

    def _keep(self, item: ToolCall | ToolStep) -> None:
        with self._lock:
            key = self._key
            if key is None:
                self._waiting.append(item)
                return
        self._host.loop.call(self._host.emit, activity(key, item))
