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
from voicechat.turns.tool_rounds import ToolWatch


def reply_watch(host: EngineHost, key: str) -> ToolWatch:
    """The tools of reply ``key``, reported as they run."""

    def started(call: ToolCall) -> None:
        host.loop.call(host.emit, ToolActivity(key, call.name, "started"))

    def finished(step: ToolStep) -> None:
        state: ToolState = "finished" if step.status in ("ok", "awaiting_confirmation") else "failed"
        host.loop.call(host.emit, ToolActivity(key, step.name, state, step))

    return ToolWatch(started=started, finished=finished, filler=defaults.TOOL_FILLER)


class DraftWatch:
    """A drafted reply's tools: kept back while it is only a draft, reported once it becomes the reply."""

    def __init__(self, host: EngineHost) -> None:
        self._host = host
        self._lock = threading.Lock()
        self._key: str | None = None
        self._waiting: list[ToolCall | ToolStep] = []
        self.watch = ToolWatch(started=self._keep, finished=self._keep, filler=defaults.TOOL_FILLER)

    def adopt(self, key: str) -> None:
        """The draft is reply ``key``: report what it did so far, and the rest as it happens."""
        with self._lock:
            self._key, waiting, self._waiting = key, self._waiting, []
        for item in waiting:
            self._report(key, item)

    def _keep(self, item: ToolCall | ToolStep) -> None:
        with self._lock:
            key = self._key
            if key is None:
                self._waiting.append(item)
                return
        self._report(key, item)

    def _report(self, key: str, item: ToolCall | ToolStep) -> None:
        watch = reply_watch(self._host, key)
        if isinstance(item, ToolStep):
            watch.finished(item)
        else:
            watch.started(item)
