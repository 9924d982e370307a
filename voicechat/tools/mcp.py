"""Tools of MCP servers, through the official ``mcp`` SDK: one open session per server for the process.

Each server's session lives in its own task on a private event loop (the SDK's context managers must be
entered and left in one task); calls are queued to it. A server that cannot be reached, or whose session
breaks, is marked unavailable with the error's kind and tried again after ``MCP_RETRY_SECONDS``. Only the
admin's configuration reaches a server: no user's key, and no header or environment value in any log.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, cast

import httpx2
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from mcp_types import CallToolResult, TextContent

from voicechat import defaults
from voicechat.talk.runtime.loop_thread import LoopThread
from voicechat.tools.mcp_config import McpServerConfig
from voicechat.tools.runner import ToolUnavailable
from voicechat.tools.spec import Tool, ToolContext

log = logging.getLogger(__name__)
_NOT_NAME = re.compile(r"[^A-Za-z0-9_-]")
Request = Callable[[Client], Awaitable[Any]]
_Item = tuple[Request, "asyncio.Future[Any]"]
_END: Any = object()  # queued to end a session
FIRST_LISTING_SECONDS = 3.0  # how long a turn waits for a server's first listing


@dataclass(frozen=True)
class McpToolInfo:
    """A tool a server lists: the name the model calls it by (``server__tool``), and what it is."""

    server: str
    tool: str
    description: str
    input_schema: dict[str, Any]
    read_only: bool

    @property
    def name(self) -> str:
        """The tool's name for the model: unique across servers, within the 64 characters models allow."""
        return _NOT_NAME.sub("_", f"{self.server}__{self.tool}")[:64]


@dataclass
class _Server:
    config: McpServerConfig
    queue: asyncio.Queue[_Item] = field(default_factory=asyncio.Queue)
    task: asyncio.Task[None] | None = None
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    tools: tuple[McpToolInfo, ...] = ()
    error: str | None = None  # the kind of the last failure, while unavailable
    failed_at: float = -defaults.MCP_RETRY_SECONDS


