"""Which speech engines a turn uses: built from the settings and the user's voice preferences.

``auto`` reads with the speech endpoint until its model's announced shutdown date and with the Realtime API
from that day on; the date is passed in, so the switch is tested with an injected clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Literal

from voicechat import defaults
from voicechat.config import Settings
from voicechat.errors import ProviderAuthError
from voicechat.models import VoicePreferences
from voicechat.providers.base import STT, TTS
from voicechat.providers.elevenlabs.speech import ElevenLabsSpeech, make_http_client
from voicechat.providers.local.models import shared_models
from voicechat.providers.local.recognition import LOCAL_STT_MODEL, LocalWhisper
from voicechat.providers.local.speech import LOCAL_TTS_MODEL, LOCAL_VOICE, local_voice
from voicechat.providers.openai.client import make_client, provider_name
from voicechat.providers.openai.realtime_reader import OpenAIRealtimeReader
from voicechat.providers.openai.speech import OpenAISpeech
from voicechat.providers.openai.transcription import OpenAITranscription
from voicechat.voices import HIBARI_RATE, OPENAI_VOICES

SpeechRoute = Literal["speech-endpoint", "realtime"]


@dataclass(frozen=True)
class Speaker:
    """A text-to-speech engine with the model, voice and speed to speak with."""

    tts: TTS
    model: str
    voice: str
    speed: float


@dataclass(frozen=True)
class Recogniser:
    """A speech-to-text engine with the model and language hint to recognise with."""

    stt: STT
    model: str
    language: str | None


def choose_route(
    *,
    setting: str,
    speech_model: str,
    today: date,
    shutdown_dates: Mapping[str, str] = defaults.MODEL_SHUTDOWN_DATES,
) -> SpeechRoute:
    """The OpenAI speech route for ``today``: the setting, or for ``auto`` the speech endpoint until the
    speech model's shutdown date and the Realtime reader from that date on."""
    if setting == "speech-endpoint":
        return "speech-endpoint"
    if setting == "realtime":
        return "realtime"
    shutdown = shutdown_dates.get(speech_model)
    if shutdown is not None and today >= date.fromisoformat(shutdown):
        return "realtime"
    return "speech-endpoint"


def speaker_for(
    settings: Settings, preferences: VoicePreferences, *, today: date, openai_api_key: str | None = None
) -> Speaker:
    """The engine that speaks replies for this user today. Raises ProviderAuthError when it has no key."""
    if preferences.tts_provider == "local":
        tts = local_voice(shared_models())
        model = LOCAL_TTS_MODEL if tts.sample_rate == HIBARI_RATE else "espeak-ng"
        return Speaker(tts=tts, model=model, voice=LOCAL_VOICE, speed=preferences.speed)
    if preferences.tts_provider == "elevenlabs":
        if not settings.elevenlabs_api_key:
            raise ProviderAuthError(
                "ElevenLabs speech needs ELEVENLABS_API_KEY; choose OpenAI in the preferences."
            )
        client = make_http_client(api_key=settings.elevenlabs_api_key, base_url=settings.elevenlabs_base_url)
        voice = settings.elevenlabs_voice_id if preferences.voice in OPENAI_VOICES else preferences.voice
        language = None if preferences.language == "auto" else preferences.language
        return Speaker(
            tts=ElevenLabsSpeech(client=client, language=language),
            model=settings.elevenlabs_model,
            voice=voice,
            speed=preferences.speed,
        )
    client_openai = make_client(settings, api_key=openai_api_key)
    provider = provider_name(settings)
    route = choose_route(setting=settings.speech_route, speech_model=settings.tts_model, today=today)
    if route == "realtime":
        return Speaker(
            tts=OpenAIRealtimeReader(client=client_openai, provider=provider),
            model=settings.realtime_tts_model,
            voice=preferences.voice,
            speed=preferences.speed,
        )
    return Speaker(
        tts=OpenAISpeech(client=client_openai, provider=provider),
        model=settings.tts_model,
        voice=preferences.voice,
        speed=preferences.speed,
    )


def recogniser_for(
    settings: Settings, preferences: VoicePreferences, *, openai_api_key: str | None = None
) -> Recogniser:
    """The engine that recognises this user's recordings: OpenAI's transcription endpoint, or Whisper on this
    machine (English)."""
    if preferences.stt_provider == "local":
        return Recogniser(stt=LocalWhisper(shared_models()), model=LOCAL_STT_MODEL, language="en")
    client = make_client(settings, api_key=openai_api_key)
    return Recogniser(
        stt=OpenAITranscription(client=client, provider=provider_name(settings)),
        model=settings.stt_model,
        language=None if preferences.language == "auto" else preferences.language,
    )
