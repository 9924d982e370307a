"""No key, no server: the app offers offline mode and text and push-to-talk both work on this machine."""

from __future__ import annotations

import re

import pytest
from streamlit.testing.v1 import AppTest

from tests.app.conftest import APP
from tests.fakes.audio_samples import wav_bytes
from tests.fakes.openai_server import ChatScript, FakeOpenAI
from voicechat.providers.base import SpeechRequest
from voicechat.providers.local.chat import LOCAL_CHAT_MODEL
from voicechat.providers.local.models import shared_models
from voicechat.providers.local.speech import LocalNeuralSpeech
from voicechat.storage.store import Store


def words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", text.lower())


@pytest.fixture
def app(mongo_uri: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)  # the first turn loads the local models
    at.secrets["MONGODB_URI"] = mongo_uri
    at.run()
    return at


def usage(store: Store) -> list[tuple[str, str]]:
    user = store.users.get_or_create(email="local@localhost", name="Local user", admin=True)
    return sorted((e.kind, e.provider) for e in store.usage.events_for(user_id=user.id))


def test_without_a_key_offline_mode_answers_typed_messages(app: AppTest, store: Store) -> None:
    assert not app.exception
    assert "Offline mode" in app.info[0].value
    assert not app.chat_input[0].disabled
    assert next(s for s in app.sidebar.selectbox if s.label == "Model").value == LOCAL_CHAT_MODEL
    app.chat_input[0].set_value("What is the capital of France?").run()
    assert not app.exception and not app.error
    asked, answered = [m.markdown[0].value for m in app.chat_message]
    assert asked == "What is the capital of France?" and answered.strip()
    assert usage(store) == [("chat", "local")]


def test_without_a_key_push_to_talk_is_heard_answered_and_spoken_locally(app: AppTest, store: Store) -> None:
    with LocalNeuralSpeech(shared_models()).synthesize(
        SpeechRequest(text="What is the capital of France?", voice="heart", model="local")
    ) as spoken:
        recording = wav_bytes(b"".join(spoken), sample_rate=spoken.sample_rate)
    app.audio_input[0].set_value(("question.wav", recording, "audio/wav")).run()
    assert not app.exception and not app.error and not app.warning
    asked, answered = [m.markdown[0].value for m in app.chat_message]
    assert words(asked) == words("What is the capital of France?") and answered.strip()
    assert len(app.get("audio")) == 2  # the recording and the spoken reply
    assert usage(store) == [("chat", "local"), ("stt", "local"), ("tts", "local")]


def test_a_server_running_on_this_machine_is_found_and_used_without_a_key(
    mongo_uri: str, fake_openai: FakeOpenAI, store: Store
) -> None:
    # The fake stands in for Ollama: an OpenAI-compatible server on 127.0.0.1 with its own models.
    fake_openai.models = ["llama3.2", "qwen2.5"]
    fake_openai.script_chat(ChatScript(reply="Paris, served locally."))
    at = AppTest.from_file(APP, default_timeout=120)
    at.secrets["MONGODB_URI"] = mongo_uri
    at.secrets["VOICECHAT_LOCAL_SERVERS"] = f"{fake_openai.base_url},http://127.0.0.1:9/v1"
    at.run()
    [use] = [b for b in at.button if b.label.startswith("Use ")]  # the closed port is not offered
    assert use.label == f"Use {fake_openai.base_url} on this machine (llama3.2, qwen2.5)"
    use.click().run()
    assert not at.exception
    assert next(s for s in at.sidebar.selectbox if s.label == "Model").value == "llama3.2"
    assert any("Chatting through" in c.value for c in at.caption)
    at.chat_input[0].set_value("What is the capital of France?").run()
    assert not at.exception and not at.error
    assert [m.markdown[0].value for m in at.chat_message][1] == "Paris, served locally."
    [request] = fake_openai.chat_requests()
    assert request.body["model"] == "llama3.2"
    assert usage(store) == [("chat", "openai-compatible")]
