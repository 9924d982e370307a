"""The app served by ``streamlit run`` for browser tests, pointed at the fakes and the test's database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.servers import StreamlitApp


@pytest.fixture
def served_app(mongo_uri: str, fake_openai: FakeOpenAI, tmp_path: Path) -> Iterator[StreamlitApp]:
    """The app on a free 127.0.0.1 port; the speech route is fixed (the date switch has its own tests)."""
    app = StreamlitApp(
        {
            "MONGODB_URI": mongo_uri,
            "OPENAI_BASE_URL": fake_openai.base_url,
            "OPENAI_API_KEY": "sk-e2e",
            "VOICECHAT_DATA_DIR": str(tmp_path),
            "VOICECHAT_SPEECH_ROUTE": "speech-endpoint",
            "VOICECHAT_ICE_SERVERS": "[]",
        }
    ).start()
    yield app
    app.stop()


@pytest.fixture
def app_url(served_app: StreamlitApp) -> str:
    """Where the served app answers."""
    return served_app.url
