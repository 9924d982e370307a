"""Which tools a turn may call: the built-ins and the MCP servers' tools, as the admin switched them, for
models that can call tools (the offline model cannot: tools are off there, and the chat says so)."""

from __future__ import annotations

import atexit
import logging
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

from voicechat.config import Settings
from voicechat.models import User
from voicechat.providers.chat_factory import is_local
from voicechat.storage.store import Store
from voicechat.storage.tool_state import ToolSwitch
from voicechat.tools.builtin import built_in_tools
from voicechat.tools.mcp_config import McpServerConfig
from voicechat.tools.runner import ToolBox
from voicechat.tools.spec import BUILT_IN, Tool, ToolContext

if TYPE_CHECKING:
    from voicechat.tools.mcp import McpHub

_hubs: dict[tuple[McpServerConfig, ...], McpHub] = {}
_hubs_lock = threading.Lock()
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ToolEntry:
    """A tool as the admin page lists it: what it is and how the deployment treats it. ``read_only`` is a
    built-in's own or, for a server's tool, the admin's switch; ``read_only_hint`` what the server claims."""

    name: str
    description: str
    source: str
    read_only: bool
    enabled: bool
    confirm_first: bool
    read_only_hint: bool = False

    @property
    def from_server(self) -> bool:
        """Whether an MCP server offers it (its name, description and hints are the server's own)."""
        return self.source != BUILT_IN


def shared_hub(settings: Settings) -> McpHub | None:
    """The process's sessions with the configured MCP servers (None: none configured)."""
    if not settings.mcp_servers:
        return None
    from voicechat.tools.mcp import McpHub  # noqa: PLC0415 - the SDK takes a second: only when servers are set

    with _hubs_lock:
        hub = _hubs.get(settings.mcp_servers)
        if hub is None:
            hub = _hubs[settings.mcp_servers] = McpHub(settings.mcp_servers)
            atexit.register(hub.close)
        return hub


def tools_off_reason(settings: Settings, model: str) -> str | None:
    """Why a conversation on ``model`` has no tools (None: it has them)."""
    if not settings.tools_enabled:
        return "Tools are switched off on this deployment."
    if is_local(model):
        return "The offline model cannot call tools, so tools are off for it."
    return None


def catalog(settings: Settings, store: Store, *, user: User | None = None) -> list[ToolEntry]:
    """Every tool this deployment knows, with the admin's switches (or their defaults) applied; a per-user
    MCP server's tools as ``user`` (the admin looking) sees them."""
    switches = store.tools.switches()
    return [_entry(tool, switches.get(tool.name)) for tool in _all_tools(settings, switches, user)]


def toolbox_for(
    settings: Settings,
    store: Store,
    *,
    user: User,
    conversation_id: str,
    model: str,
    timezone: str | None = None,
    user_said: str = "",
    turn_id: str = "",
    confirm_by_call: bool = False,
) -> ToolBox | None:
    """The tools a turn in ``conversation_id`` may call (None: no tools for this model or deployment)."""
    if tools_off_reason(settings, model) is not None:
        return None
    switches = store.tools.switches()
    entries = [(tool, _entry(tool, switches.get(tool.name))) for tool in _all_tools(settings, switches, user)]
    offered = tuple(tool for tool, entry in entries if entry.enabled)
    if not offered:
        return None
    context = ToolContext(
        user=user,
        conversation_id=conversation_id,
        store=store,
        timezone=timezone,
        user_said=user_said,
        turn_id=turn_id,
        confirm_by_call=confirm_by_call,
    )
    confirm = frozenset(entry.name for _, entry in entries if entry.enabled and entry.confirm_first)
    return ToolBox(tools=offered, context=context, confirm_first=confirm)


def _all_tools(settings: Settings, switches: dict[str, ToolSwitch], user: User | None) -> list[Tool]:
    tools = built_in_tools()
    hub = shared_hub(settings)
    if hub is not None:
        from voicechat.tools.mcp import McpTool  # noqa: PLC0415 - as above

        # Whether a server's tool only reads is the admin's word, never the server's own hint.
        tools.extend(
            McpTool(hub, info, read_only=_admin_says_read_only(switches.get(info.name)))
            for info in hub.tools(user)
        )
    return _unique(tools)


def _unique(tools: list[Tool]) -> list[Tool]:
    """``tools`` without the later ones whose name (cleaned and cut for the model) repeats an earlier one's:
    two tools under one name would share its switches (one's "reads only" or "runs at once" for both)."""
    seen: set[str] = set()
    kept: list[Tool] = []
    for tool in tools:
        if tool.name in seen:
            log.warning("tool name taken twice; the later one (from %s) is not offered", tool.source)
            continue
        seen.add(tool.name)
        kept.append(tool)
    return kept


def _admin_says_read_only(switch: ToolSwitch | None) -> bool:
    return switch is not None and switch.read_only


def _entry(tool: Tool, switch: ToolSwitch | None) -> ToolEntry:
    # Defaults: built-ins on and run at once; a server's tool on, but confirmed first unless the admin
    # marked it as one that only reads.
    default = ToolSwitch(enabled=True, confirm_first=tool.source != BUILT_IN and not tool.read_only)
    chosen = switch or default
    return ToolEntry(
        name=tool.name,
        description=tool.spec.description,
        source=tool.source,
        read_only=tool.read_only,
        enabled=chosen.enabled,
        confirm_first=chosen.confirm_first,
        read_only_hint=bool(getattr(tool, "read_only_hint", False)),
    )
