"""``make cluster``: several app processes behind HAProxy, sharing one MongoDB and one Redis.

Each process is a plain ``streamlit run`` on its own 127.0.0.1 port, named ``app1``, ``app2``, ... HAProxy
(Debian's) listens on HOST:PORT and pins each browser to one process with a cookie (``VOICECHAT_REPLICA``):
Streamlit keeps a session's state in the process that serves its websocket, and every local client comes
from the same address, so address hashing would not spread them. Every response names the process that
served it in ``X-Voicechat-Replica``. A process that stops answering its health check is taken out within
about two seconds; its browsers reconnect to another process (their cookie is redispatched) and find their
conversation there, since everything lasting is in MongoDB and the rate-limit counters are in Redis. The
script restarts a process that exits. HAProxy sets ``X-Forwarded-For`` to the address a request came from,
replacing any the client sent: appending (``option forwardfor``) would pass a forged ``127.0.0.1`` along.

MongoDB is ``MONGODB_URI`` when set (a replica set or Atlas lets the same layout span machines), else the
embedded server under the data directory, shared by all processes. Redis is ``REDIS_URL`` when set, else a
``redis-server`` started here on 127.0.0.1 with a password made for this run (counters and hot context only:
nothing in it needs to survive). The processes share one Streamlit cookie secret, so a form's XSRF token from
one is valid on another. The cluster's directory (logs, the cookie secret, Redis's config) is private.

A --host other than loopback opens the cluster to other machines, where local single-user mode refuses
everyone: the script will not start that way until sign-in (``[auth]`` in the secrets) is configured.

Usage: python scripts/cluster.py [--processes 3] [--host 127.0.0.1] [--port 8501] [--data-dir DIR]
       [-- extra streamlit arguments, e.g. --secrets.files path]
The state (URL, each process's pid and port) is written to DATA_DIR/cluster/state.json.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import tomllib
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from voicechat.config import is_loopback_host  # noqa: E402
from voicechat.storage.embedded import PRIVATE_DIR_MODE, EmbeddedMongo  # noqa: E402

HEALTH = "/_stcore/health"
HAPROXY_CONFIG = """\
global
    maxconn 4096
    log stdout format raw local0 warning

defaults
    mode http
    log global
    option redispatch
    retries 2
    retry-on conn-failure empty-response response-timeout
    timeout connect 2s
    timeout client 1h
    timeout server 1h
    timeout tunnel 1h

frontend voicechat
    bind {host}:{port}
    # The client's address, replacing any X-Forwarded-For it sent (option forwardfor would append to it).
    http-request set-header X-Forwarded-For %[src]
    default_backend apps

backend apps
    balance roundrobin
    cookie VOICECHAT_REPLICA insert indirect nocache httponly
    option httpchk GET {health}
    http-check expect status 200
    default-server inter 1s fall 2 rise 2
    http-response set-header X-Voicechat-Replica %[srv_name]
{servers}
"""


SECRETS_FILES_OPTION = "--secrets.files"


def haproxy_config(*, host: str, port: int, servers: Mapping[str, int]) -> str:
    """HAProxy's configuration: listen on ``host:port``, one cookie-pinned server per app process port."""
    lines = "\n".join(
        f"    server {name} 127.0.0.1:{app_port} check cookie {name}" for name, app_port in servers.items()
    )
    return HAPROXY_CONFIG.format(host=host, port=port, health=HEALTH, servers=lines)


def secrets_files(streamlit_args: list[str]) -> list[Path]:
    """The secrets files the app processes read: ``--secrets.files`` among the streamlit arguments, else
    Streamlit's defaults (the user's, then the project's, as the processes run from the project)."""
    given = [
        following
        for option, following in itertools.pairwise(streamlit_args)
        if option == SECRETS_FILES_OPTION
    ] + [arg.split("=", 1)[1] for arg in streamlit_args if arg.startswith(SECRETS_FILES_OPTION + "=")]
    if given:
        return [Path(path) if Path(path).is_absolute() else ROOT / path for path in given]
    return [Path.home() / ".streamlit" / "secrets.toml", ROOT / ".streamlit" / "secrets.toml"]


