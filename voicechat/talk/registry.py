"""Every Talk engine by name: how it is built, what it needs, and whether this deployment offers it.

Preferences, the voice preferences page, the call and ``VOICECHAT_TALK_ENGINES`` all go through these names.
The settings load before any engine (they only check a name is known), so ``defaults.TALK_ENGINES`` lists
the same names; a check at import keeps the two equal.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from voicechat import defaults
from voicechat.audio.smart_turn import load_turn_model
from voicechat.audio.vad import VadParams
from voicechat.config import Settings
from voicechat.models import VoicePreferences
from voicechat.preferences import Offer
from voicechat.providers.chat_factory import llm_for
from voicechat.providers.local.model_files import installed
from voicechat.providers.openai.client import make_async_client, make_client, provider_name
from voicechat.providers.openai.live_transcription import LiveTranscriptionSpec
from voicechat.providers.openai.realtime_session import turn_detection
from voicechat.providers.speech_factory import Recogniser, recogniser_for, speaker_for
from voicechat.talk.cascaded.engine import CascadedSpec
from voicechat.talk.engine import EngineSpec
from voicechat.talk.speech_to_speech.elevenlabs_agent import AgentSpec
from voicechat.talk.speech_to_speech.openai_realtime import RealtimeSpec
from voicechat.turns.text import TurnOptions


@dataclass(frozen=True)
class SpecRequest:
    """What an engine is built from: the deployment, the user's choices, and the day (speech routes)."""

    settings: Settings
    preferences: VoicePreferences
    options: TurnOptions
    today: date
    openai_api_key: str | None = None


@dataclass(frozen=True)
class EngineEntry:
    """One engine: its name, what it lacks on a deployment (None: nothing), its packages, its builder."""

    name: str
    lacks: Callable[[Settings], str | None]
    packages: tuple[str, ...]
    build: Callable[[SpecRequest], EngineSpec]


def cascaded_spec(request: SpecRequest) -> CascadedSpec:
    """Recogniser, chat model and voice from the preferences; turn-taking from the user's patience (the turn
    model, when installed, decides at a pause) or their exact silence (Raises ProviderAuthError when a chosen
    provider has no key)."""
    settings, preferences, key = request.settings, request.preferences, request.openai_api_key
    recogniser = recogniser_for(settings, preferences, openai_api_key=key)
    turn_model = load_turn_model() if preferences.patience != "exact" else None
    pause_ms, silence_ms = (
        defaults.PATIENCE_PAUSES_MS[preferences.patience]
        if turn_model is not None
        else (None, preferences.end_of_turn_silence_ms)
    )
    return CascadedSpec(
        recogniser=recogniser,
        speaker=speaker_for(settings, preferences, today=request.today, openai_api_key=key),
        llm=llm_for(settings, request.options.model, openai_api_key=key),
        chat_model=request.options.model,
        params=VadParams.from_preferences(
            silence_ms=silence_ms,
            sensitivity=preferences.vad_sensitivity,
            max_turn_secs=settings.max_audio_seconds,
            pause_ms=pause_ms,
        ),
        turn_model=turn_model,
        turn_model_missing=preferences.patience != "exact" and turn_model is None,
        live=live_transcription_spec(settings, recogniser, openai_api_key=key),
    )


def live_transcription_spec(
    settings: Settings, recogniser: Recogniser, *, openai_api_key: str | None
) -> LiveTranscriptionSpec | None:
    """Streaming transcription for a recogniser on OpenAI's API (not for local Whisper; not when off)."""
    if recogniser.stt.provider == "local" or not settings.live_stt_model:
        return None
    return LiveTranscriptionSpec(
        client=lambda: make_async_client(settings, api_key=openai_api_key),
        provider=recogniser.stt.provider,
        model=settings.live_stt_model,
        language=recogniser.language,
    )


def realtime_spec(request: SpecRequest) -> RealtimeSpec:
    """The OpenAI Realtime engine for these preferences (the key is checked now, used at connect)."""
    settings, preferences, key = request.settings, request.preferences, request.openai_api_key
    make_client(settings, api_key=key)  # raises ProviderAuthError without a key
    return RealtimeSpec(
        client=lambda: make_async_client(settings, api_key=key),
        provider=provider_name(settings),
        model=settings.realtime_model,
        voice=preferences.voice,
        speed=preferences.speed,
        transcription_model=settings.stt_model,
        language=None if preferences.language == "auto" else preferences.language,
        detection=turn_detection(
            settings.realtime_turn_detection,
            silence_ms=preferences.end_of_turn_silence_ms,
            sensitivity=preferences.vad_sensitivity,
            eagerness=settings.realtime_eagerness,
            barge_in=preferences.barge_in,
        ),
    )


def agent_spec(request: SpecRequest) -> AgentSpec:
    """The deployment's ElevenLabs agent, with this user's overrides."""
    return AgentSpec.from_settings(request.settings, request.preferences)


ENGINES: dict[str, EngineEntry] = {
    entry.name: entry
    for entry in (
        EngineEntry("cascaded", lambda _: None, ("onnxruntime",), cascaded_spec),  # Silero VAD
        EngineEntry(
            "openai-realtime",
            lambda s: None if s.openai_configured else "needs OPENAI_API_KEY",
            ("openai", "websockets"),
            realtime_spec,
        ),
        EngineEntry(
            "elevenlabs-agent",
            lambda s: None if s.elevenlabs_agent_id else "needs ELEVENLABS_AGENT_ID",
            ("websockets", "httpx"),
            agent_spec,
        ),
    )
}
FALLBACK = "cascaded"  # always offered: it works with any speech and chat providers, offline too
if tuple(ENGINES) != defaults.TALK_ENGINES:
    raise RuntimeError("defaults.TALK_ENGINES must list the engines of talk.registry, in order")


def engine_offers(settings: Settings) -> dict[str, Offer]:
    """Each Talk engine, offered or not (not enabled by an administrator, a missing key or package)."""
    offers = {}
    for name, entry in ENGINES.items():
        lacking = entry.lacks(settings)
        if name not in settings.talk_engines:
            offers[name] = Offer(False, "not enabled on this deployment by an administrator")
        elif lacking is not None:
            offers[name] = Offer(False, lacking)
        elif not installed(*entry.packages):
            offers[name] = Offer(False, f"needs the packages {', '.join(entry.packages)}")
        else:
            offers[name] = Offer(True)
    return offers


def engine_spec(name: str, request: SpecRequest) -> EngineSpec:
    """Build the named engine's spec (``KeyError`` for a name not in the registry)."""
    return ENGINES[name].build(request)
