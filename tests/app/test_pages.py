"""The app through AppTest: routing, the chat page against the fake OpenAI server, guidance, errors."""

from __future__ import annotations

import gridfs
import pytest
from bson import ObjectId
from streamlit.testing.v1 import AppTest

from tests.app.conftest import APP, online_app
from tests.fakes.openai_server import ChatScript, FakeOpenAI
from voicechat.storage.store import Store


@pytest.fixture
def app(mongo_uri: str, fake_openai: FakeOpenAI) -> AppTest:
    return online_app(mongo_uri, fake_openai)


def test_chat_page_streams_a_reply_and_stores_it(app: AppTest, store: Store, fake_openai: FakeOpenAI) -> None:
    fake_openai.script_chat(ChatScript(reply="Hello **there**, how can I help?"))
    app.run()
    assert not app.exception
    app.chat_input[0].set_value("Hi, assistant").run()
    assert not app.exception and not app.error
    contents = [m.markdown[0].value for m in app.chat_message]
    assert contents == ["Hi, assistant", "Hello **there**, how can I help?"]
    conversation_id = app.query_params["c"]
    user = store.users.get_or_create(email="local@localhost", name="Local user", admin=True)
    page = store.conversations.messages_page(owner_id=user.id, conversation_id=conversation_id)
    assert [(m.role, m.content) for m in page.items] == [
        ("user", "Hi, assistant"),
        ("assistant", "Hello **there**, how can I help?"),
    ]
    # The sidebar lists it, and a fresh session (a browser reload) reopens it from the URL.
    assert any(b.label == "Hi, assistant" for b in app.sidebar.button)
    reloaded = AppTest.from_file(APP, default_timeout=30)
    reloaded.secrets.update(dict(app.secrets))
    reloaded.query_params["c"] = conversation_id
    reloaded.run()
    assert [m.markdown[0].value for m in reloaded.chat_message] == contents


def test_navigation_lists_the_pages_and_each_renders(app: AppTest) -> None:
    app.run()
    assert not app.exception
    for page in ("app_pages/history.py", "app_pages/voice_preferences.py", "app_pages/admin_usage.py"):
        app.switch_page(page).run()
        assert not app.exception, page
    app.switch_page("app_pages/history.py").run()
    assert "No conversations yet" in app.info[0].value


def test_missing_key_shows_guidance_and_disables_input(app: AppTest) -> None:
    del app.secrets["OPENAI_API_KEY"]
    del app.secrets["OPENAI_BASE_URL"]
    app.secrets["VOICECHAT_LOCAL_ENGINES"] = "off"  # offline mode has its own tests
    app.run()
    assert not app.exception
    assert "Add an OpenAI API key" in app.info[0].value
    assert "secrets.toml" in app.info[0].value and "OPENAI_API_KEY" in app.info[0].value
    assert "make offline" in app.info[0].value
    assert app.chat_input[0].disabled
    key_field = next(t for t in app.sidebar.text_input if t.label == "OpenAI API key")
    key_field.input("sk-typed").run()
    assert not app.chat_input[0].disabled and not app.info


def test_overlong_message_is_refused_with_a_message(app: AppTest, fake_openai: FakeOpenAI) -> None:
    app.run()
    app.chat_input[0].set_value("x " * 1500).run()
    assert not app.exception
    assert "too long" in app.error[0].value
    assert fake_openai.chat_requests() == []


def test_provider_failure_is_explained_and_the_message_kept(
    app: AppTest, mongo_uri: str, fake_openai: FakeOpenAI
) -> None:
    fake_openai.script_chat(*[ChatScript(status=503)] * 3)
    app.run()
    app.chat_input[0].set_value("Anyone home?").run()
    assert not app.exception
    assert "Your message was saved" in app.error[0].value
    assert app.chat_message[0].markdown[0].value == "Anyone home?"


def test_foreign_or_malformed_conversation_in_url_is_not_found(app: AppTest) -> None:
    app.query_params["c"] = "not-an-id"
    app.run()
    assert not app.exception
    assert "not found" in app.warning[0].value


def test_bad_configuration_is_explained(app: AppTest) -> None:
    app.secrets["OPENAI_BASE_URL"] = "ftp://nope"
    app.run()
    assert not app.exception
    assert "OPENAI_BASE_URL must be an http(s) URL" in app.error[0].value


def test_settings_from_secrets_win_over_environment(app: AppTest, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VOICECHAT_CHAT_MODEL", "env-model")
    monkeypatch.setenv("VOICECHAT_SYSTEM_PROMPT", "From the environment.")
    app.secrets["VOICECHAT_CHAT_MODEL"] = "secret-model"
    app.run()
    assert app.sidebar.selectbox[0].value == "secret-model"  # secrets win
    assert app.sidebar.text_area[0].value == "From the environment."  # the environment still counts


def test_stored_recordings_are_replayable(app: AppTest, store: Store) -> None:
    from voicechat.audio.pcm import pcm_to_wav

    user = store.users.get_or_create(email="local@localhost", name="Local user", admin=True)
    conversation = store.conversations.create(owner_id=user.id, title="spoken")
    clip = pcm_to_wav(b"\x01\x00" * 16_000, sample_rate=16_000)
    audio_id = store.audio.put(
        owner_id=user.id,
        conversation_id=conversation.id,
        data=clip,
        content_type="audio/wav",
        duration_seconds=1.0,
    )
    store.conversations.add_message(
        owner_id=user.id,
        conversation_id=conversation.id,
        role="user",
        content="said aloud",
        is_voice=True,
        audio_id=audio_id,
    )
    gone = store.audio.put(
        owner_id=user.id,
        conversation_id=conversation.id,
        data=clip,
        content_type="audio/wav",
        duration_seconds=1.0,
    )
    store.conversations.add_message(
        owner_id=user.id, conversation_id=conversation.id, role="assistant", content="reply", audio_id=gone
    )
    store.db.run(lambda db: gridfs.GridFSBucket(db, bucket_name="audio").delete(ObjectId(gone)))
    app.query_params["c"] = conversation.id
    app.run()
    assert not app.exception
    assert len(app.get("audio")) == 1
    assert any("Recording no longer available" in c.value for c in app.caption)


def test_earlier_messages_are_reachable_in_the_chat(app: AppTest, store: Store) -> None:
    user = store.users.get_or_create(email="local@localhost", name="Local user", admin=True)
    conversation = store.conversations.create(owner_id=user.id, title="long one")
    for i in range(60):
        store.conversations.add_message(
            owner_id=user.id, conversation_id=conversation.id, role="user", content=f"m{i}"
        )
    app.query_params["c"] = conversation.id
    app.run()
    assert [m.markdown[0].value for m in app.chat_message] == [f"m{i}" for i in range(10, 60)]  # latest 50
    next(b for b in app.button if b.label == "Show earlier messages").click().run()
    shown = [m.markdown[0].value for m in app.chat_message]
    assert shown == [f"m{i}" for i in range(60)]
    assert not any(b.label == "Show earlier messages" for b in app.button)  # nothing older left
