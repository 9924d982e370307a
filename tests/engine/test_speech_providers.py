"""Speech providers against local fake servers through the real clients.

OpenAI transcription, the Realtime reader route, ElevenLabs streaming TTS, the ``auto`` route switch (with an
injected clock), and priced usage events."""

from __future__ import annotations

from datetime import date

import pytest

from tests.fakes.elevenlabs_server import FakeElevenLabs
from tests.fakes.openai_server import FakeOpenAI
from voicechat.config import Settings
from voicechat.errors import (
    ProviderAuthError,
    ProviderRateLimited,
    ProviderRequestError,
    ProviderUnavailable,
)
from voicechat.models import UsageEvent, User, VoicePreferences
from voicechat.providers.base import SpeechRequest
from voicechat.providers.elevenlabs.speech import ElevenLabsSpeech
from voicechat.providers.openai.realtime_reader import OpenAIRealtimeReader
from voicechat.providers.openai.speech import OpenAISpeech
from voicechat.providers.speech_factory import choose_route, recogniser_for, speaker_for
from voicechat.storage.store import Store
from voicechat.turns.speech import recognise, speak

SHUTDOWN = date(2027, 1, 6)  # gpt-4o-mini-tts, from defaults.MODEL_SHUTDOWN_DATES
BEFORE, ON = date(2027, 1, 5), date(2027, 1, 6)
TEXT = "Paris is the capital of France. It has about two million people!"


@pytest.fixture
def user(store: Store) -> User:
    return store.users.get_or_create(email="voice@example.com", name="V")


def _usage(store: Store, user: User) -> list[UsageEvent]:
    return store.usage.events_for(user_id=user.id)


# The route switch -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("setting", "today", "route"),
    [
        ("auto", BEFORE, "speech-endpoint"),
        ("auto", ON, "realtime"),
        ("auto", date(2030, 1, 1), "realtime"),
        ("speech-endpoint", ON, "speech-endpoint"),
        ("realtime", BEFORE, "realtime"),
    ],
)
def test_auto_route_switches_on_the_shutdown_date(setting: str, today: date, route: str) -> None:
    assert choose_route(setting=setting, speech_model="gpt-4o-mini-tts", today=today) == route


def test_a_model_without_a_shutdown_date_stays_on_the_speech_endpoint() -> None:
    assert (
        choose_route(setting="auto", speech_model="some-local-tts", today=date(2099, 1, 1))
        == "speech-endpoint"
    )


def test_the_factory_builds_the_engine_of_the_day(settings: Settings) -> None:
    prefs = VoicePreferences(voice="verse")
    before, after = speaker_for(settings, prefs, today=BEFORE), speaker_for(settings, prefs, today=ON)
    assert isinstance(before.tts, OpenAISpeech) and before.model == "gpt-4o-mini-tts"
    assert isinstance(after.tts, OpenAIRealtimeReader) and after.model == "gpt-realtime-2.1-mini"
    eleven = speaker_for(settings, VoicePreferences(tts_provider="elevenlabs"), today=ON)
    assert isinstance(eleven.tts, ElevenLabsSpeech)
    assert (eleven.voice, eleven.model) == (settings.elevenlabs_voice_id, "eleven_flash_v2_5")


# The Realtime reader ----------------------------------------------------------------------------------


def test_realtime_reader_reads_each_sentence_verbatim_out_of_band(
    settings: Settings, fake_openai: FakeOpenAI, store: Store, user: User
) -> None:
    voice = speaker_for(settings, VoicePreferences(voice="fable", speed=1.8), today=ON)
    spoken = speak(voice, "**" + TEXT + "**", store=store, user=user, prices=settings.price_tables)
    [session] = fake_openai.realtime.sessions
    assert session.model == "gpt-realtime-2.1-mini"
    assert session.authorization == "Bearer sk-test"
    [update] = session.session_updates
    assert update["audio"]["input"]["turn_detection"] is None
    assert update["audio"]["output"]["voice"] == "marin"  # fable exists only on the speech endpoint
    assert update["audio"]["output"]["speed"] == 1.5  # clamped to what the Realtime API accepts
    texts = [r["input"][0]["content"][0]["text"] for r in session.responses]
    assert texts == ["Paris is the capital of France.", "It has about two million people!"]
    for response in session.responses:
        assert response["conversation"] == "none"
        assert "exactly as written" in response["instructions"]
    assert spoken.sample_rate == 24_000
    assert spoken.seconds == pytest.approx(0.06 * sum(len(t) for t in texts), abs=0.15)
    assert spoken.first_byte_ms is not None
    [event] = _usage(store, user)
    assert (event.kind, event.model, event.status) == ("tts", "gpt-realtime-2.1-mini", "ok")
    assert event.output_tokens > 0 and event.input_tokens > 0
    expected = (event.input_tokens * 0.60 + event.output_tokens * 20.00) / 1_000_000
    assert event.cost_usd == pytest.approx(expected)


@pytest.mark.parametrize(
    ("failure", "error"),
    [
        ("reject", ProviderAuthError),
        ("error_event", ProviderRequestError),
        ("failed_response", ProviderUnavailable),
        ("drop", ProviderUnavailable),
    ],
)
def test_realtime_reader_failures_are_translated_and_recorded(
    settings: Settings,
    fake_openai: FakeOpenAI,
    store: Store,
    user: User,
    failure: str,
    error: type[Exception],
) -> None:
    fake_openai.realtime.failure = failure  # type: ignore[assignment]
    fake_openai.realtime.fail_on_response = 2  # the first sentence is read, the second fails
    voice = speaker_for(settings, VoicePreferences(), today=ON)
    with pytest.raises(error):
        speak(voice, TEXT, store=store, user=user, prices=settings.price_tables)
    [event] = _usage(store, user)
    assert event.status == "error"


