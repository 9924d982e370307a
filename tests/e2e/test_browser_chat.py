"""Real Chromium (Debian's /usr/bin/chromium) against streamlit run: chat streams and survives a reload."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes.openai_server import ChatScript, FakeOpenAI
from tests.fakes.servers import free_port, in_ci

ROOT = Path(__file__).parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
pytestmark = pytest.mark.slow


@pytest.fixture
def app_url(mongo_uri: str, fake_openai: FakeOpenAI, tmp_path: Path) -> Iterator[str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "OPENAI_API_KEY")}
    env.update(
        {
            "MONGODB_URI": mongo_uri,
            "OPENAI_BASE_URL": fake_openai.base_url,
            "OPENAI_API_KEY": "sk-e2e",
            "VOICECHAT_DATA_DIR": str(tmp_path),
        }
    )
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
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(url + "/_stcore/health", timeout=2):
                break
        except OSError:
            if time.monotonic() > deadline:
                process.kill()
                raise
            time.sleep(0.2)
    yield url
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=30)


@pytest.fixture
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).exists() or shutil.which("chromium") is None:
        if in_ci():
            pytest.fail("chromium is not installed (apt-get install chromium)")
        pytest.skip("chromium is not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def test_chat_streams_in_the_browser_and_survives_a_reload(
    app_url: str, browser: object, fake_openai: FakeOpenAI
) -> None:
    fake_openai.script_chat(ChatScript(reply="Natural turn-taking and **short** answers.", token_delay=0.05))
    page = browser.new_page()  # type: ignore[attr-defined]
    page.goto(app_url)
    page.get_by_test_id("stChatInputTextArea").fill("What feels natural?")
    page.keyboard.press("Enter")
    reply = page.get_by_test_id("stChatMessage").nth(1)
    reply.get_by_text("Natural turn-taking and").wait_for(timeout=30_000)
    assert reply.locator("strong").inner_text() == "short"  # Markdown rendered, not raw
    page.wait_for_url("**?c=*", timeout=30_000)
    page.reload()
    page.get_by_text("Natural turn-taking and").wait_for(timeout=30_000)
    assert page.get_by_test_id("stChatMessage").count() == 2
    html = page.content()
    assert "sk-e2e" not in html  # the key never reaches the browser
    assert fake_openai.chat_requests()[0].headers["authorization"] == "Bearer sk-e2e"
