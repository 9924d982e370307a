"""Push-to-talk on the chat page through AppTest, against the fake providers and a real database."""

from __future__ import annotations

import os

import pytest
from streamlit.testing.v1 import AppTest

from tests.app.conftest import APP, online_app
from tests.fakes.audio_samples import spoken_wav
from tests.fakes.openai_server import ChatScript, FakeOpenAI
from voicechat.models import Message, User
from voicechat.storage.store import Store


@pytest.fixture(scope="module")
def question() -> bytes:
    return spoken_wav("What is the capital of France?")


@pytest.fixture
def app(mongo_uri: str, fake_openai: FakeOpenAI) -> AppTest:
    # The auto speech route is tested with a set clock.
    at = online_app(mongo_uri, fake_openai, OPENAI_MAX_RETRIES="0", VOICECHAT_SPEECH_ROUTE="speech-endpoint")
    at.run()
    return at


def local_user(store: Store) -> User:
    return store.users.get_or_create(email="local@localhost", name="Local user", admin=True)


def stored(store: Store, conversation_id: str) -> list[Message]:
    return store.conversations.messages_page(
        owner_id=local_user(store).id, conversation_id=conversation_id
    ).items


def audio_elements(at: AppTest) -> list[object]:
    return [e for e in at.get("audio")]


def test_a_recording_is_transcribed_answered_spoken_and_replayable(
    app: AppTest, store: Store, fake_openai: FakeOpenAI, question: bytes
) -> None:
    fake_openai.transcript = "What is the capital of France?"
    fake_openai.script_chat(ChatScript(reply="Paris. It is also the largest city."))
    app.audio_input[0].set_value(("question.wav", question, "audio/wav")).run()
    assert not app.exception and not app.error and not app.warning
    texts = [m.markdown[0].value for m in app.chat_message]
    assert texts == ["What is the capital of France?", "Paris. It is also the largest city."]
    assert "voice message" in app.chat_message[0].caption[0].value
    players = audio_elements(app)
    assert len(players) == 2
    assert players[1].proto.autoplay and not players[0].proto.autoplay  # type: ignore[attr-defined]
    conversation_id = app.query_params["c"]
    messages = stored(store, conversation_id)
    assert all(m.audio_id for m in messages) and messages[0].is_voice
    assert fake_openai.requests[-1].path == "/v1/audio/speech"
    # The recorder is empty again, and a reload shows both clips without playing them.
    assert app.audio_input[0].value is None
    reloaded = AppTest.from_file(APP, default_timeout=30)
    reloaded.secrets.update(dict(app.secrets))
    reloaded.query_params["c"] = conversation_id
    reloaded.run()
    assert [m.markdown[0].value for m in reloaded.chat_message] == texts
    assert [p.proto.autoplay for p in audio_elements(reloaded)] == [False, False]  # type: ignore[attr-defined]


def test_autoplay_can_be_turned_off(app: AppTest, fake_openai: FakeOpenAI, question: bytes) -> None:
    next(t for t in app.sidebar.toggle if t.label == "Play spoken replies automatically").set_value(
        False
    ).run()
    app.audio_input[0].set_value(("question.wav", question, "audio/wav")).run()
    players = audio_elements(app)
    assert len(players) == 2 and not any(p.proto.autoplay for p in players)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("content", "message"),
    [(os.urandom(5000), "not a recording I can read"), (b"", "empty"), (b"\0" * 64_000, "not a recording")],
    ids=["random-bytes", "zero-bytes", "zeros"],
)
def test_bad_recordings_are_refused_and_nothing_is_stored(
    app: AppTest, store: Store, fake_openai: FakeOpenAI, content: bytes, message: str
) -> None:
    app.audio_input[0].set_value(("question.wav", content, "audio/wav")).run()
    assert not app.exception
    assert message in app.error[0].value
    assert not store.conversations.list_page(owner_id=local_user(store).id).items
    assert not fake_openai.requests
    app.run()  # an unrelated rerun does not submit the same recording again
    assert not fake_openai.requests


def test_a_failing_transcriber_keeps_the_recording_and_asks_to_type(
    app: AppTest, store: Store, fake_openai: FakeOpenAI, question: bytes
) -> None:
    fake_openai.transcription_status = 503
    app.audio_input[0].set_value(("question.wav", question, "audio/wav")).run()
    assert not app.exception
    assert "type your message" in app.warning[0].value
    assert "not transcribed" in app.chat_message[0].caption[0].value
    assert len(audio_elements(app)) == 1  # the recording, replayable
    [kept] = stored(store, app.query_params["c"])
    assert (kept.status, kept.is_voice) == ("failed", True)


def test_a_failing_voice_leaves_the_text_reply(
    app: AppTest, store: Store, fake_openai: FakeOpenAI, question: bytes
) -> None:
    fake_openai.speech_status = 503
    app.audio_input[0].set_value(("question.wav", question, "audio/wav")).run()
    assert not app.exception
    assert "could not be spoken" in app.warning[0].value
    assert [m.name for m in app.chat_message] == ["user", "assistant"]
    reply = stored(store, app.query_params["c"])[1]
    assert reply.content and reply.audio_id is None


def test_speak_replies_also_speaks_typed_answers(app: AppTest, store: Store, fake_openai: FakeOpenAI) -> None:
    next(t for t in app.sidebar.toggle if t.label == "Speak replies").set_value(True).run()
    app.chat_input[0].set_value("Say something").run()
    assert not app.exception and not app.warning
    user_message, reply = stored(store, app.query_params["c"])
    assert user_message.audio_id is None and reply.audio_id is not None
    assert len(audio_elements(app)) == 1


def test_saved_preferences_apply_to_the_open_chat(
    app: AppTest, fake_openai: FakeOpenAI, question: bytes
) -> None:
    app.switch_page("app_pages/voice_preferences.py").run()
    next(s for s in app.selectbox if s.label == "Voice").set_value("verse")
    next(t for t in app.text_input if t.label == "Language").input("fr")
    next(b for b in app.button if b.label == "Save").click().run()
    assert "Saved" in app.success[0].value
    app.switch_page("app_pages/chat.py").run()
    app.audio_input[0].set_value(("question.wav", question, "audio/wav")).run()
    assert not app.exception and not app.error
    transcription = next(r for r in fake_openai.requests if r.path == "/v1/audio/transcriptions")
    speech = next(r for r in fake_openai.requests if r.path == "/v1/audio/speech")
    assert speech.body["voice"] == "verse"
    assert "fr" in (transcription.body.get("languages[]"), transcription.body.get("languages"))
