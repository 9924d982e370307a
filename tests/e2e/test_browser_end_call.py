"""End call hangs up at once, even while the turn's transcript is still awaited: the call screen closes
within a second, and the turn's words are still transcribed and stored behind it (nothing said is lost)."""

from __future__ import annotations

import time

import pytest

from tests.e2e.webrtc import QUESTION, Microphone, start_call
from tests.fakes.openai_server import ChatScript, FakeOpenAI
from tests.fakes.servers import StreamlitApp
from voicechat.storage.cache import MemoryContextCache
from voicechat.storage.database import Database
from voicechat.storage.store import Store

pytestmark = pytest.mark.slow
SLOW_TRANSCRIPT = 8.0  # seconds both transcribers take for the question


@pytest.mark.parametrize("talking_page", [Microphone(pause=20.0)], indirect=True)
def test_end_call_closes_the_call_screen_at_once_and_the_turn_is_still_stored(
    served_app: StreamlitApp, talking_page: object, fake_openai: FakeOpenAI, mongo_uri: str
) -> None:
    page, app = talking_page, served_app
    fake_openai.transcript = QUESTION
    fake_openai.script_chat(ChatScript(reply="Paris.", repeat=True))
    fake_openai.transcription_delay = SLOW_TRANSCRIPT
    fake_openai.live_transcription.completed_delay = SLOW_TRANSCRIPT
    page.goto(app.url)  # type: ignore[attr-defined]
    start_call(page)
    screen = page.locator(".st-key-call-screen")  # type: ignore[attr-defined]
    screen.get_by_text("Thinking").first.wait_for(timeout=60_000)  # the question was heard; its words await

    page.get_by_role("button", name="End call").click()  # type: ignore[attr-defined]
    pressed = time.monotonic()
    page.get_by_role("button", name="Start a call").wait_for(timeout=30_000)  # type: ignore[attr-defined]
    print(f"End call -> call screen closed in {time.monotonic() - pressed:.2f} s")
    # It did not wait for the turn: the question's words, SLOW_TRANSCRIPT seconds away, are not in yet.
    assert user_words(mongo_uri) != [QUESTION]
    deadline = time.monotonic() + 40
    while (said := user_words(mongo_uri)) != [QUESTION]:  # what was said is stored, with its words
        assert time.monotonic() < deadline, (said, app.output()[-3000:])
        time.sleep(0.2)


def user_words(mongo_uri: str) -> list[str]:
    """The local user's stored messages, by their words."""
    db = Database.connect(mongo_uri)
    try:
        store = Store.over(db, cache=MemoryContextCache(), context_size=10)
        user = store.users.get_or_create(email="local@localhost", name="Local user", admin=True)
        return [
            m.content
            for c in store.conversations.list_page(owner_id=user.id).items
            for m in store.conversations.messages_page(owner_id=user.id, conversation_id=c.id).items
            if m.role == "user"
        ]
    finally:
        db.close()
