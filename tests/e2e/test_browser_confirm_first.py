"""A confirm-first MCP tool in real Chromium acts only on the user's real yes: a model that calls it twice
in one turn after "Okay, summarise the thread" runs nothing and the Yes/No buttons show; Yes runs it once
with the held arguments (the MCP server records exactly one call); "Of course not" and a new question run
nothing; in a call, a spoken "no" runs nothing and a spoken "yes" runs it once."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from tests.e2e.test_browser_tools import stored_replies
from tests.e2e.webrtc import Microphone, end_call, start_call
from tests.fakes.mcp_server import McpBoard
from tests.fakes.openai_server import ChatScript, FakeOpenAI
from tests.fakes.servers import StreamlitApp

pytestmark = pytest.mark.slow
OPEN = "board__open_ticket"
TWICE = ChatScript(tool_calls=((OPEN, {"title": "Boss"}), (OPEN, {"title": "Boss"})))


@pytest.fixture
def app_settings(mcp_board: McpBoard) -> dict[str, str]:
    return mcp_board.settings()


def until(fact: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not fact():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def send(page: object, text: str) -> None:
    page.get_by_test_id("stChatInputTextArea").fill(text)  # type: ignore[attr-defined]
    page.keyboard.press("Enter")  # type: ignore[attr-defined]


def test_typed_turns_run_a_held_call_only_on_the_yes_button(
    app_url: str, browser: object, fake_openai: FakeOpenAI, mongo_uri: str, mcp_board: McpBoard
) -> None:
    opened = len(mcp_board.opened)
    fake_openai.keep_calling_tools = True  # and it would call again in every round it is given
    page = browser.new_page()  # type: ignore[attr-defined]
    page.goto(app_url)
    yes = page.get_by_role("button", name="Yes, go ahead")

    fake_openai.script_chat(TWICE)
    send(page, "Okay, summarise the thread")
    yes.wait_for(timeout=30_000)
    page.get_by_text('{"title": "Boss"}').last.wait_for(timeout=5_000)  # what will run, as plain text
    assert mcp_board.opened[opened:] == []
    fake_openai.keep_calling_tools = False

    send(page, "Of course not")
    page.get_by_text("Tool: board: open ticket - declined").first.wait_for(timeout=30_000)
    fake_openai.script_chat(TWICE)
    send(page, "Okay, open it after all")
    yes.wait_for(timeout=30_000)
    send(page, "What is on the incident board?")  # a new question drops it
    page.get_by_text("You said: What is on the incident board?").first.wait_for(timeout=30_000)
    assert yes.count() == 0 and mcp_board.opened[opened:] == []

    fake_openai.script_chat(TWICE)
    send(page, "Okay, summarise the thread")
    yes.wait_for(timeout=30_000)
    yes.click()
    page.get_by_text("From the tool: Opened TCK-").first.wait_for(timeout=30_000)
    assert mcp_board.opened[opened:] == ["Boss"]
    last = stored_replies(mongo_uri, wait=10)[-1]
    assert [(s.name, s.status, s.arguments) for s in last.tool_steps][:1] == [
        (OPEN, "ok", '{"title": "Boss"}')
    ]


# A pause long enough for each turn's whole reply: the looped words would otherwise barge in.
@pytest.mark.parametrize("talking_page", [Microphone(pause=10.0)], indirect=True)
def test_in_a_call_a_spoken_no_runs_nothing_and_a_spoken_yes_runs_it_once(
    served_app: StreamlitApp,
    talking_page: object,
    fake_openai: FakeOpenAI,
    mongo_uri: str,
    mcp_board: McpBoard,
) -> None:
    page = talking_page
    opened = len(mcp_board.opened)
    # Whatever the microphone says, the fake transcriber hears these words; every reply calls the tool.
    fake_openai.transcript = "Open a ticket about the pager storm."
    fake_openai.script_chat(ChatScript(tool_calls=((OPEN, {"title": "Pager storm"}),), repeat=True))
    page.goto(served_app.url)  # type: ignore[attr-defined]
    start_call(page)

    def statuses() -> list[list[str]]:
        return [[s.status for s in r.tool_steps] for r in stored_replies(mongo_uri)]

    until(lambda: ["awaiting_confirmation"] in statuses(), timeout=90)
    fake_openai.transcript = "No."
    until(lambda: any(s[:1] == ["declined"] for s in statuses()), timeout=60)
    assert mcp_board.opened[opened:] == []
    fake_openai.transcript = "Yes, go ahead."
    until(lambda: any(s[:1] == ["ok"] for s in statuses()), timeout=60)
    fake_openai.transcript = "Thanks."  # the model asked again: a new hold, dropped by this
    end_call(page)
    assert mcp_board.opened[opened:] == ["Pager storm"]
