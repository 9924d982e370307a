"""During a call, the sidebar's Recent conversations lists the call's conversation as soon as its first turn
is stored, while the call goes on (before, it said "None yet" until the page reran after the call)."""

from __future__ import annotations

import re

import pytest

from tests.e2e.webrtc import QUESTION, Microphone, start_call
from tests.fakes.openai_server import ChatScript, FakeOpenAI
from tests.fakes.servers import StreamlitApp

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("talking_page", [Microphone(pause=10.0)], indirect=True)
def test_the_sidebar_lists_the_calls_conversation_while_the_call_runs(
    served_app: StreamlitApp, talking_page: object, fake_openai: FakeOpenAI
) -> None:
    page = talking_page
    fake_openai.transcript = QUESTION
    fake_openai.script_chat(ChatScript(reply="Paris.", repeat=True))
    page.goto(served_app.url)  # type: ignore[attr-defined]
    sidebar = page.get_by_test_id("stSidebar")  # type: ignore[attr-defined]
    sidebar.get_by_text("None yet").wait_for(timeout=30_000)
    start_call(page)
    # Titled by the first question (its first words).
    sidebar.get_by_role("button", name=re.compile(r"What is the capital")).wait_for(timeout=60_000)
    # ...while the call is still on: its screen shows, with its End call button.
    page.get_by_role("button", name="End call").wait_for(timeout=5_000)  # type: ignore[attr-defined]
    assert sidebar.get_by_text("None yet").count() == 0
    page.locator(".st-key-call-screen").get_by_text("Paris.").first.wait_for(timeout=30_000)  # type: ignore[attr-defined]
