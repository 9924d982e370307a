"""Talk mode in real Chromium over WebRTC: the fake microphone asks a question, the live panel shows the
transcript and the reply, the reply's audio reaches the browser (inbound audio energy > 0), and both messages
are stored."""

from __future__ import annotations

import time

import pytest

from tests.e2e.webrtc import INBOUND_AUDIO_ENERGY, QUESTION
from tests.fakes.openai_server import ChatScript, FakeOpenAI
from tests.fakes.servers import StreamlitApp
from voicechat.storage.cache import MemoryContextCache
from voicechat.storage.database import Database
from voicechat.storage.store import Store

pytestmark = pytest.mark.slow


def test_talk_mode_over_webrtc(
    served_app: StreamlitApp, talking_page: object, fake_openai: FakeOpenAI, mongo_uri: str
) -> None:
    page, app = talking_page, served_app
    fake_openai.transcript = QUESTION
    fake_openai.script_chat(ChatScript(reply="Paris is the capital of France. It is a lovely city."))
    page.goto(app.url)  # type: ignore[attr-defined]
    page.get_by_text("Talk mode").click()  # type: ignore[attr-defined]
    call = page.frame_locator("iframe[title*='webrtc']")  # type: ignore[attr-defined]
    call.get_by_role("button", name="Start talking").click()
    page.get_by_text("Paris is the capital of France.").first.wait_for(timeout=60_000)  # type: ignore[attr-defined]
    page.get_by_text(QUESTION).first.wait_for(timeout=10_000)  # type: ignore[attr-defined]
    frame = next(f for f in page.frames if f is not page.main_frame)  # type: ignore[attr-defined]
    energy = 0.0
    for _ in range(50):
        energy = frame.evaluate(INBOUND_AUDIO_ENERGY)
        if energy > 0:
            break
        page.wait_for_timeout(200)  # type: ignore[attr-defined]
    assert energy > 0  # the reply's audio arrived in the browser
    db = Database.connect(mongo_uri)
    store = Store.over(db, cache=MemoryContextCache(), context_size=10)
    try:
        user = store.users.get_or_create(email="local@localhost", name="Local user", admin=True)
        [conversation] = store.conversations.list_page(owner_id=user.id).items
        messages = store.conversations.messages_page(owner_id=user.id, conversation_id=conversation.id).items
    finally:
        db.close()
    assert [(m.role, m.content) for m in messages[:2]] == [
        ("user", QUESTION),
        ("assistant", "Paris is the capital of France. It is a lovely city."),
    ]
    assert messages[0].is_voice and messages[0].audio_id
    # Closing the tab ends the call, and the session stops (its threads joined) without waiting for a restart.
    page.close()  # type: ignore[attr-defined]
    deadline = time.monotonic() + 30
    while "talk session stopped" not in app.output() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert "talk session stopped" in app.output(), app.output()[-3000:]
