"""Tools in real Chromium: a typed question and a spoken one (Talk mode over WebRTC) each call a tool on a
real MCP server; the reply uses the result, the step is shown under it, and it is stored with the reply."""

from __future__ import annotations

import time

import pytest

from tests.e2e.webrtc import QUESTION, Microphone, end_call, start_call, wait_for_reply
from tests.fakes.mcp_server import INCIDENTS, TOKEN, McpBoard, trust_readers
from tests.fakes.openai_server import ChatScript, FakeOpenAI
from tests.fakes.servers import StreamlitApp
from voicechat.models import Message
from voicechat.storage.cache import MemoryContextCache
from voicechat.storage.database import Database
from voicechat.storage.store import Store

pytestmark = pytest.mark.slow


@pytest.fixture
def app_settings(mcp_board: McpBoard) -> dict[str, str]:
    return mcp_board.settings()


def trust_board_readers(mongo_uri: str) -> None:
    """The admin's word that the board's listing only reads (the server's hint alone is not trusted)."""
    db = Database.connect(mongo_uri)
    try:
        trust_readers(Store.over(db, cache=MemoryContextCache(), context_size=10))
    finally:
        db.close()


def stored_replies(mongo_uri: str, *, wait: float = 0.0) -> list[Message]:
    """The replies stored so far; with ``wait``, polls that long for at least one (the page may show a
    reply a moment before the recorder's write lands)."""
    deadline = time.monotonic() + wait
    while not (replies := _replies(mongo_uri)) and time.monotonic() < deadline:
        time.sleep(0.2)
    return replies


def _replies(mongo_uri: str) -> list[Message]:
    db = Database.connect(mongo_uri)
    try:
        store = Store.over(db, cache=MemoryContextCache(), context_size=10)
        user = store.users.get_or_create(email="local@localhost", name="Local user", admin=True)
        conversations = store.conversations.list_page(owner_id=user.id).items
        if not conversations:
            return []
        page = store.conversations.messages_page(owner_id=user.id, conversation_id=conversations[0].id)
        return [m for m in page.items if m.role == "assistant"]
    finally:
        db.close()


def test_a_typed_question_uses_a_tool_and_shows_the_step(
    app_url: str, browser: object, fake_openai: FakeOpenAI, mongo_uri: str, served_app: StreamlitApp
) -> None:
    trust_board_readers(mongo_uri)
    fake_openai.script_chat(ChatScript(tool_calls=(("board__list_incidents", {}),)))
    page = browser.new_page()  # type: ignore[attr-defined]
    page.goto(app_url)
    page.get_by_test_id("stChatInputTextArea").fill("What is on the incident board?")
    page.keyboard.press("Enter")
    page.get_by_text("From the tool: INC-7").first.wait_for(timeout=30_000)  # a stale copy may show
    step = page.get_by_text("Tool: board: list incidents - done")
    step.wait_for(timeout=30_000)
    step.click()  # opens the step: its result as plain text
    page.get_by_text(INCIDENTS[1]).last.wait_for(timeout=10_000)
    [reply] = stored_replies(mongo_uri, wait=10)
    assert [(s.name, s.status) for s in reply.tool_steps] == [("board__list_incidents", "ok")]
    assert TOKEN not in page.content() and TOKEN not in served_app.output()


# A pause long enough to hear the whole reply: the looped question would otherwise cut it (a barge-in).
@pytest.mark.parametrize("talking_page", [Microphone(pause=10.0)], indirect=True)
def test_a_spoken_question_in_a_call_uses_a_tool(
    served_app: StreamlitApp, talking_page: object, fake_openai: FakeOpenAI, mongo_uri: str
) -> None:
    page = talking_page
    trust_board_readers(mongo_uri)
    fake_openai.transcript = QUESTION
    # Every chat request calls the tool (a draft made at a pause takes a script too).
    fake_openai.script_chat(ChatScript(tool_calls=(("board__list_incidents", {}),), repeat=True))
    page.goto(served_app.url)  # type: ignore[attr-defined]
    start_call(page)
    wait_for_reply(page, served_app, "From the tool: INC-7")
    [reply, *_] = stored_replies(mongo_uri, wait=10)  # stored with its steps once its text is whole
    assert "From the tool: INC-7" in reply.content  # after "Let me check." if the call took a while
    assert [(s.name, s.status, s.source) for s in reply.tool_steps][:1] == [
        ("board__list_incidents", "ok", "board")
    ]
    end_call(page)  # back to the chat: the step is shown
    page.get_by_text("Tool: board: list incidents - done").first.wait_for(timeout=30_000)  # type: ignore[attr-defined]
