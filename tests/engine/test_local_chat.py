"""The offline chat model for real (SmolLM2-135M on llama.cpp), and a whole Talk-mode turn with nothing but
local engines: the local voice asks, Whisper hears, the local model answers, the local voice speaks."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.engine.conftest import TalkSessions
from tests.engine.live_helpers import feed, stored, wait_for
from tests.fakes.audio_samples import silence_pcm
from voicechat.audio.pcm import resample
from voicechat.config import Settings
from voicechat.models import User, VoicePreferences
from voicechat.providers.base import ChatMessage, ChatRequest, SpeechRequest
from voicechat.providers.chat_factory import default_chat_model, llm_for, offered_chat_models
from voicechat.providers.local.chat import LOCAL_CHAT_MODEL
from voicechat.providers.local.models import shared_models
from voicechat.providers.local.speech import LocalNeuralSpeech
from voicechat.storage.store import Store

NO_KEY: dict[str, Any] = {"MONGODB_URI": "mongodb://127.0.0.1:1/unused"}


def words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", text.lower())


def test_the_local_model_streams_a_reply_and_counts_its_tokens(settings: Settings) -> None:
    llm = llm_for(settings, LOCAL_CHAT_MODEL)
    request = ChatRequest(
        messages=(
            ChatMessage("system", "You are a helpful assistant. Answer in one short sentence."),
            ChatMessage("user", "What is the capital of France?"),
        ),
        model=LOCAL_CHAT_MODEL,
    )
    with llm.stream_chat(request) as stream:
        pieces = list(stream)
    reply = "".join(pieces)
    assert "paris" in reply.lower()
    assert stream.usage is not None
    assert stream.usage.output_tokens == len([p for p in pieces if p]) and stream.usage.input_tokens > 10
    assert stream.first_token_ms is not None


def test_without_a_key_the_local_model_is_offered_and_the_default() -> None:
    offline = Settings.from_mapping(NO_KEY)
    assert offered_chat_models(offline)[-1] == LOCAL_CHAT_MODEL
    assert default_chat_model(offline) == LOCAL_CHAT_MODEL
    assert default_chat_model(offline, openai_api_key="sk-typed") == offline.chat_model
    switched_off = Settings.from_mapping({**NO_KEY, "VOICECHAT_LOCAL_ENGINES": "off"})
    assert LOCAL_CHAT_MODEL not in offered_chat_models(switched_off)
    assert default_chat_model(switched_off) == switched_off.chat_model


@pytest.fixture
def user(store: Store) -> User:
    return store.users.get_or_create(email="offline-talk@example.com", name="Offline")


def test_a_talk_mode_turn_runs_entirely_on_this_machine(
    talk_sessions: TalkSessions, store: Store, user: User
) -> None:
    offline = Settings.from_mapping({"MONGODB_URI": "mongodb://127.0.0.1:1/unused"})
    with LocalNeuralSpeech(shared_models()).synthesize(
        SpeechRequest(text="What is the capital of France?", voice="heart", model="local")
    ) as spoken:
        question = resample(b"".join(spoken), from_rate=24_000, to_rate=16_000)
    local = VoicePreferences(stt_provider="local", tts_provider="local", language="en")
    session, output = talk_sessions.start(
        offline, user, local, model=LOCAL_CHAT_MODEL, system_prompt="Answer in one short sentence."
    )
    try:
        feed(session, silence_pcm(0.3) + question + silence_pcm(1.4))
        snap = wait_for(session, lambda s: s.turns == 1 and s.state == "listening", timeout=90)
    finally:
        session.stop()
    asked, answered = stored(store, user, snap.conversation_id)
    assert words(asked.content) == words("What is the capital of France?")
    assert answered.content and answered.audio_id is not None and answered.status == "complete"
    assert sum(len(p) for p in output.pushed) > 0
    metrics = snap.last_turn
    assert metrics is not None and metrics.voice_to_voice_ms is not None
    events = store.usage.events_for(user_id=user.id)
    assert sorted((e.kind, e.provider, e.cost_usd) for e in events) == [
        ("chat", "local", 0.0),
        ("stt", "local", 0.0),
        ("tts", "local", 0.0),
    ]
