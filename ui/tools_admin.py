"""The admin's "Tools" panel: every tool the assistant may call (built-in and from MCP servers), each
switched on or off for the deployment and marked "confirm first" (and, for a server's tool, "reads only":
the admin's decision, with the server's own claim shown as a suggestion); the MCP servers' reachability.

A server picks its tools' names and descriptions: they are shown escaped, as literal text."""

from __future__ import annotations

import streamlit as st

from ui.context import AppContext
from ui.tool_steps import label
from voicechat.errors import NotAllowed
from voicechat.rendering import escape_markdown
from voicechat.storage.tool_state import ToolSwitch
from voicechat.tools.catalog import ToolEntry, catalog, shared_hub


def render(app: AppContext) -> None:
    """The tools, with a form to change their switches (admins only, checked again on save)."""
    st.subheader("Tools")
    if not app.settings.tools_enabled:
        st.caption("Tools are switched off on this deployment (VOICECHAT_TOOLS=off).")
        return
    hub = shared_hub(app.settings)
    entries = catalog(app.settings, app.store, user=app.user)  # connects to servers not reached yet
    if hub is not None:
        for server, error in hub.status(app.user).items():
            if error is None:
                st.caption(f":material/dns: MCP server **{server}**: reachable")
            else:
                st.warning(f"MCP server **{server}** is unavailable ({error}); it is tried again shortly.")
    st.caption(
        "Switched-off tools are never offered to the model. A confirm-first tool runs only after the user "
        "says yes (a button in chat, a spoken yes in a call). A server's tool counts as one that can change "
        "things until you tick Reads only (whatever the server claims); only a tool that reads only and is "
        "not confirm-first may run while the user is still speaking."
    )
    with st.form("tools"):
        chosen: dict[str, ToolSwitch] = {}
        for entry in entries:
            cols = st.columns([3, 1, 1, 1])
            kind = "reads only" if entry.read_only else "can change things"
            cols[0].markdown(f"**{label(entry.name)}** ({escape_markdown(entry.source)}, {kind})")
            cols[0].caption(escape_markdown(entry.description[:200]))
            if entry.from_server and entry.read_only_hint:
                cols[0].caption(":material/lightbulb: The server says it only reads.")
            enabled = cols[1].checkbox("On", value=entry.enabled, key=f"tool-on-{entry.name}")
            confirm = cols[2].checkbox(
                "Confirm first", value=entry.confirm_first, key=f"tool-confirm-{entry.name}"
            )
            read_only = False  # a built-in's own, not the admin's to set
            if entry.from_server:
                read_only = cols[3].checkbox(
                    "Reads only",
                    value=entry.read_only,
                    key=f"tool-reads-{entry.name}",
                    help="Your word that this tool changes nothing: it may run ahead in a drafted reply.",
                )
            chosen[entry.name] = ToolSwitch(enabled=enabled, confirm_first=confirm, read_only=read_only)
        saved = st.form_submit_button("Save tool settings")
    if saved:
        if not app.user.is_admin:
            raise NotAllowed()
        current = {e.name: _switch_of(e) for e in entries}
        changed = [name for name, switch in chosen.items() if switch != current.get(name)]
        for name in changed:
            app.store.tools.set_switch(name, chosen[name], by=app.user.email)
        st.success(f"Saved: {len(changed)} tool(s) changed." if changed else "Nothing changed.")


def _switch_of(entry: ToolEntry) -> ToolSwitch:
    """The switch as stored now (a built-in's read_only is its own: never stored)."""
    return ToolSwitch(entry.enabled, entry.confirm_first, entry.read_only and entry.from_server)
