"""The embedded database: a local MongoDB-wire-compatible server (SecantusDB) used when MONGODB_URI is unset.

It runs as its own process on 127.0.0.1 with its data under the data directory, shared by every app process
on the machine: the first process starts it and records its pid and port; the others attach. Each attached
process registers itself; the last one to detach stops the server. If the server dies, the next database call
restarts it on the same port (see ``Database.run``). We only ever talk to it over the wire (it is GPL-2.0).
Its directory is its owner's only (``PRIVATE_DIR_MODE``): the database files hold every conversation.
"""

from __future__ import annotations

import contextlib
import fcntl
import itertools
import json
import logging
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from pymongo import MongoClient
from pymongo.errors import PyMongoError

from voicechat import defaults
from voicechat.errors import StorageUnavailable

log = logging.getLogger(__name__)
EXECUTABLE = "secantusd-py"
SERVER_NAME = "secantusd"  # how its process shows in a command line (the script, or python running it)
HOST = "127.0.0.1"
PRIVATE_DIR_MODE = 0o700  # a directory only its owner may list, read or enter


# One local server, never a failover: retryable writes only cost it bookkeeping on every write, and polled
# monitoring (a hello every 10 s) spares it the streaming protocol's waiting hellos. Together they took about
# a sixth of its CPU under many calls (benchmarks/live_sessions.py: 33% -> 28% of a core at 10 calls).
CLIENT_OPTIONS = "retryWrites=false&serverMonitoringMode=poll"


