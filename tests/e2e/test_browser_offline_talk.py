"""Offline Talk mode in real Chromium over WebRTC: no key, no provider at all.

The fake microphone asks, Whisper hears, the local model answers and the local voice speaks; the reply's
audio reaches the browser and both turns are stored with their audio."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.webrtc import Microphone, reply_audio_energy, start_call
from tests.fakes.audio_samples import wav_bytes
from tests.fakes.servers import StreamlitApp
from voicechat.models import Message
from voicechat.providers.base import SpeechRequest
from voicechat.providers.local.models import shared_models
from voicechat.providers.local.speech import LocalNeuralSpeech
from voicechat.storage.cache import MemoryContextCache
from voicechat.storage.database import Database
from voicechat.storage.store import Store

pytestmark = pytest.mark.slow


@pytest.fixture
def offline_app(mongo_uri: str, tmp_path: Path) -> Iterator[StreamlitApp]:
    app = StreamlitApp(
        {"MONGODB_URI": mongo_uri, "VOICECHAT_DATA_DIR": str(tmp_path), "VOICECHAT_ICE_SERVERS": "[]"},
        drop=("MONGODB_URI", "REDIS_URL", "OPENAI_API_KEY", "OPENAI_BASE_URL", "ELEVENLABS_API_KEY"),
    ).start()
    yield app
    app.stop()


def words(text: str) -> set[str]:
    return set(re.findall(r"[a-z]+", text.lower()))


def stored_messages(mongo_uri: str) -> list[Message]:
    db = Database.connect(mongo_uri)
    store = Store.over(db, cache=MemoryContextCache(), context_size=10)
    try:
        user = store.users.get_or_create(email="local@localhost", name="Local user", admin=True)
        conversations = store.conversations.list_page(owner_id=user.id).items
        if not conversations:
            return []
        return store.conversations.messages_page(owner_id=user.id, conversation_id=conversations[0].id).items
    finally:
        db.close()


def local_voice_wav(text: str, *, pad_seconds: float) -> bytes:
    """``text`` in the offline voice (a natural one: espeak-ng's is hard for Whisper tiny.en through Opus)."""
    with LocalNeuralSpeech(shared_models()).synthesize(
        SpeechRequest(text=text, voice="heart", model="local")
    ) as spoken:
        pcm = b"".join(spoken) + b"\0\0" * int(spoken.sample_rate * pad_seconds)
    return wav_bytes(pcm, sample_rate=spoken.sample_rate)


# A long pause: time for a whole reply before the looping microphone asks again.
@pytest.mark.parametrize("talking_page", [Microphone(pause=12.0, speak=local_voice_wav)], indirect=True)
def test_offline_talk_mode_over_webrtc(
    offline_app: StreamlitApp, talking_page: object, mongo_uri: str
) -> None:
    page = talking_page
    page.goto(offline_app.url)  # type: ignore[attr-defined]
    page.get_by_text("Offline mode").first.wait_for(timeout=60_000)  # type: ignore[attr-defined]
    start_call(page)
    # Up to 60 s: the first turn also waits for the recogniser to hear a whole question.
    energy = reply_audio_energy(page, polls=300)
    assert energy > 0, offline_app.output()[-3000:]  # the local voice's reply reached the browser
    # Chromium loops the microphone file, and the call may start in the middle of the question (its first
    # utterance can be a fragment): wait for a whole question heard and a reply spoken and stored as heard.
    asked: list[Message] = []
    spoken: list[Message] = []
    messages: list[Message] = []
    for _ in range(300):
        messages = stored_messages(mongo_uri)
        asked = [m for m in messages if m.role == "user" and {"capital", "france"} <= words(m.content)]
        spoken = [m for m in messages if m.role == "assistant" and m.content.strip() and m.audio_id]
        if asked and spoken:
            break
        page.wait_for_timeout(200)  # type: ignore[attr-defined]
    assert spoken, offline_app.output()[-3000:]
    assert asked, [m.content for m in messages if m.role == "user"]
    assert asked[0].is_voice and asked[0].audio_id
