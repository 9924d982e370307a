"""Whether a server's tool only reads is the admin's call on the Tools page: the server's ``readOnlyHint`` is
shown as a suggestion, the switch starts off (confirmed first, never run ahead), and ticking it is stored."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from tests.app.conftest import online_app
from tests.fakes.mcp_server import McpBoard
from tests.fakes.openai_server import FakeOpenAI
from voicechat.storage.store import Store
from voicechat.storage.tool_state import ToolSwitch


def test_the_admin_marks_a_server_tool_read_only_on_the_tools_page(
    mongo_uri: str, fake_openai: FakeOpenAI, mcp_board: McpBoard, store: Store
) -> None:
    app: AppTest = online_app(mongo_uri, fake_openai, **mcp_board.settings())
    app.run()
    app.switch_page("app_pages/admin_usage.py").run()
    assert not app.exception
    hints = [c.value for c in app.caption if "The server says it only reads" in c.value]
    assert len(hints) == 2  # list_incidents and slow_report claim it; open_ticket and broken do not
    reads = app.checkbox(key="tool-reads-board__list_incidents")
    assert reads.value is False and app.checkbox(key="tool-confirm-board__list_incidents").value is True
    assert not [c for c in app.checkbox if c.key == "tool-reads-current_time"]  # a built-in's own

    reads.check()
    app.checkbox(key="tool-confirm-board__list_incidents").uncheck()
    next(b for b in app.button if b.label == "Save tool settings").click().run()
    assert not app.exception and "1 tool(s) changed" in app.success[0].value
    assert store.tools.switches()["board__list_incidents"] == ToolSwitch(
        enabled=True, confirm_first=False, read_only=True
    )
    assert app.checkbox(key="tool-reads-board__list_incidents").value is True
