"""Two tools whose names come out the same for the model (MCP names are cleaned and cut to 64 characters)
are never both offered: they would share one name's switches."""

from __future__ import annotations

from typing import Any

from voicechat.tools import catalog
from voicechat.tools.mcp import McpToolInfo
from voicechat.tools.spec import Tool, ToolContext, no_parameters


class Named(Tool):
    def __init__(self, name: str, source: str) -> None:
        super().__init__(
            name=name, description="", parameters=no_parameters(), read_only=False, source=source
        )

    def run(self, arguments: dict[str, Any], context: ToolContext) -> str:
        return ""


def test_names_that_collide_keep_only_the_first_tool() -> None:
    a = McpToolInfo(server="a", tool="_b", description="", input_schema={}, read_only_hint=False)
    b = McpToolInfo(server="a_", tool="b", description="", input_schema={}, read_only_hint=False)
    assert a.name == b.name == "a___b"
    kept = catalog._unique([Named(a.name, "a"), Named(b.name, "a_"), Named("current_time", "built-in")])
    assert [(t.name, t.source) for t in kept] == [("a___b", "a"), ("current_time", "built-in")]