class McpHub:
    """Every configured server's session, shared by the process's turns and calls (thread-safe)."""

    def __init__(self, servers: tuple[McpServerConfig, ...]) -> None:
        self._loop = LoopThread(name="mcp")
        self._servers = {s.name: _Server(s) for s in servers} if servers else {}

    def tools(self) -> list[McpToolInfo]:
        """The tools of every reachable server. A server not tried yet is connected to (waiting a little);
        one that failed is retried in the background when due, without holding up the turn."""
        return list(self._submit(self._all_tools()))

    def status(self) -> dict[str, str | None]:
        """Each server's last failure kind (None: reachable, or not tried yet)."""
        return {name: server.error for name, server in self._servers.items()}

    def call(self, server: str, tool: str, arguments: dict[str, Any], *, timeout: float) -> CallToolResult:
        """Call ``tool`` on ``server``. Raises ToolUnavailable (server down), MCPError (refused by it)."""
        request = self._request(server, lambda c: c.call_tool(tool, arguments, timeout))
        return cast(CallToolResult, self._submit(request, timeout + 1))

    def close(self) -> None:
        """End every session (each in the task that opened it) and stop the loop."""
        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(self._end_sessions(), self._loop.loop).result(timeout=10)
        self._loop.stop()

    async def _end_sessions(self) -> None:
        tasks = [s.task for s in self._servers.values() if s.task is not None]
        for server in self._servers.values():
            server.queue.put_nowait(_END)
        if tasks:
            await asyncio.wait(tasks, timeout=5)

    def _submit(self, coroutine: Any, timeout: float = defaults.MCP_CONNECT_SECONDS + 1) -> Any:
        try:
            return asyncio.run_coroutine_threadsafe(coroutine, self._loop.loop).result(timeout=timeout)
        except TimeoutError:
            raise ToolUnavailable("no answer") from None

    async def _all_tools(self) -> list[McpToolInfo]:
        waiting = []
        for server in self._servers.values():
            tried = server.task is not None or server.error is not None
            if self._start(server) and not tried:
                waiting.append(server)
        if waiting:
            await asyncio.wait(
                [asyncio.create_task(s.ready.wait()) for s in waiting], timeout=FIRST_LISTING_SECONDS
            )
        return [
            tool
            for s in self._servers.values()
            if s.task is not None and s.ready.is_set()
            for tool in s.tools
        ]

    async def _request(self, name: str, request: Request) -> Any:
        server = await self._connected(name)
        answer: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        server.queue.put_nowait((request, answer))
        return await answer

    async def _connected(self, name: str) -> _Server:
        server = self._servers.get(name)
        if server is None:
            raise ToolUnavailable("not configured")
        if not self._start(server):
            raise ToolUnavailable(server.error or "unavailable")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(server.ready.wait(), defaults.MCP_CONNECT_SECONDS)
        if not server.ready.is_set() or server.task is None:
            raise ToolUnavailable(server.error or "no answer")
        return server

    def _start(self, server: _Server) -> bool:
        """Open the server's session unless open or failed too recently; whether one is open or opening."""
        if server.task is None:
            if time.monotonic() - server.failed_at < defaults.MCP_RETRY_SECONDS:
                return False
            server.ready.clear()
            server.task = asyncio.create_task(self._serve(server))
        return True

    async def _serve(self, server: _Server) -> None:
        try:
            async with contextlib.AsyncExitStack() as stack:
                client = await stack.enter_async_context(Client(await _transport(server.config, stack)))
                listed = await client.list_tools()
                server.tools = tuple(_info(server.config.name, t) for t in listed.tools)
                server.error = None
                server.ready.set()
                while (item := await server.queue.get()) is not _END:
                    request, answer = item
                    if answer.done():
                        continue
                    try:
                        answer.set_result(await request(client))
                    except MCPError as exc:  # the server refused this call; the session is fine
                        answer.set_exception(exc)
        except Exception as exc:  # unreachable, or the session broke: unavailable until retried
            server.error = type(exc).__name__
            server.failed_at = time.monotonic()
            log.warning("MCP server %s unavailable (%s)", server.config.name, server.error)
        finally:
            server.task = None
            server.ready.set()
            while not server.queue.empty():
                if (item := server.queue.get_nowait()) is _END:
                    continue
                _, answer = item
                if not answer.done():
                    answer.set_exception(ToolUnavailable(server.error or "closed"))


async def _transport(config: McpServerConfig, stack: contextlib.AsyncExitStack) -> Any:
    if config.command is not None:
        return StdioServerParameters(
            command=config.command, args=list(config.args), env=dict(config.env) or None
        )
    assert config.url is not None
    http = await stack.enter_async_context(
        httpx2.AsyncClient(headers=dict(config.headers), timeout=defaults.MCP_CONNECT_SECONDS)
    )
    return streamable_http_client(config.url, http_client=http)


def _info(server: str, tool: Any) -> McpToolInfo:
    hints = tool.annotations
    return McpToolInfo(
        server=server,
        tool=tool.name,
        description=(tool.description or tool.name)[:1000],
        input_schema=dict(tool.input_schema or {"type": "object", "properties": {}}),
        read_only=bool(hints is not None and hints.read_only_hint),
    )


class McpTool(Tool):
    """One MCP server's tool, called through the hub."""

    def __init__(self, hub: McpHub, info: McpToolInfo) -> None:
        super().__init__(
            name=info.name,
            description=info.description,
            parameters=info.input_schema,
            read_only=info.read_only,
            source=info.server,
        )
        self._hub, self._info = hub, info

    def run(self, arguments: dict[str, Any], context: ToolContext) -> str:
        """See ``Tool.run``; the result's text parts, or its structured content."""
        result = self._hub.call(
            self._info.server, self._info.tool, arguments, timeout=defaults.TOOL_TIMEOUT_SECONDS
        )
        text = "\n".join(block.text for block in result.content if isinstance(block, TextContent))
        if not text and result.structured_content is not None:
            text = str(result.structured_content)
        if result.is_error:
            raise RuntimeError(text or "the tool reported an error")
        return text
