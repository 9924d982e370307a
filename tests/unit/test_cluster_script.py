"""``scripts/cluster.py`` (``make cluster``) closed by default: its HAProxy names the real client, its Redis
wants a password and listens on loopback only, and it will not serve other machines without sign-in.

Real HAProxy and redis-server; a small HTTP server stands in for an app process (it reports its headers).
"""

from __future__ import annotations

import http.client
import importlib.util
import json
import os
import shutil
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from tests.fakes.servers import free_port, unavailable

ROOT = Path(__file__).parents[2]


def load_cluster_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("cluster_script", ROOT / "scripts" / "cluster.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


cluster = load_cluster_script()


class HeaderEcho(BaseHTTPRequestHandler):
    """An app process that answers every GET (its health check too) with the X-Forwarded-For lines it got."""

    def do_GET(self) -> None:
        body = json.dumps(self.headers.get_all("X-Forwarded-For") or []).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


@pytest.fixture
def proxied_app(tmp_path: Path) -> Iterator[int]:
    """HAProxy with the cluster's configuration in front of one ``HeaderEcho``; yields the proxy's port."""
    binary = shutil.which("haproxy")
    if binary is None:
        unavailable("haproxy is not installed (apt-get install haproxy)")
    app = ThreadingHTTPServer(("127.0.0.1", 0), HeaderEcho)
    threading.Thread(target=app.serve_forever, daemon=True).start()
    port = free_port()
    config = tmp_path / "haproxy.cfg"
    config.write_text(cluster.haproxy_config(host="127.0.0.1", port=port, servers={"app1": app.server_port}))
    log = tmp_path / "haproxy.log"
    with log.open("wb") as output:
        proxy = subprocess.Popen([binary, "-f", str(config), "-db"], stdout=output, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 20
        while forwarded_lines(port, []) is None:
            assert proxy.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "haproxy did not answer"
            time.sleep(0.1)
        yield port
    finally:
        proxy.terminate()
        proxy.wait(timeout=10)
        app.shutdown()
        app.server_close()


def forwarded_lines(port: int, sent: list[str]) -> list[str] | None:
    """The X-Forwarded-For lines the app got for a request sending ``sent`` (None: no answer yet)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.putrequest("GET", "/")
        for line in sent:
            connection.putheader("X-Forwarded-For", line)
        connection.endheaders()
        response = connection.getresponse()
        if response.status != 200:
            return None
        lines: list[str] = json.loads(response.read())
        return lines
    except OSError:
        return None
    finally:
        connection.close()


def test_the_proxy_names_the_address_a_request_came_from_and_drops_what_the_client_claimed(
    proxied_app: int,
) -> None:
    # A client elsewhere sends lines of its own; appending (option forwardfor) would pass them along first.
    assert forwarded_lines(proxied_app, ["10.0.0.9", "127.0.0.1, 10.0.0.8"]) == ["127.0.0.1"]
    assert forwarded_lines(proxied_app, []) == ["127.0.0.1"]


def test_the_cluster_redis_refuses_a_client_without_its_password(tmp_path: Path) -> None:
    if shutil.which("redis-server") is None:
        unavailable("redis-server is not installed (apt-get install redis-server)")
    stores = cluster.Cluster(processes=0, host="127.0.0.1", port=0, data_dir=tmp_path, streamlit_args=[])
    try:
        url = stores.start_redis()
        with_password = redis.Redis.from_url(url, socket_timeout=5)
        port = with_password.connection_pool.connection_kwargs["port"]
        for password in (None, "guess"):  # once each: redis-py retries a refused client for seconds
            client = redis.Redis(host="127.0.0.1", port=port, password=password, retry=Retry(NoBackoff(), 0))
            with pytest.raises(redis.AuthenticationError):
                client.ping()
            client.close()
        assert with_password.ping()
        assert with_password.config_get("bind") == {"bind": "127.0.0.1"}
        with_password.close()
        # Neither the password nor the logs are for other local users.
        assert stat.S_IMODE(stores.home.stat().st_mode) == 0o700
        assert stat.S_IMODE((stores.home / "redis.conf").stat().st_mode) == 0o600
    finally:
        stores.stop()


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.20", ""])
def test_the_cluster_will_not_serve_other_machines_without_sign_in(tmp_path: Path, host: str) -> None:
    secrets = tmp_path / "secrets.toml"
    secrets.write_text('OPENAI_API_KEY = "sk-x"\n')
    # Should the check be missing, what would start is small and stops by itself (the proxy never gets
    # healthy without app processes): no database or Redis of its own, no app process.
    unused = {"MONGODB_URI": "mongodb://127.0.0.1:9/", "REDIS_URL": "redis://127.0.0.1:9/0"}
    result = subprocess.run(
        [
            sys.executable, "scripts/cluster.py", "--processes", "0", "--host", host,
            "--port", str(free_port()), "--data-dir", str(tmp_path / "data"),
            "--", "--secrets.files", str(secrets),
        ],
        cwd=ROOT, env=os.environ | unused, capture_output=True, text=True, timeout=90, check=False,
    )  # fmt: skip
    assert result.returncode != 0
    assert "[auth]" in result.stderr and "--host 127.0.0.1" in result.stderr
    assert not (tmp_path / "data").exists()  # refused before anything started


def test_sign_in_or_loopback_lets_the_cluster_start(tmp_path: Path) -> None:
    secrets = tmp_path / "secrets.toml"
    secrets.write_text('OPENAI_API_KEY = "sk-x"\n[auth]\nclient_id = "voicechat"\n')
    cluster.require_sign_in_off_this_machine("0.0.0.0", ["--secrets.files", str(secrets)])
    cluster.require_sign_in_off_this_machine("0.0.0.0", [f"--secrets.files={secrets}"])
    for host in ("127.0.0.1", "localhost", "::1"):
        cluster.require_sign_in_off_this_machine(host, ["--secrets.files", str(tmp_path / "none.toml")])
