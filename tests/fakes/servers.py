"""Real servers for tests: redis-server (Debian) and SecantusDB, each on a free 127.0.0.1 port."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pymongo
import redis


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServerUnavailable(RuntimeError):
    """The server binary is missing or did not start."""


class RedisServer:
    """redis-server without persistence; ``kill()`` and ``start()`` again on the same port for fault tests."""

    def __init__(self) -> None:
        self.port = free_port()
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The REDIS_URL of this server."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        """Start and wait until it answers PING."""
        binary = shutil.which("redis-server")
        if binary is None:
            raise ServerUnavailable("redis-server is not installed (apt-get install redis-server)")
        self._process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port, socket_connect_timeout=0.2)
        _wait(lambda: bool(client.ping()), "redis-server", self._process)
        client.close()
        return self

    def kill(self) -> None:
        """Stop it hard (SIGKILL), as a crash would."""
        if self._process is not None:
            self._process.kill()
            self._process.wait(timeout=10)
            self._process = None

    stop = kill


class MongoServer:
    """A SecantusDB server process with its data in ``path``."""

    def __init__(self, path: Path) -> None:
        self.port = free_port()
        self.path = path
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def uri(self) -> str:
        """A connection string (no database name)."""
        return f"mongodb://127.0.0.1:{self.port}/"

    def start(self) -> MongoServer:
        """Start and wait until it answers ping."""
        binary = Path(sys.executable).parent / "secantusd-py"
        if not binary.exists():
            raise ServerUnavailable("secantusd-py is not installed (pip install secantusdb)")
        self.path.mkdir(parents=True, exist_ok=True)
        self._process = subprocess.Popen(
            [
                str(binary),
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--storage-path",
                str(self.path),
                "--log-level",
                "WARNING",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        client: pymongo.MongoClient[dict[str, object]] = pymongo.MongoClient(
            self.uri, serverSelectionTimeoutMS=300
        )
        _wait(lambda: bool(client.admin.command("ping")), "secantusd-py", self._process, timeout=30)
        client.close()
        return self

    def stop(self) -> None:
        """Stop it (SIGTERM, then SIGKILL)."""
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout=10)
            self._process = None


def _wait(check: object, name: str, process: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServerUnavailable(f"{name} exited with code {process.returncode}")
        try:
            if check():  # type: ignore[operator]
                return
        except Exception:
            pass
        time.sleep(0.05)
    process.kill()
    raise ServerUnavailable(f"{name} did not answer within {timeout:.0f} s")


def in_ci() -> bool:
    """CI=true: a missing service is a failure, never a skip."""
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")
