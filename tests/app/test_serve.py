"""The app as users run it: ``streamlit run`` answers its health check and stops cleanly on SIGTERM."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.servers import StreamlitApp, http_get
from voicechat.storage.embedded import EmbeddedMongo, _pid_alive

pytestmark = pytest.mark.slow


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
