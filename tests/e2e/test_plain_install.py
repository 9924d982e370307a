"""What Streamlit Community Cloud (and anyone following the usual ``pip install -r requirements.txt`` +
``streamlit run streamlit_app.py``) gets: a fresh virtual environment with the requirements only, no
``make setup``, and a Talk turn in Chromium is still decided by the turn model at the pause (the panel names
it), not by the longest silence."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.test_browser_talk import after_the_call_starts, panel_latencies, stored_turns
from tests.e2e.webrtc import QUESTION, Microphone, start_call
from tests.fakes.openai_server import ChatScript, FakeOpenAI
from tests.fakes.servers import StreamlitApp
from voicechat import defaults

pytestmark = pytest.mark.slow
ROOT = Path(__file__).parents[2]


@pytest.fixture(scope="module")
def plain_python(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A new virtual environment with ``pip install -r requirements.txt`` and nothing else."""
    venv = tmp_path_factory.mktemp("plain") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = str(venv / "bin" / "python")
    subprocess.run(
        [python, "-m", "pip", "install", "-q", "-r", str(ROOT / "requirements.txt")], check=True, timeout=900
    )
    subprocess.run([python, "-m", "pip", "check"], check=True, timeout=120)
    return python


@pytest.fixture
def served_app(
    plain_python: str, mongo_uri: str, fake_openai: FakeOpenAI, tmp_path: Path
) -> Iterator[StreamlitApp]:
    """The app as Community Cloud runs it: a bare ``streamlit run`` from the plain environment."""
    env = {
        "MONGODB_URI": mongo_uri,
        "OPENAI_BASE_URL": fake_openai.base_url,
        "OPENAI_API_KEY": "sk-e2e",
        "VOICECHAT_DATA_DIR": str(tmp_path),
        "VOICECHAT_SPEECH_ROUTE": "speech-endpoint",
        "VOICECHAT_ICE_SERVERS": "[]",
    }
    app = StreamlitApp(env, python=plain_python).start()
    yield app
    app.stop()


def test_the_plain_environment_has_no_pipecat_but_the_turn_model(plain_python: str) -> None:
    probe = "import importlib.util as u; print(u.find_spec('pipecat') is None)"
    found = subprocess.run([plain_python, "-c", probe], check=True, capture_output=True, text=True)
    assert found.stdout.strip() == "True"


@pytest.mark.parametrize("talking_page", [Microphone(pause=8.0, speak=after_the_call_starts)], indirect=True)
def test_a_call_on_a_requirements_only_install_ends_turns_with_the_turn_model(
    served_app: StreamlitApp, talking_page: object, fake_openai: FakeOpenAI, mongo_uri: str
) -> None:
    page = talking_page
    fake_openai.transcript = QUESTION
    fake_openai.script_chat(ChatScript(reply="Paris.", repeat=True))
    page.goto(served_app.url)  # type: ignore[attr-defined]
    start_call(page)
    page.get_by_text("End of turn: silero + smart-turn-v3.2").wait_for(timeout=60_000)  # type: ignore[attr-defined]
    deadline = time.monotonic() + 90
    while stored_turns(mongo_uri) < 2:  # the second turn is judged (the first may arrive in a burst)
        assert time.monotonic() < deadline, "the second question was never answered"
        time.sleep(0.2)
    latencies = page.get_by_text("Last turn (ms):").first  # type: ignore[attr-defined]
    latencies.wait_for(timeout=30_000)
    figures = panel_latencies(latencies.inner_text())
    print(f"plain install, live panel: {figures}")
    assert figures["end of turn"] < defaults.PATIENCE_PAUSES_MS["balanced"][1]  # the model, not the silence
