"""The app as users run it: ``streamlit run`` answers its health check and stops cleanly on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.servers import free_port
from voicechat.storage.embedded import EmbeddedMongo, _pid_alive

ROOT = Path(__file__).parents[2]
pytestmark = pytest.mark.slow


def test_streamlit_run_serves_the_app_and_stops_cleanly(tmp_path: Path, fake_openai: FakeOpenAI) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("MONGODB_URI", "REDIS_URL", "OPENAI_API_KEY")}
    env.update({"VOICECHAT_DATA_DIR": str(tmp_path), "OPENAI_BASE_URL": fake_openai.base_url})
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            "streamlit_app.py",
            "--server.address",
            "127.0.0.1",
            "--server.port",
            str(port),
            "--server.headless",
            "true",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert _get(f"http://127.0.0.1:{port}/_stcore/health", timeout=60) == "ok"
        page = _get(f"http://127.0.0.1:{port}/", timeout=10)
        assert "<title>" in page.lower() or "<!doctype html>" in page.lower()
        assert "sk-" not in page
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=30)
    assert process.returncode == 0, output
    assert "Traceback" not in output


def _get(url: str, *, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return response.read().decode()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_embedded_server_is_stopped_when_the_last_process_detaches(tmp_path: Path) -> None:
    embedded = EmbeddedMongo(tmp_path)
    embedded.attach()
    pid = embedded.pid()
    assert pid is not None and _pid_alive(pid)
    embedded.detach()
    assert embedded.pid() is None and not _pid_alive(pid)
