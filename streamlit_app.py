"""voicechat: page config, who the user is, and the page router. No logic lives here."""

from __future__ import annotations

import streamlit as st

from ui import context

st.set_page_config(page_title="voicechat", page_icon="🎙️", layout="wide")
app = context.current()

pages = [
    st.Page("app_pages/chat.py", title="Chat", icon=":material/chat:", default=True),
    st.Page("app_pages/history.py", title="History", icon=":material/history:"),
    st.Page("app_pages/voice_preferences.py", title="Voice preferences", icon=":material/tune:"),
]
if app.user.is_admin:
    pages.append(st.Page("app_pages/admin_usage.py", title="Usage (admin)", icon=":material/monitoring:"))

if st.user.get("is_logged_in"):
    st.sidebar.caption(f"Signed in as {app.user.email}")
    st.sidebar.button("Sign out", on_click=st.logout)
elif context.viewer_email():
    st.sidebar.caption(f"Viewing as {app.user.email}")

st.navigation(pages).run()