class EmbeddedMongo:
    """Starts, shares, restarts and stops the local database server under ``data_dir``."""

    def __init__(
        self,
        data_dir: Path,
        *,
        start_timeout: float = defaults.EMBEDDED_START_TIMEOUT_SECONDS,
    ) -> None:
        self.home = Path(data_dir).resolve() / "embedded-mongo"
        self._start_timeout = start_timeout
        self._process: subprocess.Popen[bytes] | None = None
        self._attached = False

    @property
    def uri(self) -> str:
        """The connection string of the running server (ensure_running first)."""
        state = self._read_state()
        if state is None:
            raise StorageUnavailable("The local database is not running.")
        return f"mongodb://{HOST}:{state['port']}/{defaults.DEFAULT_DATABASE}?{CLIENT_OPTIONS}"

    def attach(self) -> str:
        """Make sure the server runs and count this process among its users; returns the URI."""
        uri = self.ensure_running()
        with self._locked():
            self._clients_dir().mkdir(parents=True, exist_ok=True)
            (self._clients_dir() / str(os.getpid())).touch()
        self._attached = True
        return uri

    def detach(self) -> None:
        """Stop counting this process; the last process to detach stops the server."""
        if not self._attached:
            return
        self._attached = False
        with self._locked():
            with contextlib.suppress(FileNotFoundError):
                (self._clients_dir() / str(os.getpid())).unlink()
            if not self._live_clients():
                self._stop_locked()

    def ensure_running(self) -> str:
        """Start the server unless one answers already (restarting a dead one on its old port)."""
        with self._locked():
            state = self._read_state()
            if state is not None and _answers(int(state["port"])):
                return self.uri
            if state is not None:
                log.warning("embedded database (pid %s) is not answering; restarting it", state["pid"])
                self._terminate_server(int(state["pid"]))
            port = (
                int(state["port"]) if state is not None and _port_free(int(state["port"])) else _free_port()
            )
            self._start_locked(port)
            return self.uri

    def pid(self) -> int | None:
        """The recorded server pid, if any."""
        state = self._read_state()
        return int(state["pid"]) if state else None

    # Internals -----------------------------------------------------------------------------------------

    def _start_locked(self, port: int) -> None:
        executable = _find_executable()
        (self.home / "db").mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR_MODE)
        with (self.home / "server.log").open("ab") as log_file:
            process = subprocess.Popen(  # noqa: S603 (fixed executable, no shell)
                [
                    executable,
                    "--host",
                    HOST,
                    "--port",
                    str(port),
                    "--storage-path",
                    str(self.home / "db"),
                    "--log-level",
                    "WARNING",
                    "--sync-on-commit",  # a crash (kill -9, power loss) must not lose acknowledged writes
                ],
                stdout=log_file,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # shared by all app processes: outlives the one that started it
                cwd=self.home,
            )
        if self._process is not None:
            self._process.poll()  # reap a previous child of ours
        self._process = process
        deadline = time.monotonic() + self._start_timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise StorageUnavailable(
                    f"The local database failed to start; see {self.home / 'server.log'}."
                )
            if _answers(port):
                self._write_state({"pid": process.pid, "port": port})
                log.info("embedded database started on %s:%d (pid %d)", HOST, port, process.pid)
                return
            time.sleep(0.1)
        _terminate(process.pid)
        raise StorageUnavailable("The local database did not start in time.")

    def _stop_locked(self) -> None:
        state = self._read_state()
        if state is not None:
            self._terminate_server(int(state["pid"]))
            log.info("embedded database stopped (pid %s)", state["pid"])
        if self._process is not None:
            self._process.poll()
        with contextlib.suppress(FileNotFoundError):
            (self.home / "server.json").unlink()

    def _terminate_server(self, pid: int) -> None:
        """Stop the recorded server, but only if that pid still is our server: after a reboot or a crash the
        number may belong to any other process of the user's, which must not be killed."""
        if is_server_process(pid, self.home / "db"):
            _terminate(pid)
        else:
            log.warning("recorded database pid %s is no longer the database; not signalling it", pid)

    def _live_clients(self) -> list[int]:
        live = []
        for entry in self._clients_dir().glob("*"):
            if entry.name.isdigit() and _pid_alive(int(entry.name)):
                live.append(int(entry.name))
            else:
                entry.unlink(missing_ok=True)
        return live

    def _clients_dir(self) -> Path:
        return self.home / "clients"

    def _read_state(self) -> dict[str, int] | None:
        try:
            data = json.loads((self.home / "server.json").read_text())
            return {"pid": int(data["pid"]), "port": int(data["port"])}
        except (FileNotFoundError, ValueError, KeyError, TypeError):
            return None

    def _write_state(self, state: dict[str, int]) -> None:
        tmp = self.home / "server.json.tmp"
        tmp.write_text(json.dumps(state))
        tmp.replace(self.home / "server.json")

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.home.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR_MODE)
        if stat.S_IMODE(self.home.stat().st_mode) != PRIVATE_DIR_MODE:  # made before, more open
            self.home.chmod(PRIVATE_DIR_MODE)
        with (self.home / "lock").open("w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


def _find_executable() -> str:
    beside_python = Path(sys.executable).parent / EXECUTABLE
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which(EXECUTABLE)
    if found is None:
        raise StorageUnavailable(
            "The local database is not installed (pip install secantusdb), or set MONGODB_URI."
        )
    return found


def _answers(port: int) -> bool:
    client: MongoClient[dict[str, object]] = MongoClient(
        HOST, port, serverSelectionTimeoutMS=500, connectTimeoutMS=500, directConnection=True
    )
    try:
        client.admin.command("ping")
        return True
    except PyMongoError:
        return False
    finally:
        client.close()


def is_server_process(pid: int, storage: Path) -> bool:
    """Whether process ``pid`` is a SecantusDB server on ``storage``, judged by its command line."""
    try:
        args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:  # gone, not ours to read, or no /proc (macOS): ask ps
        try:
            shown = subprocess.run(  # noqa: S603 (fixed executable, no shell)
                ["ps", "-o", "command=", "-p", str(pid)],  # noqa: S607
                capture_output=True,
                check=False,
                timeout=5,
            ).stdout
        except (OSError, subprocess.SubprocessError):
            return False
        args = shown.split()
    words = [arg.decode(errors="replace") for arg in args]
    runs_server = any(Path(word).name.startswith(SERVER_NAME) for word in words)
    storage_given = any(
        (word, following) == ("--storage-path", str(storage)) for word, following in itertools.pairwise(words)
    )
    return runs_server and storage_given


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _terminate(pid: int, timeout: float = 5.0) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(ChildProcessError):
                if os.waitpid(pid, os.WNOHANG)[0] == pid:
                    return
            if not _pid_alive(pid):
                return
            time.sleep(0.05)


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        # Bind as servers do: a port in TIME_WAIT after a crash is still free to reuse.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
        return True


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])
