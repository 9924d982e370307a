"""Tools of MCP servers, through the official ``mcp`` SDK: one open session per server for the process, or
one per user for a server whose headers carry the user's identity (``${user.email}``, ``${user.id}``).

Each session lives in its own task on a private event loop (the SDK's context managers must be entered and
left in one task); calls are queued to it. A server that cannot be reached, or whose session breaks, is
marked unavailable with the error's kind and tried again after ``MCP_RETRY_SECONDS``; a user's session
closes after ``MCP_USER_IDLE_SECONDS`` without a call. Only the admin's configuration (and, in a per-user
header, the signed-in user's verified email and id) reaches a server: no user's key, and no header or
environment value in any log. A stdio server's stderr is drained apart: at most ``MCP_STDERR_LOG_BYTES`` of
it is logged, at DEBUG.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import os
import re
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, cast

import httpx2
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from mcp_types import CallToolResult, TextContent

from voicechat import defaults
from voicechat.models import User
from voicechat.talk.runtime.loop_thread import LoopThread
from voicechat.tools.mcp_config import McpServerConfig, UnsafeHeader
from voicechat.tools.runner import ToolUnavailable
from voicechat.tools.spec import Tool, ToolContext

log = logging.getLogger(__name__)
_NOT_NAME = re.compile(r"[^A-Za-z0-9_-]")
Request = Callable[[Client], Awaitable[Any]]
_Item = tuple[Request, "asyncio.Future[Any]"]
_END: Any = object()  # queued to end a session
_Key = tuple[str, str | None]  # (server, user id) - no user: the server's one shared session
FIRST_LISTING_SECONDS = 3.0  # how long a turn waits for a server's first listing


@dataclass(frozen=True)
class McpToolInfo:
    """A tool a server lists: the name the model calls it by (``server__tool``), and what it is.
    ``read_only_hint`` is the server's own claim that it only reads: shown to the admin, never trusted."""

    server: str
    tool: str
    description: str
    input_schema: dict[str, Any]
    read_only_hint: bool

    @property
    def name(self) -> str:
        """The tool's name for the model: unique across servers, within the 64 characters models allow."""
        return _NOT_NAME.sub("_", f"{self.server}__{self.tool}")[:64]


@dataclass
class _Session:
    config: McpServerConfig
    headers: tuple[tuple[str, str], ...]
    key: _Key
    queue: asyncio.Queue[_Item] = field(default_factory=asyncio.Queue)
    task: asyncio.Task[None] | None = None
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    tools: tuple[McpToolInfo, ...] = ()
    error: str | None = None  # the kind of the last failure, while unavailable
    failed_at: float = -defaults.MCP_RETRY_SECONDS


