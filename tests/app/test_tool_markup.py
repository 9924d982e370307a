"""Tool names and MCP descriptions are somebody else's text (a server picks its own): wherever a page puts
them into Markdown (a step's title and captions under a reply, the call screen, the admin's Tools page)
they are escaped, so an image, a link or HTML in them shows as literal text and loads nothing."""

from __future__ import annotations

import json
import re
import sys

import pytest
from streamlit.testing.v1 import AppTest

from tests.app.conftest import online_app
from tests.engine.live_helpers import wait_until
from tests.fakes.mcp_server import FORGED_DESCRIPTION
from tests.fakes.openai_server import FakeOpenAI
from voicechat.config import Settings
from voicechat.models import ToolStep
from voicechat.storage.store import Store
from voicechat.tools.catalog import shared_hub

FORGED_NAME = "![x](https://evil.example/p.png) **bold** <img src=x> [click](javascript:alert(1))"
# Markdown that would render as an image, a link, emphasis or a tag: an unescaped opener of any of them.
LIVE_MARKUP = re.compile(r"(?<!\\)(!\[|\[|\*\*|<img|\]\()")


def assert_literal(markdown: str, text: str) -> None:
    """``markdown`` shows ``text`` literally: every mark in it escaped, nothing else changed."""
    assert not LIVE_MARKUP.search(markdown), markdown
    assert text in re.sub(r"\\(.)", r"\1", markdown)


def test_a_forged_tool_name_in_a_step_shows_as_text(
    mongo_uri: str, fake_openai: FakeOpenAI, store: Store
) -> None:
    user = store.users.get_or_create(email="local@localhost", name="Local user", admin=True)
    conversation = store.conversations.create(owner_id=user.id, title="Steps")
    store.conversations.add_message(
        owner_id=user.id, conversation_id=conversation.id, role="user", content="Hi"
    )
    step = ToolStep(
        name=FORGED_NAME, arguments="{}", result="ok", status="ok", source="![s](https://evil.example/s.png)"
    )
    store.conversations.add_message(
        owner_id=user.id,
        conversation_id=conversation.id,
        role="assistant",
        content="Done.",
        tool_steps=(step,),
    )
    app = online_app(mongo_uri, fake_openai)
    app.query_params["c"] = conversation.id
    app.run()
    assert not app.exception
    [expander] = [e for e in app.expander if e.label.startswith("Tool: ")]
    assert_literal(expander.label, "https://evil.example/p.png")
    source = next(c.value for c in expander.caption if c.value.startswith("From "))
    assert_literal(source, "![s](https://evil.example/s.png)")


@pytest.fixture
def forged_server() -> dict[str, str]:
    """A stdio MCP server whose tool description carries an image, a link and HTML."""
    server = {"name": "forged", "command": sys.executable, "args": ["-m", "tests.fakes.mcp_server", "forged"]}
    return {"VOICECHAT_MCP_SERVERS": json.dumps([server])}


def test_a_forged_mcp_description_on_the_tools_page_shows_as_text(
    mongo_uri: str, fake_openai: FakeOpenAI, forged_server: dict[str, str]
) -> None:
    hub = shared_hub(Settings.from_mapping(forged_server))  # the app's own (one per process and server list)
    assert hub is not None
    wait_until(lambda: bool(hub.tools()), timeout=30)  # the server has started (a subprocess: may be slow)
    app = online_app(mongo_uri, fake_openai, **forged_server)
    app.run()
    app.switch_page("app_pages/admin_usage.py").run()
    assert not app.exception
    shown = [c.value for c in app.caption if "evil" in c.value] + [
        m.value for m in app.markdown if "evil" in m.value
    ]
    assert shown, "the forged tool is listed"
    for markdown in shown:
        assert not LIVE_MARKUP.search(markdown), markdown
    assert any(FORGED_DESCRIPTION in re.sub(r"\\(.)", r"\1", m) for m in shown)
    # The server says the tool only reads: shown as a suggestion, and the admin's switch starts off.
    assert any("The server says it only reads" in c.value for c in app.caption)
    reads = next(c for c in app.checkbox if c.key.startswith("tool-reads-forged__"))
    assert reads.value is False


def _call_screen(tool: str) -> None:
    from ui import call_screen  # imported in the script AppTest runs
    from voicechat.talk.view import TalkSnapshot

    call_screen.show(
        TalkSnapshot(
            state="listening",
            level_dbfs=-30.0,
            transcript=(),
            last_turn=None,
            error=None,
            conversation_id=None,
            turns=0,
            vad="silero",
            tool=tool,
        )
    )


def test_a_forged_tool_name_on_the_call_screen_shows_as_text() -> None:
    app = AppTest.from_function(_call_screen, args=(FORGED_NAME,), default_timeout=30)
    app.run()
    assert not app.exception
    [using] = [c.value for c in app.caption if c.value.startswith(":material/build: Using")]
    assert_literal(using, "https://evil.example/p.png")