def sign_in_configured(files: list[Path]) -> bool:
    """Whether any of the secrets files has an ``[auth]`` section (a directory: an ``auth`` entry)."""
    for path in files:
        if path.is_dir() and (path / "auth").exists():
            return True
        if path.is_file():
            try:
                if "auth" in tomllib.loads(path.read_text()):
                    return True
            except (OSError, tomllib.TOMLDecodeError):
                continue
    return False


def require_sign_in_off_this_machine(host: str, streamlit_args: list[str]) -> None:
    """Refuse (SystemExit with what to do) to serve other machines without sign-in configured."""
    if is_loopback_host(host) or sign_in_configured(secrets_files(streamlit_args)):
        return
    raise SystemExit(
        f"cluster: --host {host or '(all interfaces)'} serves other machines, but sign-in is not configured "
        "(no [auth] section in .streamlit/secrets.toml), and local single-user mode would refuse every "
        "one of them. Add an [auth] section (README, Sign-in; .streamlit/secrets.toml.example shows one), "
        "or keep the default --host 127.0.0.1 (HOST=127.0.0.1 make cluster)."
    )


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def answers(url: str) -> bool:
    """Whether ``url`` answers 200."""
    try:
        with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 (our own http URL)
            return bool(response.status == 200)
    except OSError:
        return False


