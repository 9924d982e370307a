"""The admin's "Tools" panel: every tool the assistant may call (built-in and from MCP servers), each
switched on or off for the deployment and marked "confirm first"; the MCP servers' reachability."""

from __future__ import annotations

import streamlit as st

from ui.context import AppContext
from ui.tool_steps import label
from voicechat.errors import NotAllowed
from voicechat.storage.tool_state import ToolSwitch
from voicechat.tools.catalog import catalog, shared_hub


def render(app: AppContext) -> None:
    """The tools, with a form to change their switches (admins only, checked again on save)."""
    st.subheader("Tools")
    if not app.settings.tools_enabled:
        st.caption("Tools are switched off on this deployment (VOICECHAT_TOOLS=off).")
        return
    hub = shared_hub(app.settings)
    entries = catalog(app.settings, app.store)  # connects to servers not reached yet
    if hub is not None:
        for server, error in hub.status().items():
            if error is None:
                st.caption(f":material/dns: MCP server **{server}**: reachable")
            else:
                st.warning(f"MCP server **{server}** is unavailable ({error}); it is tried again shortly.")
    st.caption(
        "Switched-off tools are never offered to the model. A confirm-first tool runs only after the user "
        "says yes (a button in chat, a spoken yes in a call). Server tools that change things start as "
        "confirm-first."
    )
    with st.form("tools"):
        chosen: dict[str, ToolSwitch] = {}
        for entry in entries:
            cols = st.columns([3, 1, 1])
            kind = "reads only" if entry.read_only else "can change things"
            cols[0].markdown(f"**{label(entry.name)}** ({entry.source}, {kind})")
            cols[0].caption(entry.description[:200])
            enabled = cols[1].checkbox("On", value=entry.enabled, key=f"tool-on-{entry.name}")
            confirm = cols[2].checkbox(
                "Confirm first", value=entry.confirm_first, key=f"tool-confirm-{entry.name}"
            )
            chosen[entry.name] = ToolSwitch(enabled=enabled, confirm_first=confirm)
        saved = st.form_submit_button("Save tool settings")
    if saved:
        if not app.user.is_admin:
            raise NotAllowed()
        current = {e.name: ToolSwitch(e.enabled, e.confirm_first) for e in entries}
        changed = [name for name, switch in chosen.items() if switch != current.get(name)]
        for name in changed:
            app.store.tools.set_switch(name, chosen[name], by=app.user.email)
        st.success(f"Saved: {len(changed)} tool(s) changed." if changed else "Nothing changed.")
