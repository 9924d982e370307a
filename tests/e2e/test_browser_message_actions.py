"""Reply actions in real Chromium: stop a reply while it streams (kept as far as it came, marked interrupted),
then rate it and regenerate it."""

from __future__ import annotations

import pytest

from tests.fakes.openai_server import ChatScript, FakeOpenAI
from voicechat.storage.cache import MemoryContextCache
from voicechat.storage.database import Database
from voicechat.storage.store import Store

pytestmark = pytest.mark.slow
LONG = " ".join(f"Sentence {n} of a reply that takes its time." for n in range(1, 40))


def stored(mongo_uri: str) -> list[tuple[str, str, str, str | None]]:
    db = Database.connect(mongo_uri)
    try:
        store = Store.over(db, cache=MemoryContextCache(), context_size=10)
        user = store.users.get_or_create(email="local@localhost", name="Local user", admin=True)
        [conversation] = store.conversations.list_page(owner_id=user.id).items
        page = store.conversations.messages_page(owner_id=user.id, conversation_id=conversation.id)
        return [(m.role, m.content, m.status, m.rating) for m in page.items]
    finally:
        db.close()


def test_stop_generating_then_rate_and_regenerate(
    app_url: str, browser: object, fake_openai: FakeOpenAI, mongo_uri: str
) -> None:
    fake_openai.script_chat(ChatScript(reply=LONG, token_delay=0.1))
    page = browser.new_page()  # type: ignore[attr-defined]
    page.goto(app_url)
    page.get_by_test_id("stChatInputTextArea").fill("Tell me a long story")
    page.keyboard.press("Enter")
    page.get_by_text("Sentence 2 of a reply").wait_for(timeout=30_000)
    page.get_by_role("button", name="Stop generating").click()
    page.get_by_text("reply interrupted").wait_for(timeout=30_000)
    [_, reply] = stored(mongo_uri)
    assert reply[2] == "interrupted" and reply[1].startswith("Sentence 1") and "Sentence 39" not in reply[1]

    page.get_by_label("Feedback rating").locator("button").first.click()  # thumbs up (shown first)
    page.get_by_text("Thanks for the feedback.").wait_for(timeout=30_000)
    fake_openai.script_chat(ChatScript(reply="A short one."))
    page.get_by_role("button", name="Regenerate").click()
    # The new reply takes the old one's place: never both on the page (strict: one match only), not while it
    # streams nor once it is shown from storage.
    page.get_by_text("A short one.").wait_for(timeout=30_000)
    assert page.get_by_text("Sentence 1 of a reply").count() == 0
    page.get_by_role("button", name="Regenerate").wait_for(timeout=30_000)  # the stored reply's actions
    page.get_by_text("A short one.").wait_for(timeout=30_000)
    rows = stored(mongo_uri)
    assert [(r[0], r[2]) for r in rows] == [
        ("user", "complete"),
        ("assistant", "replaced"),
        ("assistant", "complete"),
    ]
    assert rows[1][3] == "up"  # the rating stays with the reply it was given to