class McpHub:
    """Every configured server's sessions, shared by the process's turns and calls (thread-safe)."""

    def __init__(self, servers: tuple[McpServerConfig, ...]) -> None:
        self._loop = LoopThread(name="mcp")
        self._configs = {s.name: s for s in servers}
        self._sessions: dict[_Key, _Session] = {}  # touched on the loop only

    def tools(self, user: User | None = None) -> list[McpToolInfo]:
        """The tools of every reachable server (a per-user server's as ``user`` sees them; none without a
        user). A server not tried yet is connected to (waiting a little); one that failed is retried in
        the background when due, without holding up the turn."""
        return list(self._submit(self._all_tools(user)))

    def status(self, user: User | None = None) -> dict[str, str | None]:
        """Each server's last failure kind (None: reachable, or not tried yet), per-user ones as ``user``'s
        session is."""
        return cast(dict[str, str | None], self._submit(self._status(user)))

    def open_sessions(self) -> dict[str, int]:
        """How many sessions each server has open now (a per-user server: one per user recently active)."""
        return cast(dict[str, int], self._submit(self._open_sessions()))

    def call(
        self, server: str, tool: str, arguments: dict[str, Any], *, user: User, timeout: float
    ) -> CallToolResult:
        """Call ``tool`` on ``server`` for ``user``. Raises ToolUnavailable (server down), MCPError (refused
        by it)."""
        request = self._request(server, user, lambda c: c.call_tool(tool, arguments, timeout))
        return cast(CallToolResult, self._submit(request, timeout + 1))

    def close(self) -> None:
        """End every session (each in the task that opened it) and stop the loop."""
        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(self._end_sessions(), self._loop.loop).result(timeout=10)
        self._loop.stop()

    async def _end_sessions(self) -> None:
        tasks = [s.task for s in self._sessions.values() if s.task is not None]
        for session in self._sessions.values():
            session.queue.put_nowait(_END)
        if tasks:
            await asyncio.wait(tasks, timeout=5)

    def _submit(self, coroutine: Any, timeout: float = defaults.MCP_CONNECT_SECONDS + 1) -> Any:
        try:
            return asyncio.run_coroutine_threadsafe(coroutine, self._loop.loop).result(timeout=timeout)
        except TimeoutError:
            raise ToolUnavailable("no answer") from None

    def _session(self, name: str, user: User | None) -> _Session:
        """The session for ``user`` with server ``name`` (made, not opened, when new; on the loop)."""
        config = self._configs.get(name)
        if config is None:
            raise ToolUnavailable("not configured")
        if not config.per_user:
            key: _Key = (name, None)
            headers = config.headers
        elif user is None or not user.email_verified:
            raise ToolUnavailable("needs a signed-in user with a verified email")
        else:
            key = (name, user.id)
            if key in self._sessions:
                return self._sessions[key]
            try:
                headers = config.headers_for(email=user.email, user_id=user.id)
            except UnsafeHeader:
                raise ToolUnavailable("the user's identity is not header-safe") from None
        if key not in self._sessions:
            self._sessions[key] = _Session(config, headers, key)
        return self._sessions[key]

    def _users_sessions(self, user: User | None) -> list[_Session]:
        sessions = []
        for name in self._configs:
            with contextlib.suppress(ToolUnavailable):  # a per-user server, without a verified user
                sessions.append(self._session(name, user))
        return sessions

    async def _open_sessions(self) -> dict[str, int]:
        counts = dict.fromkeys(self._configs, 0)
        for (name, _), session in self._sessions.items():
            counts[name] += session.task is not None
        return counts

    async def _status(self, user: User | None) -> dict[str, str | None]:
        errors: dict[str, str | None] = dict.fromkeys(self._configs)
        for session in self._users_sessions(user):
            errors[session.config.name] = session.error
        return errors

    async def _all_tools(self, user: User | None) -> list[McpToolInfo]:
        sessions = self._users_sessions(user)
        waiting = []
        for session in sessions:
            tried = session.task is not None or session.error is not None
            if self._start(session) and not tried:
                waiting.append(session)
        if waiting:
            await asyncio.wait(
                [asyncio.create_task(s.ready.wait()) for s in waiting], timeout=FIRST_LISTING_SECONDS
            )
        return [tool for s in sessions if s.task is not None and s.ready.is_set() for tool in s.tools]

    async def _request(self, name: str, user: User, request: Request) -> Any:
        session = await self._connected(name, user)
        answer: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        session.queue.put_nowait((request, answer))
        return await answer

    async def _connected(self, name: str, user: User) -> _Session:
        session = self._session(name, user)
        if not self._start(session):
            raise ToolUnavailable(session.error or "unavailable")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(session.ready.wait(), defaults.MCP_CONNECT_SECONDS)
        if not session.ready.is_set() or session.task is None:
            raise ToolUnavailable(session.error or "no answer")
        return session

    def _start(self, session: _Session) -> bool:
        """Open the session unless open or failed too recently; whether one is open or opening."""
        if session.task is None:
            if time.monotonic() - session.failed_at < defaults.MCP_RETRY_SECONDS:
                return False
            session.ready.clear()
            session.task = asyncio.create_task(self._serve(session))
        return True

    async def _serve(self, session: _Session) -> None:
        name = session.config.name
        try:
            async with contextlib.AsyncExitStack() as stack:
                transport = await _transport(session.config, session.headers, stack)
                client = await stack.enter_async_context(Client(transport))
                listed = await client.list_tools()
                session.tools = tuple(_info(name, t) for t in listed.tools)
                session.error = None
                session.ready.set()
                await self._answer(session, client)
        except Exception as exc:  # unreachable, or the session broke: unavailable until retried
            session.error = type(exc).__name__
            session.failed_at = time.monotonic()
            log.warning("MCP server %s unavailable (%s)", name, session.error)
        finally:
            session.task = None
            session.ready.set()
            while not session.queue.empty():
                if (item := session.queue.get_nowait()) is _END:
                    continue
                _, answer = item
                if not answer.done():
                    answer.set_exception(ToolUnavailable(session.error or "closed"))

    async def _answer(self, session: _Session, client: Client) -> None:
        """Run the session's queued requests until it ends (a user's session: until it sits idle)."""
        idle = defaults.MCP_USER_IDLE_SECONDS if session.key[1] is not None else None
        while True:
            try:
                item = await asyncio.wait_for(session.queue.get(), idle)
            except TimeoutError:
                if not session.queue.empty():
                    continue
                # Forgotten before the session closes, so a new call opens a new one instead of queueing here.
                self._sessions.pop(session.key, None)
                return
            if item is _END:
                return
            request, answer = item
            if answer.done():
                continue
            try:
                answer.set_result(await request(client))
            except MCPError as exc:  # the server refused this call; the session is fine
                answer.set_exception(exc)


