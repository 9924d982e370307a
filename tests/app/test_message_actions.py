"""A reply's actions on the chat page (AppTest): copy, read aloud (stored and priced), regenerate (the old
reply kept, marked replaced), thumbs up/down with a comment; the dashboard's feedback section."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from tests.app.conftest import online_app
from tests.fakes.openai_server import ChatScript, FakeOpenAI
from voicechat.models import Message, User
from voicechat.storage.store import Store


@pytest.fixture
def app(mongo_uri: str, fake_openai: FakeOpenAI) -> AppTest:
    return online_app(mongo_uri, fake_openai, VOICECHAT_SPEECH_ROUTE="speech-endpoint")


def local_user(store: Store) -> User:
    return store.users.get_or_create(email="local@localhost", name="Local user", admin=True)


def all_messages(app: AppTest, store: Store) -> list[Message]:
    page = store.conversations.messages_page(
        owner_id=local_user(store).id, conversation_id=app.query_params["c"]
    )
    return page.items


def chat(app: AppTest, fake_openai: FakeOpenAI, text: str, reply: str) -> None:
    fake_openai.script_chat(ChatScript(reply=reply))
    app.chat_input[0].set_value(text).run()
    assert not app.exception and not app.error


def button(app: AppTest, label: str) -> object:
    return next(b for b in app.button if b.label == label)


def test_copy_shows_the_raw_text_and_read_aloud_speaks_and_stores_it(
    app: AppTest, store: Store, fake_openai: FakeOpenAI
) -> None:
    app.run()
    chat(app, fake_openai, "Hello", "Hi **there**.")
    assert any(c.value == "Hi **there**." for c in app.code)  # the raw Markdown, for the clipboard
    button(app, "Read aloud").click().run()  # type: ignore[attr-defined]
    assert not app.exception and not app.error
    reply = all_messages(app, store)[-1]
    assert reply.audio_id is not None  # stored with the reply, replayable
    speech = [r for r in fake_openai.requests if r.path == "/v1/audio/speech"]
    assert [r.body["input"] for r in speech] == ["Hi there."]
    kinds = [e.kind for e in store.usage.events_for(user_id=local_user(store).id)]
    assert kinds.count("tts") == 1  # priced like any speech


def test_regenerate_replaces_the_last_reply_and_keeps_the_old_one_on_record(
    app: AppTest, store: Store, fake_openai: FakeOpenAI
) -> None:
    app.run()
    chat(app, fake_openai, "Name a colour", "Blue.")
    fake_openai.script_chat(ChatScript(reply="Green."))
    button(app, "Regenerate").click().run()  # type: ignore[attr-defined]
    assert not app.exception and not app.error
    shown = [m.markdown[0].value for m in app.chat_message if m.markdown]
    assert shown == ["Name a colour", "Green."]
    stored = [(m.role, m.content, m.status) for m in all_messages(app, store)]
    assert stored == [
        ("user", "Name a colour", "complete"),
        ("assistant", "Blue.", "replaced"),
        ("assistant", "Green.", "complete"),
    ]
    # The new reply was asked for with the question alone: the replaced one is not context.
    sent = [m["content"] for m in fake_openai.chat_requests()[-1].body["messages"][1:]]
    assert sent == ["Name a colour"]


def test_thumbs_down_with_a_comment_is_stored_and_on_the_dashboard(
    app: AppTest, store: Store, fake_openai: FakeOpenAI
) -> None:
    app.run()
    chat(app, fake_openai, "What is 2+2?", "5.")
    app.feedback[0].set_value(0).run()  # thumbs down
    assert not app.exception
    assert all_messages(app, store)[-1].rating == "down"
    comment = next(t for t in app.text_input if t.label == "What was wrong? (optional)")
    comment.input("Wrong sum")
    button(app, "Send comment").click().run()  # type: ignore[attr-defined]
    reply = all_messages(app, store)[-1]
    assert (reply.rating, reply.rating_comment) == ("down", "Wrong sum")

    app.switch_page("app_pages/admin_usage.py").run()
    assert not app.exception
    assert any("1 down" in m.value for m in app.markdown) and any("Wrong sum" in t.value for t in app.text)
