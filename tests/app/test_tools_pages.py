"""Tools on the pages (AppTest): a tool step under a reply, confirming a held call with the buttons, the
admin's tool switches, and the remembered facts on the preferences page."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from tests.app.conftest import online_app
from tests.fakes.mcp_server import McpBoard, trust_readers
from tests.fakes.openai_server import ChatScript, FakeOpenAI
from voicechat.models import User
from voicechat.storage.store import Store


@pytest.fixture
def app(mongo_uri: str, fake_openai: FakeOpenAI, mcp_board: McpBoard) -> AppTest:
    return online_app(mongo_uri, fake_openai, **mcp_board.settings())


def local_user(store: Store) -> User:
    return store.users.get_or_create(email="local@localhost", name="Local user", admin=True)


def expanders(app: AppTest) -> list[str]:
    return [e.label for e in app.expander]


def test_a_tool_step_is_shown_under_the_stored_reply(
    app: AppTest, fake_openai: FakeOpenAI, store: Store
) -> None:
    trust_readers(store)
    fake_openai.script_chat(ChatScript(tool_calls=(("board__list_incidents", {}),)))
    app.run()
    app.chat_input[0].set_value("What's on the incident board?").run()
    assert not app.exception and not app.error
    assert any("INC-7 checkout latency" in m.markdown[0].value for m in app.chat_message if m.markdown)
    assert any(label.startswith("Tool: board: list incidents - done") for label in expanders(app))
    step = next(e for e in app.expander if e.label.startswith("Tool: board"))
    assert "INC-9 login errors" in step.text[0].value  # the result as plain text, never Markdown


def test_a_held_call_runs_after_the_yes_button(
    app: AppTest, fake_openai: FakeOpenAI, mcp_board: McpBoard
) -> None:
    call = ChatScript(tool_calls=(("board__open_ticket", {"title": "Login errors"}),))
    fake_openai.script_chat(call)
    app.run()
    app.chat_input[0].set_value("Open a ticket about the login errors").run()
    assert not app.exception
    assert any("waiting for your confirmation" in label for label in expanders(app))
    opened = len(mcp_board.opened)
    fake_openai.script_chat(call)  # the model asks again once the user said yes
    yes = next(b for b in app.button if b.label == "Yes, go ahead")
    yes.click().run()
    assert not app.exception
    assert mcp_board.opened[opened:] == ["Login errors"]
    assert [m.markdown[0].value for m in app.chat_message if m.markdown][-2] == "Yes, go ahead."


def test_the_admin_switches_a_tool_off_and_the_model_no_longer_sees_it(
    app: AppTest, store: Store, fake_openai: FakeOpenAI
) -> None:
    app.run()
    app.switch_page("app_pages/admin_usage.py").run()
    assert not app.exception
    assert any("board" in c.value and "reachable" in c.value for c in app.caption)
    app.checkbox(key="tool-on-board__broken").uncheck()
    app.checkbox(key="tool-confirm-current_time").check()
    next(b for b in app.button if b.label == "Save tool settings").click().run()
    assert "2 tool(s) changed" in app.success[0].value
    switches = store.tools.switches()
    assert not switches["board__broken"].enabled and switches["current_time"].confirm_first

    app.switch_page("app_pages/chat.py").run()
    app.chat_input[0].set_value("Hello").run()
    offered = {t["function"]["name"] for t in fake_openai.chat_requests()[-1].body["tools"]}
    assert "board__broken" not in offered and "board__list_incidents" in offered


def test_remembered_facts_are_shown_and_edited_on_the_preferences_page(app: AppTest, store: Store) -> None:
    app.run()
    user = local_user(store)
    store.users.remember(user.id, "I am on call this week")
    app.switch_page("app_pages/voice_preferences.py").run()
    area = next(t for t in app.text_area if t.label == "Remembered facts")
    assert area.value == "I am on call this week"
    area.set_value("I am on call this week\n\nMy team is Payments")
    next(b for b in app.button if b.label == "Save remembered facts").click().run()
    assert not app.exception
    assert store.users.memory(user.id) == ["I am on call this week", "My team is Payments"]
