"""Serving a Starlette app on 127.0.0.1 in a background thread (what every fake provider does)."""

from __future__ import annotations

import socket
import threading
import time

import uvicorn
from starlette.applications import Starlette


def free_port() -> int:
    """A port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class AsgiServer:
    """Runs ``app`` with uvicorn until ``stop()``."""

    def __init__(
        self,
        app: Starlette,
        *,
        name: str,
        host: str = "127.0.0.1",
        port: int | None = None,
        lifespan: bool = False,
    ) -> None:
        """``host``/``port``: 127.0.0.1 and a free port, except inside a container's own network;
        ``lifespan``: run the app's start-up and shut-down (an MCP server's session manager needs them)."""
        self.port = port or free_port()
        config = uvicorn.Config(
            app,
            host=host,
            port=self.port,
            log_level="warning",
            lifespan="on" if lifespan else "off",
            access_log=False,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name=name, daemon=True)

    def start(self) -> None:
        """Serve; returns when the port accepts connections."""
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self._thread.name} did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        """Stop serving and join the thread."""
        self._server.should_exit = True
        self._thread.join(timeout=10)
