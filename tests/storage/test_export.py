from __future__ import annotations

import json

from voicechat import export
from voicechat.storage.store import Store


def test_export_contains_every_message_in_order(store: Store) -> None:
    user = store.users.get_or_create(email="x@example.com", name="X")
    conv = store.conversations.create(owner_id=user.id, title="Plans <b>now</b>")
    for i in range(1203):  # more than two export pages
        store.conversations.add_message(
            owner_id=user.id,
            conversation_id=conv.id,
            role="user" if i % 2 == 0 else "assistant",
            content=f"m{i}",
        )
    store.conversations.add_message(
        owner_id=user.id,
        conversation_id=conv.id,
        role="assistant",
        content="cut",
        status="interrupted",
        interrupted=True,
    )
    conversation = store.conversations.get(owner_id=user.id, conversation_id=conv.id)
    messages = list(export.iter_messages(store.conversations, owner_id=user.id, conversation_id=conv.id))
    assert [m.content for m in messages] == [f"m{i}" for i in range(1203)] + ["cut"]
    data = json.loads(export.to_json(conversation, messages))
    assert data["title"] == "Plans <b>now</b>" and len(data["messages"]) == 1204
    assert data["messages"][-1]["interrupted"] is True and data["messages"][0]["role"] == "user"
    markdown = export.to_markdown(conversation, messages)
    assert markdown.startswith("# Plans \\<b\\>now\\</b\\>")  # the title shows literally, never as HTML
    assert "**Assistant** (interrupted)" in markdown and "\nm1202\n" in markdown
