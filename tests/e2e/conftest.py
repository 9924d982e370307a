"""The app served by ``streamlit run`` for browser tests, pointed at the fakes and the test's database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.test_browser_chat import CHROMIUM, CHROMIUM_ARGS, browser_available
from tests.e2e.webrtc import KEEP_PEER_CONNECTIONS, QUESTION, Microphone, microphone_args
from tests.fakes.elevenlabs_server import API_KEY as ELEVENLABS_KEY
from tests.fakes.elevenlabs_server import FakeElevenLabs
from tests.fakes.oidc import OIDCProvider
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.servers import StreamlitApp

# The people of the sign-in provider (``provider``): a subject and the claims its ID token carries.
PEOPLE = {
    "alice@example.com": {"email": "alice@example.com", "email_verified": True, "name": "Alice Worker"},
    "bob@example.com": {"email": "bob@example.com", "email_verified": True, "name": "Bob Boss"},
    # Claims the listed admin's address at a provider that never checked it.
    "mallory-sub": {"email": "bob@example.com", "email_verified": False, "name": "Mallory"},
    "eve@elsewhere.example": {"email": "eve@elsewhere.example", "email_verified": True, "name": "Eve"},
}


@pytest.fixture
def provider() -> Iterator[OIDCProvider]:
    """A local OpenID Connect provider knowing ``PEOPLE``, stopped afterwards."""
    provider = OIDCProvider(PEOPLE).start()
    yield provider
    provider.stop()


@pytest.fixture
def browser() -> Iterator[Any]:
    """Debian's Chromium under Playwright, closed after the test."""
    browser_available()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def app_settings() -> dict[str, str]:
    """More settings for ``served_app`` (none here; a test module overrides this fixture to add some)."""
    return {}


@pytest.fixture
def served_app(
    mongo_uri: str,
    fake_openai: FakeOpenAI,
    fake_elevenlabs: FakeElevenLabs,
    tmp_path: Path,
    app_settings: dict[str, str],
    request: pytest.FixtureRequest,
) -> Iterator[StreamlitApp]:
    """The app on a free 127.0.0.1 port, started as ``make run`` starts it (``scripts/serve.py``: a warm-up
    that once left the call's component unregistered went unseen while these tests ran a bare ``streamlit
    run``); the speech route is fixed (the date switch has its own tests).

    Parametrise it indirectly with a dict to add settings, or give the test module an ``app_settings``
    fixture of its own (settings that depend on other fixtures)."""
    app = StreamlitApp(
        {
            "MONGODB_URI": mongo_uri,
            "OPENAI_BASE_URL": fake_openai.base_url,
            "OPENAI_API_KEY": "sk-e2e",
            "VOICECHAT_DATA_DIR": str(tmp_path),
            "VOICECHAT_SPEECH_ROUTE": "speech-endpoint",
            "VOICECHAT_ICE_SERVERS": "[]",
            "ELEVENLABS_BASE_URL": fake_elevenlabs.base_url,
            "ELEVENLABS_API_KEY": ELEVENLABS_KEY,
            "ELEVENLABS_AGENT_ID": "agent_e2e",
            **getattr(request, "param", {}),
            **app_settings,
        },
        launcher=True,
    ).start()
    yield app
    app.stop()


@pytest.fixture
def app_url(served_app: StreamlitApp) -> str:
    """Where the served app answers."""
    return served_app.url


@pytest.fixture
def talking_page(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[object]:
    """Chromium whose microphone says the question, then is silent (``request.param``: a ``Microphone``)."""
    browser_available()
    from playwright.sync_api import sync_playwright

    mic: Microphone = getattr(request, "param", Microphone())
    microphone = tmp_path / "question.wav"
    microphone.write_bytes(mic.speak(QUESTION, pad_seconds=mic.pause))  # Chromium loops the file
    args = [*CHROMIUM_ARGS, *microphone_args(microphone)]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=args)
        context = browser.new_context(permissions=["microphone"])
        context.add_init_script(KEEP_PEER_CONNECTIONS)
        yield context.new_page()
        browser.close()
