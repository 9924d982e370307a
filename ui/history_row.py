"""One conversation in the History list: open, rename, export (Markdown, JSON), delete after confirming."""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from ui.context import AppContext
from voicechat import export
from voicechat.errors import VoicechatError
from voicechat.models import Conversation
from voicechat.rendering import escape_markdown
from voicechat.validation import clean_title


def render(app: AppContext, conversation: Conversation) -> None:
    """Draw the row and act on its buttons."""
    with st.container(border=True):
        title_col, open_col, manage_col = st.columns([7, 1, 1], vertical_alignment="center")
        badge = "🎙️ " if conversation.has_voice else ""
        title_col.markdown(f"**{badge}{escape_markdown(conversation.title)}**")
        title_col.caption(
            f"{conversation.updated_at:%Y-%m-%d %H:%M} UTC · {conversation.message_count} messages"
        )
        if open_col.button("Open", key=f"open-{conversation.id}"):
            st.switch_page("app_pages/chat.py", query_params={"c": conversation.id})
        with manage_col.popover("⋯", help="Rename, export or delete"):
            _rename(app, conversation)
            _export(app, conversation)
            _delete(app, conversation)


def _rename(app: AppContext, conversation: Conversation) -> None:
    title = st.text_input("Title", value=conversation.title, key=f"title-{conversation.id}")
    if st.button("Rename", key=f"rename-{conversation.id}"):
        try:
            app.store.conversations.rename(
                owner_id=app.user.id, conversation_id=conversation.id, title=clean_title(title)
            )
        except VoicechatError as exc:
            st.error(exc.user_message)
        else:
            st.rerun()


def _export(app: AppContext, conversation: Conversation) -> None:
    def build(render: Callable[..., str]) -> Callable[[], str]:
        def make() -> str:
            messages = list(
                export.iter_messages(
                    app.store.conversations, owner_id=app.user.id, conversation_id=conversation.id
                )
            )
            return render(conversation, messages)

        return make

    name = f"conversation-{conversation.id}"
    st.download_button(
        "Export Markdown",
        data=build(export.to_markdown),
        file_name=f"{name}.md",
        mime="text/markdown",
        key=f"md-{conversation.id}",
    )
    st.download_button(
        "Export JSON",
        data=build(export.to_json),
        file_name=f"{name}.json",
        mime="application/json",
        key=f"json-{conversation.id}",
    )


def _delete(app: AppContext, conversation: Conversation) -> None:
    sure = st.checkbox("Delete this conversation, its messages and recordings", key=f"sure-{conversation.id}")
    if st.button("Delete", key=f"delete-{conversation.id}", type="primary", disabled=not sure):
        try:
            app.store.delete_conversation(owner_id=app.user.id, conversation_id=conversation.id)
        except VoicechatError as exc:
            st.error(exc.user_message)
        else:
            st.toast("Conversation deleted.")
            st.rerun()
