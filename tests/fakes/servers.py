"""Real servers for tests: redis-server (Debian) and SecantusDB, each on a free 127.0.0.1 port."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import NoReturn

import pymongo
import pytest
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


def unavailable(reason: str) -> NoReturn:
    """A service a test needs is missing: fail under CI=true, skip elsewhere."""
    if in_ci():
        pytest.fail(f"required service unavailable in CI: {reason}")
    pytest.skip(reason)


class StreamlitApp:
    """``streamlit run streamlit_app.py`` on a free 127.0.0.1 port with a chosen environment."""

    ROOT = Path(__file__).parents[2]

    def __init__(
        self,
        env: dict[str, str],
        *,
        drop: tuple[str, ...] = ("MONGODB_URI", "REDIS_URL", "OPENAI_API_KEY"),
        secrets_file: Path | None = None,
        launcher: bool = False,
        python: str = sys.executable,
    ):
        """``launcher``: start it as ``make run`` does (scripts/serve.py: the slow parts warm up alongside the
        server), not with a bare ``streamlit run``. ``python``: the environment's interpreter (this one's by
        default)."""
        self.port = free_port()
        self._python = python
        self.launcher = launcher
        self._secrets = ["--secrets.files", str(secrets_file)] if secrets_file else []
        self._env = {k: v for k, v in os.environ.items() if k not in drop} | env
        self._process: subprocess.Popen[str] | None = None
        self._log = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 - read while the app runs, closed in stop()
        self._final_output = ""

    @property
    def url(self) -> str:
        """Where the app is served."""
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> StreamlitApp:
        """Start and wait until ``/_stcore/health`` answers."""
        command = ["scripts/serve.py"] if self.launcher else ["-m", "streamlit", "run", "streamlit_app.py"]
        self._process = subprocess.Popen(
            [
                self._python,
                *command,
                "--server.address",
                "127.0.0.1",
                "--server.port",
                str(self.port),
                "--server.headless",
                "true",
                *self._secrets,
            ],
            cwd=self.ROOT,
            env=self._env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            text=True,
        )
        _wait(
            lambda: http_get(self.url + "/_stcore/health") == "ok",
            "streamlit",
            self._process,
            timeout=timeout,
        )
        return self

    def stop(self) -> tuple[int, str]:
        """SIGTERM, as a process manager would; returns the exit code and everything it printed."""
        assert self._process is not None
        if self._process.returncode is None:
            self._process.send_signal(signal.SIGTERM)
            self._process.wait(timeout=30)
        output = self.output()
        self._log.close()
        self._final_output = output
        return self._process.returncode, output

    def output(self) -> str:
        """Everything the app has printed so far."""
        if self._log.closed:
            return self._final_output
        self._log.flush()
        self._log.seek(0)
        return self._log.read()


def http_get(url: str) -> str:
    """GET a local URL and return its body as text."""
    with urllib.request.urlopen(url, timeout=2) as response:
        return str(response.read().decode())
