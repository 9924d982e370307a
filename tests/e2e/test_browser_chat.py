"""Real Chromium (Debian's /usr/bin/chromium) against streamlit run: chat streams and survives a reload."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from tests.fakes.openai_server import ChatScript, FakeOpenAI
from tests.fakes.servers import in_ci

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


def browser_available() -> None:
    """Fail in CI, skip elsewhere, when Debian's chromium is missing."""
    if not Path(CHROMIUM).exists() or shutil.which("chromium") is None:
        if in_ci():
            pytest.fail("chromium is not installed (apt-get install chromium)")
        pytest.skip("chromium is not installed")


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


def test_make_run_serves_a_fresh_data_directory(browser: object, tmp_path: Path) -> None:
    """``make run``'s launcher (the database and imports before the server answers) serves a usable chat."""
    from tests.fakes.servers import StreamlitApp

    env = {"VOICECHAT_DATA_DIR": str(tmp_path), "VOICECHAT_LOCAL_ENGINES": "off", "OPENAI_API_KEY": "sk-e2e"}
    app = StreamlitApp(env, launcher=True).start()  # returns once the health check answers
    healthy = time.monotonic()
    try:
        page = browser.new_page()  # type: ignore[attr-defined]
        page.goto(app.url)
        page.wait_for_function(
            "() => { const box = document.querySelector('[data-testid=stChatInputTextArea]');"
            " return box && !box.disabled; }",
            timeout=30_000,
        )
        # Printed, not asserted (a test does not time things): benchmarks/first_page.py gives the median.
        print(f"fresh data directory: health -> usable chat input {time.monotonic() - healthy:.2f} s")
    finally:
        _, output = app.stop()
    assert "database and models ready in" in output
    assert (tmp_path / "embedded-mongo").is_dir()  # the embedded database, started by the launcher
