"""A real MCP server built with the ``mcp`` SDK: an incident board (read-only listing, a ticket opener that
changes things, a slow tool and a failing one). Served over streamable HTTP in a thread (``McpBoard``), or
over stdio as a subprocess: ``python -m tests.fakes.mcp_server`` (which writes ``STDERR_NOISE`` on its
stderr, as chatty servers do). It records every request's headers, and its method as ``:method``
(``headers_seen``)."""

from __future__ import annotations

import json
import sys
import time
from typing import Any

from mcp.server.mcpserver import MCPServer
from mcp_types import ToolAnnotations
from starlette.types import ASGIApp, Receive, Scope, Send

from tests.fakes.asgi import AsgiServer
from voicechat.storage.store import Store
from voicechat.storage.tool_state import ToolSwitch

INCIDENTS = ("INC-7 checkout latency above 2 s", "INC-9 login errors in eu-west")
TOKEN = "board-s3cret"  # the bearer token the board requires (kept in secrets, never on a page or in a log)
READERS = ("list_incidents", "slow_report")  # the tools the board says only read (readOnlyHint)
STDERR_NOISE = "board debug: token=board-s3cret user asked about INC-7"  # what it says on stderr (stdio)

FORGED_DESCRIPTION = (
    "Looks up ![x](https://evil.example/p.png) **bold** <img src=x> [click](javascript:alert(1))"
)


def trust_readers(store: Store, server: str = "board") -> None:
    """The admin marks the board's reading tools as reading only (the server's hint alone is not trusted),
    so they run without confirmation and ahead in drafts, as tests of calling tools need."""
    for tool in READERS:
        switch = ToolSwitch(enabled=True, confirm_first=False, read_only=True)
        store.tools.set_switch(f"{server}__{tool}", switch, by="admin@example.com")


def board(*, chatty: bool = False) -> tuple[MCPServer, list[str]]:
    """The server, and the tickets it has opened (shared with the test that serves it in-thread);
    ``chatty``: listing the incidents also writes ``STDERR_NOISE`` to stderr."""
    server: MCPServer = MCPServer("incident-board")
    opened: list[str] = []

    @server.tool(annotations=ToolAnnotations(read_only_hint=True))
    def list_incidents() -> str:
        """The open incidents on the board."""
        if chatty:  # more than the app logs of a server's stderr
            print(STDERR_NOISE * 200, file=sys.stderr, flush=True)
        return "\n".join(INCIDENTS)

    @server.tool()
    def open_ticket(title: str) -> str:
        """Open a ticket with the given title."""
        opened.append(title)
        return f"Opened TCK-{len(opened)}: {title}"

    @server.tool(annotations=ToolAnnotations(read_only_hint=True))
    def slow_report(seconds: float) -> str:
        """A report that takes a while."""
        time.sleep(seconds)
        return "report ready"

    @server.tool()
    def broken() -> str:
        """Always fails."""
        raise RuntimeError("the board is on fire")

    return server, opened


class _NeedsToken:
    """Refuses requests without the expected bearer token (the admin's header from secrets)."""

    def __init__(self, app: ASGIApp, token: str, seen: list[dict[str, str]]) -> None:
        self._app, self._token, self._seen = app, token, seen

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = {k.decode(): v.decode() for k, v in scope["headers"]}
            self._seen.append(headers | {":method": scope["method"]})
            if headers.get("authorization") != f"Bearer {self._token}":
                await send({"type": "http.response.start", "status": 401, "headers": []})
                await send({"type": "http.response.body", "body": b"no"})
                return
        await self._app(scope, receive, send)


class McpBoard:
    """The board over streamable HTTP on 127.0.0.1 (``url``), requiring ``token``."""

    def __init__(self, token: str = TOKEN) -> None:
        self.server, self.opened = board()
        self._token = token
        self.headers_seen: list[dict[str, str]] = []
        app: Any = _NeedsToken(self.server.streamable_http_app(), token, self.headers_seen)
        self._http = AsgiServer(app, name="fake-mcp", lifespan=True)

    @property
    def url(self) -> str:
        """The MCP endpoint."""
        return f"http://127.0.0.1:{self._http.port}/mcp"

    def settings(self, *, name: str = "board", per_user: bool = False) -> dict[str, str]:
        """The app's settings for this board: the server list, its token filled in from another setting;
        ``per_user`` adds headers naming the signed-in user (a session per user)."""
        headers = {"Authorization": "Bearer ${BOARD_TOKEN}"}
        if per_user:
            headers |= {"X-User-Email": "${user.email}", "X-User-Id": "${user.id}"}
        servers = [{"name": name, "url": self.url, "headers": headers}]
        return {"VOICECHAT_MCP_SERVERS": json.dumps(servers), "BOARD_TOKEN": self._token}

    def start(self) -> McpBoard:
        """Serve in a thread until ``stop``."""
        self._http.start()
        return self

    def stop(self) -> None:
        """Stop serving."""
        self._http.stop()


def forged() -> MCPServer:
    """A server whose tool describes itself with Markdown and HTML (and claims it only reads)."""
    server: MCPServer = MCPServer("forged")

    @server.tool(description=FORGED_DESCRIPTION, annotations=ToolAnnotations(read_only_hint=True))
    def lookup() -> str:
        return "nothing"

    return server


if __name__ == "__main__":
    print(STDERR_NOISE, file=sys.stderr, flush=True)
    (forged() if sys.argv[1:] == ["forged"] else board(chatty=True)[0]).run("stdio")
