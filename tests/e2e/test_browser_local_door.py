"""Local single-user mode answers this machine only: a page that reaches the server through another host name
(DNS rebinding: the attacker's name resolves to 127.0.0.1) gets advice on setting up sign-in, not the app,
over both HTTP and the WebSocket its browser opens with that Host header."""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.test_browser_chat import CHROMIUM, CHROMIUM_ARGS, browser_available
from tests.fakes.openai_server import ChatScript, FakeOpenAI
from tests.fakes.servers import StreamlitApp

pytestmark = pytest.mark.slow
REBOUND = "rebound.example"


@pytest.fixture
def rebinding_browser() -> Iterator[Any]:
    """Chromium in which ``rebound.example`` resolves to 127.0.0.1, as after a DNS rebinding."""
    browser_available()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, f"--host-resolver-rules=MAP {REBOUND} 127.0.0.1"]
        )
        yield browser
        browser.close()


def test_a_page_reached_through_another_host_name_gets_sign_in_advice_not_the_app(
    served_app: StreamlitApp, rebinding_browser: Any, fake_openai: FakeOpenAI
) -> None:
    owner = rebinding_browser.new_context().new_page()
    owner.goto(served_app.url)
    fake_openai.script_chat(ChatScript(reply="Noted: the teal launch plan."))
    owner.get_by_test_id("stChatInputTextArea").fill("Remember the teal launch plan")
    owner.keyboard.press("Enter")
    owner.get_by_text("Noted: the teal launch plan.").first.wait_for(timeout=30_000)  # a stale copy may show

    attacker = rebinding_browser.new_context().new_page()
    for path in ("/", "/history", "/admin_usage"):
        attacker.goto(f"http://{REBOUND}:{served_app.port}{path}")
        attacker.get_by_role("heading", name="voicechat needs sign-in here").wait_for(timeout=30_000)
        assert attacker.get_by_test_id("stChatInputTextArea").count() == 0
        assert "teal" not in attacker.content()

    # Plain HTTP with the foreign Host: the page shell carries nothing of the user's either.
    request = urllib.request.Request(served_app.url + "/", headers={"Host": f"{REBOUND}:{served_app.port}"})
    with urllib.request.urlopen(request, timeout=5) as response:
        assert "teal" not in response.read().decode()
    assert "local mode refused a request" in served_app.output()
