"""The app as users run it: ``streamlit run`` answers its health check and stops cleanly on SIGTERM."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.servers import StreamlitApp, http_get
from voicechat.storage.embedded import EmbeddedMongo, _pid_alive

pytestmark = pytest.mark.slow
ROOT = Path(__file__).parents[2]


def test_streamlit_run_serves_the_app_and_stops_cleanly(tmp_path: Path, fake_openai: FakeOpenAI) -> None:
    app = StreamlitApp({"VOICECHAT_DATA_DIR": str(tmp_path), "OPENAI_BASE_URL": fake_openai.base_url}).start()
    try:
        page = http_get(app.url + "/")
        assert "<!doctype html>" in page.lower() and "sk-" not in page
    finally:
        returncode, output = app.stop()
    assert returncode == 0, output
    assert "Traceback" not in output


def test_embedded_server_is_stopped_when_the_last_process_detaches(tmp_path: Path) -> None:
    embedded = EmbeddedMongo(tmp_path)
    embedded.attach()
    pid = embedded.pid()
    assert pid is not None and _pid_alive(pid)
    embedded.detach()
    assert embedded.pid() is None and not _pid_alive(pid)


def test_the_launchers_warm_up_leaves_the_call_component_for_the_page(tmp_path: Path, mongo_uri: str) -> None:
    """``make run`` warms the imports before Streamlit starts; a component declared then is never registered
    with the server (the call's frame was a 404 and Talk mode never connected), so it must not be one."""
    probe = (
        "import sys; sys.path[:0] = ['scripts', '.']\n"
        "import serve; serve.warm_up()\n"
        "print('component imported early' if 'streamlit_webrtc' in sys.modules else 'component left')\n"
        "print('aiortc warmed' if 'aiortc' in sys.modules else 'aiortc cold')\n"
        "import gc; print('frozen', gc.get_freeze_count())\n"
    )
    env = {**os.environ, "VOICECHAT_DATA_DIR": str(tmp_path), "MONGODB_URI": mongo_uri}  # no embedded server
    done = subprocess.run(
        [sys.executable, "-c", probe],
        check=False,
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "component left" in done.stdout and "aiortc warmed" in done.stdout, (
        done.stdout + done.stderr[-2000:]
    )
    assert "database and models ready" in done.stdout
    # What it loaded is out of the collector's sight: a full collection no longer walks it (300-430 ms
    # holding the GIL on a slow machine, against the calls' audio).
    assert int(done.stdout.split("frozen ")[1].split()[0]) > 100_000


def test_streamlit_does_not_collect_garbage_after_every_run() -> None:
    """The call screen reruns every 0.4 s; Streamlit's full collection after each run held the GIL for
    300-430 ms on a slow machine, and calls heard nothing (the Talk browser tests failed there)."""
    probe = (
        "from streamlit import config\n"
        "config.get_config_options(force_reparse=True)\n"
        "print('postScriptGC', config.get_option('runner.postScriptGC'))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], check=False, cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert "postScriptGC False" in done.stdout, done.stdout + done.stderr[-2000:]