# ElevenLabs -------------------------------------------------------------------------------------------


def test_elevenlabs_streams_pcm_with_voice_model_and_language(
    settings: Settings, fake_elevenlabs: FakeElevenLabs, store: Store, user: User
) -> None:
    prefs = VoicePreferences(tts_provider="elevenlabs", voice="customVoice42", speed=0.5, language="fr")
    voice = speaker_for(settings, prefs, today=BEFORE)
    spoken = speak(voice, TEXT, store=store, user=user, prices=settings.price_tables)
    [request] = fake_elevenlabs.requests
    assert request.path == "/v1/text-to-speech/customVoice42/stream"
    assert request.body["output_format"] == "pcm_24000"
    assert (request.body["model_id"], request.body["language_code"]) == ("eleven_flash_v2_5", "fr")
    assert request.body["voice_settings"]["speed"] == 0.7  # clamped to ElevenLabs' range
    assert request.body["text"] == TEXT
    assert spoken.seconds == pytest.approx(0.06 * len(TEXT), abs=0.15)
    [event] = _usage(store, user)
    assert (event.provider, event.characters) == ("elevenlabs", len(TEXT))
    assert event.cost_usd == pytest.approx(0.05 * len(TEXT) / 1000)


@pytest.mark.parametrize(
    ("script", "error"),
    [
        ({"status": 429, "retry_after": 7.0}, ProviderRateLimited),
        ({"status": 500}, ProviderUnavailable),
        ({"status": 422}, ProviderRequestError),
        ({"cut_after_chunks": 2}, ProviderUnavailable),
    ],
)
def test_elevenlabs_failures_are_translated(
    settings: Settings,
    fake_elevenlabs: FakeElevenLabs,
    store: Store,
    user: User,
    script: dict[str, float],
    error: type[Exception],
) -> None:
    for name, value in script.items():
        setattr(fake_elevenlabs, name, value)
    voice = speaker_for(settings, VoicePreferences(tts_provider="elevenlabs"), today=BEFORE)
    with pytest.raises(error) as raised:
        speak(voice, TEXT, store=store, user=user, prices=settings.price_tables)
    if isinstance(raised.value, ProviderRateLimited):
        assert raised.value.retry_after == 7.0
        assert _usage(store, user)[0].status == "rate_limited"


def test_elevenlabs_wrong_key_is_an_auth_error(settings: Settings, fake_elevenlabs: FakeElevenLabs) -> None:
    wrong = Settings.from_mapping(
        {"ELEVENLABS_API_KEY": "nope", "ELEVENLABS_BASE_URL": fake_elevenlabs.base_url}
    )
    voice = speaker_for(wrong, VoicePreferences(tts_provider="elevenlabs"), today=BEFORE)
    with pytest.raises(ProviderAuthError, match="ELEVENLABS_API_KEY"):
        voice.tts.synthesize(SpeechRequest(text="hi", voice=voice.voice, model=voice.model))


# Transcription ----------------------------------------------------------------------------------------


def test_transcription_sends_16khz_wav_with_the_language_hint(
    settings: Settings, fake_openai: FakeOpenAI, store: Store, user: User
) -> None:
    fake_openai.transcript = "  what is the capital of France?  "
    recogniser = recogniser_for(settings, VoicePreferences(language="fr-CA"))
    transcript = recognise(
        recogniser,
        b"\x01\x00" * 32_000,
        sample_rate=16_000,
        store=store,
        user=user,
        prices=settings.price_tables,
    )
    assert transcript.text == "what is the capital of France?"
    assert transcript.audio_seconds == pytest.approx(2.0)
    [request] = [r for r in fake_openai.requests if r.path == "/v1/audio/transcriptions"]
    assert request.body["model"] == "gpt-transcribe"
    assert request.body["languages[]"] == "fr" or request.body.get("languages") == "fr"
    assert int(request.body["file_bytes"]) == 44 + 64_000  # WAV header + 2 s of 16 kHz mono
    [event] = _usage(store, user)
    assert (event.kind, event.audio_seconds, event.status) == ("stt", 2.0, "ok")
    assert event.cost_usd == pytest.approx(0.0045 * 2 / 60)


@pytest.mark.parametrize(
    ("status", "error"), [(401, ProviderAuthError), (429, ProviderRateLimited), (503, ProviderUnavailable)]
)
def test_transcription_failures_are_translated_and_recorded(
    settings: Settings, fake_openai: FakeOpenAI, store: Store, user: User, status: int, error: type[Exception]
) -> None:
    fake_openai.transcription_status = status
    no_retries = Settings.from_mapping({**_mapping(settings), "OPENAI_MAX_RETRIES": "0"})
    with pytest.raises(error):
        recognise(
            recogniser_for(no_retries, VoicePreferences()),
            b"\0\0" * 1600,
            sample_rate=16_000,
            store=store,
            user=user,
            prices=settings.price_tables,
        )
    [event] = _usage(store, user)
    assert event.status == ("rate_limited" if status == 429 else "error")
    assert event.cost_usd == 0.0


def _mapping(settings: Settings) -> dict[str, str]:
    return {"OPENAI_API_KEY": str(settings.openai_api_key), "OPENAI_BASE_URL": settings.openai_base_url}