def wait_until(check: Callable[[], bool], what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise SystemExit(f"cluster: {what} did not start within {timeout:.0f} s")
        time.sleep(0.2)


def require(binary: str, package: str) -> str:
    path = shutil.which(binary)
    if path is None:
        raise SystemExit(
            f"cluster: {binary} is not installed (apt-get install {package}; make cluster does it)"
        )
    return path


class Cluster:
    """The proxy, the app processes, and the shared stores they need (started here unless given)."""

    def __init__(
        self, *, processes: int, host: str, port: int, data_dir: Path, streamlit_args: list[str]
    ) -> None:
        self.host, self.port, self.processes = host, port, processes
        self.home = data_dir.resolve() / "cluster"
        self.home.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR_MODE)
        self.home.chmod(PRIVATE_DIR_MODE)  # also when it existed before
        self._data_dir = data_dir.resolve()
        self._streamlit_args = streamlit_args
        self._env = dict(os.environ, VOICECHAT_DATA_DIR=str(self._data_dir))
        self._apps: dict[str, tuple[int, subprocess.Popen[bytes]]] = {}
        self._others: list[subprocess.Popen[bytes]] = []
        self._mongo: EmbeddedMongo | None = None
        self._logs: list[IO[bytes]] = []

    @property
    def url(self) -> str:
        """Where browsers go."""
        return f"http://{'127.0.0.1' if self.host in ('0.0.0.0', '') else self.host}:{self.port}"  # noqa: S104

    def start(self) -> None:
        """Shared stores, the app processes (healthy), then the proxy (answering)."""
        haproxy = require("haproxy", "haproxy")
        if not self._env.get("MONGODB_URI"):
            self._mongo = EmbeddedMongo(self._data_dir)
            self._env["MONGODB_URI"] = self._mongo.attach()
        if not self._env.get("REDIS_URL"):
            self._env["REDIS_URL"] = self.start_redis()
        self._env.setdefault("STREAMLIT_SERVER_COOKIE_SECRET", self._cookie_secret())
        for index in range(1, self.processes + 1):
            self._start_app(f"app{index}", free_port())
        for name, (port, _) in self._apps.items():
            wait_until(lambda p=port: answers(f"http://127.0.0.1:{p}{HEALTH}"), name, 90)
        config = self.home / "haproxy.cfg"
        config.write_text(
            haproxy_config(
                host=self.host, port=self.port, servers={name: port for name, (port, _) in self._apps.items()}
            )
        )
        self._others.append(self._spawn([haproxy, "-f", str(config), "-db"], "haproxy"))
        wait_until(lambda: answers(self.url + HEALTH), "haproxy", 30)
        self._write_state()

    def supervise(self) -> None:
        """Restart an app process that exited (on its port, so the proxy finds it again)."""
        for name, (port, process) in list(self._apps.items()):
            if process.poll() is not None:
                print(f"cluster: {name} exited ({process.returncode}); restarting it", flush=True)
                self._start_app(name, port)
                self._write_state()

    def stop(self) -> None:
        """Everything started here, the proxy first."""
        for process in [*self._others[::-1], *(p for _, p in self._apps.values())]:
            if process.poll() is None:
                process.terminate()
        for process in [*self._others, *(p for _, p in self._apps.values())]:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
        if self._mongo is not None:
            self._mongo.detach()
        for log in self._logs:
            log.close()

    def _start_app(self, name: str, port: int) -> None:
        # As make run starts it: the imports are done before the process answers its health check. A first
        # page view doing them instead held the interpreter for seconds, the proxy's checks (1 s apart, 2
        # failures) found the process down, and its browsers were sent to another one mid-conversation.
        command = [
            sys.executable, "scripts/serve.py",
            "--server.address", "127.0.0.1", "--server.port", str(port), "--server.headless", "true",
            *self._streamlit_args,
        ]  # fmt: skip
        env = dict(self._env, VOICECHAT_REPLICA=name)
        self._apps[name] = (port, self._spawn(command, name, env=env))

    def start_redis(self) -> str:
        """A redis-server for the app processes, on 127.0.0.1 with a password made now; returns its URL.

        The password is in a config file only the owner can read, not on the command line (which every
        local user can see).
        """
        port = free_port()
        redis = require("redis-server", "redis-server")
        password = secrets.token_urlsafe(32)
        workdir = self.home / "redis"
        workdir.mkdir(exist_ok=True, mode=PRIVATE_DIR_MODE)
        config = self.home / "redis.conf"
        config.touch(mode=0o600)
        config.chmod(0o600)
        config.write_text(
            f"bind 127.0.0.1\nport {port}\nprotected-mode yes\nrequirepass {password}\n"
            f'save ""\nappendonly no\ndir "{workdir}"\n'
        )
        self._others.append(self._spawn([redis, str(config)], "redis"))
        wait_until(lambda: _tcp_answers(port), "redis-server", 20)
        return f"redis://:{password}@127.0.0.1:{port}/0"

    def _cookie_secret(self) -> str:
        path = self.home / "cookie-secret"
        if not path.exists():
            path.touch(mode=0o600)
            path.write_text(secrets.token_urlsafe(32))
        return path.read_text().strip()

    def _spawn(
        self, command: list[str], name: str, *, env: dict[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        log = (self.home / f"{name}.log").open("ab")
        self._logs.append(log)
        return subprocess.Popen(  # noqa: S603 (our own fixed commands)
            command, cwd=ROOT, env=env or self._env, stdout=log, stderr=subprocess.STDOUT
        )

    def _write_state(self) -> None:
        replicas = {name: {"pid": p.pid, "port": port} for name, (port, p) in self._apps.items()}
        state = {"url": self.url, "replicas": replicas}
        (self.home / "state.json").write_text(json.dumps(state, indent=2))


def _tcp_answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=int(os.environ.get("PROCESSES", "3")))
    parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8501")))
    parser.add_argument("--data-dir", type=Path, default=Path(os.environ.get("VOICECHAT_DATA_DIR", "data")))
    parser.add_argument("streamlit_args", nargs="*", help="after --: passed to every streamlit run")
    args = parser.parse_args()
    require_sign_in_off_this_machine(args.host, args.streamlit_args)
    cluster = Cluster(
        processes=args.processes,
        host=args.host,
        port=args.port,
        data_dir=args.data_dir,
        streamlit_args=args.streamlit_args,
    )
    stopping: list[int] = []
    signal.signal(signal.SIGTERM, lambda signum, _: stopping.append(signum))
    try:
        cluster.start()
        print(f"cluster: {args.processes} processes behind {cluster.url}", flush=True)
        while not stopping:
            cluster.supervise()
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        cluster.stop()


if __name__ == "__main__":
    main()
