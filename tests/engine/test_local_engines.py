"""The offline engines, for real: hibari speaks, Whisper tiny.en hears, and the words come back the same.

Also: espeak-ng as the fallback voice, pinned-hash refusal, the engines behind the factory the turns use, and
a whole push-to-talk turn whose recogniser and voice run on this machine.
"""

from __future__ import annotations

import re
from datetime import date

import pytest

from tests.fakes.audio_samples import wav_bytes
from tests.fakes.openai_server import FakeOpenAI
from voicechat.audio.pcm import resample
from voicechat.config import Settings
from voicechat.models import User, VoicePreferences
from voicechat.providers.base import SpeechRequest, TranscriptionRequest
from voicechat.providers.local.model_files import HIBARI_HEART, LocalEngineUnavailable, PinnedModel
from voicechat.providers.local.models import shared_models
from voicechat.providers.local.recognition import LocalWhisper
from voicechat.providers.local.speech import EspeakSpeech, LocalNeuralSpeech
from voicechat.providers.openai.client import make_client
from voicechat.providers.openai.llm import OpenAIChat
from voicechat.providers.speech_factory import recogniser_for, speaker_for
from voicechat.storage.store import Store
from voicechat.turns.push_to_talk import VoiceTurnService
from voicechat.turns.text import TurnOptions

SENTENCES = [
    "What is the capital of France?",
    "Please book a table for four people at seven tonight.",
    "The weather in Berlin is sunny and warm.",
    "Can you remind me to call my sister tomorrow morning?",
    "Turn off the lights in the kitchen.",
]
TODAY = date(2026, 11, 24)
LOCAL = VoicePreferences(stt_provider="local", tts_provider="local")


def words(text: str) -> list[str]:
    """Lower-case words without punctuation (numbers spelled out stay as the recogniser wrote them)."""
    return re.findall(r"[a-z0-9']+", text.lower())


def speak(tts: LocalNeuralSpeech | EspeakSpeech, text: str) -> tuple[bytes, int]:
    with tts.synthesize(SpeechRequest(text=text, voice="heart", model="local")) as stream:
        return b"".join(stream), stream.sample_rate


def hear(pcm: bytes, rate: int) -> str:
    pcm16k = resample(pcm, from_rate=rate, to_rate=16_000)
    return (
        LocalWhisper(shared_models())
        .transcribe(TranscriptionRequest(pcm=pcm16k, sample_rate=16_000, model="whisper-tiny.en"))
        .text
    )


@pytest.mark.parametrize("sentence", SENTENCES)
def test_what_the_local_voice_says_the_local_recogniser_hears(sentence: str) -> None:
    pcm, rate = speak(LocalNeuralSpeech(shared_models()), sentence)
    assert rate == 24_000 and len(pcm) / 2 / rate > 0.8
    assert words(hear(pcm, rate)) == words(sentence)


def test_the_local_voice_streams_one_chunk_per_sentence() -> None:
    text = " ".join(SENTENCES[:3])
    with LocalNeuralSpeech(shared_models()).synthesize(
        SpeechRequest(text=text, voice="heart", model="local", speed=1.2)
    ) as stream:
        chunks = list(stream)
    assert len(chunks) == 3
    assert stream.first_byte_ms is not None
    slow, _ = speak(LocalNeuralSpeech(shared_models()), text)
    assert sum(map(len, chunks)) < len(slow)  # speed 1.2 is shorter than 1.0


@pytest.mark.parametrize("sentence", SENTENCES[:3])
def test_the_espeak_fallback_is_understood_too(sentence: str) -> None:
    pcm, rate = speak(EspeakSpeech(), sentence)
    assert rate == 22_050
    heard, said = words(hear(pcm, rate)), words(sentence)
    assert len(set(heard) & set(said)) >= 0.7 * len(set(said)), heard


def test_a_model_file_that_does_not_match_its_pin_is_refused() -> None:
    changed = PinnedModel(
        name="voice (tampered)",
        package=HIBARI_HEART.package,
        folder=HIBARI_HEART.folder,
        files=(("hibari.onnx", "0" * 64),),
    )
    with pytest.raises(LocalEngineUnavailable, match="does not match its pinned SHA-256"):
        changed.verified_path()
    missing = PinnedModel(name="voice", package="no_such_package_here", folder="x", files=())
    with pytest.raises(LocalEngineUnavailable, match="not installed"):
        missing.verified_path()
    assert HIBARI_HEART.verified_path().is_dir()


def test_the_factory_builds_local_engines_and_records_load_times(settings: Settings) -> None:
    voice = speaker_for(settings, LOCAL, today=TODAY)
    recogniser = recogniser_for(settings, LOCAL)
    assert (voice.tts.provider, voice.model, voice.voice, voice.tts.sample_rate) == (
        "local",
        "hibari-0.2.1",
        "heart",
        24_000,
    )
    assert (recogniser.stt.provider, recogniser.model, recogniser.language) == (
        "local",
        "whisper-tiny.en",
        "en",
    )
    recogniser.stt.transcribe(
        TranscriptionRequest(pcm=b"\0\0" * 16_000, sample_rate=16_000, model=recogniser.model)
    )
    engines = shared_models()
    assert engines.loaded("recogniser") and engines.loaded("voice")
    assert {"recogniser", "voice"} <= set(engines.load_seconds)


def test_a_push_to_talk_turn_with_local_ears_and_voice(
    store: Store, settings: Settings, fake_openai: FakeOpenAI
) -> None:
    # The chat model is the only part not on this machine here: an OpenAI-compatible server (the fake).
    user: User = store.users.get_or_create(email="offline@example.com", name="Off")
    question, rate = speak(LocalNeuralSpeech(shared_models()), "What is the capital of France?")
    service = VoiceTurnService(store=store, settings=settings)
    turn = service.begin_voice_turn(
        user=user,
        conversation_id=None,
        recording=wav_bytes(question, sample_rate=rate),
        options=TurnOptions(model=settings.chat_model, system_prompt="Be brief."),
        recogniser=recogniser_for(settings, LOCAL),
        llm=OpenAIChat(client=make_client(settings)),
    )
    assert words(turn.user_message.content) == words("What is the capital of France?")
    assert "".join(turn.stream_reply())
    assert turn.reply is not None
    spoken = service.speak_reply(
        user=user, reply=turn.reply, speaker=speaker_for(settings, LOCAL, today=TODAY)
    )
    assert spoken is not None and spoken.message.audio_id  # spoken by the local voice and stored
    kinds = {(e.kind, e.provider, e.cost_usd) for e in store.usage.events_for(user_id=user.id)}
    assert ("stt", "local", 0.0) in kinds and ("tts", "local", 0.0) in kinds