class StderrSink:
    """Where a stdio server's stderr goes: a pipe drained by a thread, so the server never blocks on it and
    none of it reaches the app's stderr; its first ``limit`` bytes are logged at DEBUG, the rest dropped."""

    def __init__(self, server: str, limit: int = defaults.MCP_STDERR_LOG_BYTES) -> None:
        read_end, write_end = os.pipe()
        self.file = os.fdopen(write_end, "w")  # given to the subprocess as its stderr
        self._server, self._limit = server, limit
        self._drain = threading.Thread(
            target=self._read, args=(os.fdopen(read_end, "rb"),), name=f"mcp-stderr-{server}", daemon=True
        )
        self._drain.start()

    def close(self) -> None:
        """Close this process's copy of the pipe: draining ends once the server's copy closes too."""
        self.file.close()

    def _read(self, pipe: io.BufferedReader) -> None:
        logged = 0
        with pipe:
            while chunk := pipe.read1(4096):
                if logged < self._limit:
                    part = chunk[: self._limit - logged]
                    logged += len(part)
                    log.debug("MCP server %s stderr: %s", self._server, part.decode(errors="replace"))


async def _transport(
    config: McpServerConfig, headers: tuple[tuple[str, str], ...], stack: contextlib.AsyncExitStack
) -> Any:
    if config.command is not None:
        sink = StderrSink(config.name)
        stack.callback(sink.close)
        parameters = StdioServerParameters(
            command=config.command, args=list(config.args), env=dict(config.env) or None
        )
        return stdio_client(parameters, errlog=cast(Any, sink.file))
    assert config.url is not None
    http = await stack.enter_async_context(
        httpx2.AsyncClient(headers=dict(headers), timeout=defaults.MCP_CONNECT_SECONDS)
    )
    return streamable_http_client(config.url, http_client=http)


def _info(server: str, tool: Any) -> McpToolInfo:
    hints = tool.annotations
    return McpToolInfo(
        server=server,
        tool=tool.name,
        description=(tool.description or tool.name)[:1000],
        input_schema=dict(tool.input_schema or {"type": "object", "properties": {}}),
        read_only_hint=bool(hints is not None and hints.read_only_hint),
    )


class McpTool(Tool):
    """One MCP server's tool, called through the hub for the call's user. ``read_only`` is the admin's
    switch (the server's hint is only a suggestion): it decides whether a drafted reply may run it ahead."""

    def __init__(self, hub: McpHub, info: McpToolInfo, *, read_only: bool = False) -> None:
        super().__init__(
            name=info.name,
            description=info.description,
            parameters=info.input_schema,
            read_only=read_only,
            source=info.server,
        )
        self._hub, self._info = hub, info

    @property
    def read_only_hint(self) -> bool:
        """Whether the server says the tool only reads (a suggestion for the admin)."""
        return self._info.read_only_hint

    def run(self, arguments: dict[str, Any], context: ToolContext) -> str:
        """See ``Tool.run``; the result's text parts, or its structured content."""
        result = self._hub.call(
            self._info.server,
            self._info.tool,
            arguments,
            user=context.user,
            timeout=defaults.TOOL_TIMEOUT_SECONDS,
        )
        text = "\n".join(block.text for block in result.content if isinstance(block, TextContent))
        if not text and result.structured_content is not None:
            text = str(result.structured_content)
        if result.is_error:
            raise RuntimeError(text or "the tool reported an error")
        return text
