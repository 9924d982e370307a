"""Who is talking, with which engine, and how turn-taking behaves: built from settings and preferences."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from voicechat.audio.vad import VadParams
from voicechat.config import Settings
from voicechat.models import User, VoicePreferences
from voicechat.preferences import engine_offers
from voicechat.providers.chat_factory import llm_for
from voicechat.providers.openai.client import make_async_client, make_client, provider_name
from voicechat.providers.openai.realtime_session import turn_detection
from voicechat.providers.speech_factory import recogniser_for, speaker_for
from voicechat.talk.cascaded.engine import CascadedSpec
from voicechat.talk.engine import EngineSpec
from voicechat.talk.speech_to_speech.elevenlabs_agent import AgentSpec
from voicechat.talk.speech_to_speech.openai_realtime import RealtimeSpec
from voicechat.turns.text import TurnOptions


@dataclass(frozen=True)
class LiveSetup:
    """The user, their chat options, the engine, and the session-wide choices."""

    user: User
    options: TurnOptions
    engine: EngineSpec
    barge_in: bool = True
    conversation_id: str | None = None
    greeting: str = ""  # spoken when the session starts (not stored: it is not part of the conversation)
    note: str | None = None  # why the chosen engine was replaced, for the page
    admit: Callable[[], None] | None = None  # rate limits and budget, checked at each user turn


def live_setup(
    settings: Settings,
    *,
    user: User,
    preferences: VoicePreferences,
    options: TurnOptions,
    today: date,
    openai_api_key: str | None = None,
    conversation_id: str | None = None,
    admit: Callable[[], None] | None = None,
) -> LiveSetup:
    """The engine this user chose, if this deployment offers it (else the cascaded one, with a note why).

    Raises ProviderAuthError when a needed key is missing. Builds no connection: that happens at ``start``.
    """
    chosen = preferences.talk_engine
    offer = engine_offers(settings).get(chosen)
    note = None
    if chosen != "cascaded" and (offer is None or not offer.available):
        reason = offer.reason if offer else "unknown engine"
        note = f"The {chosen} engine is not available here ({reason}); Talk mode uses the cascaded one."
        chosen = "cascaded"
    engine: EngineSpec
    if chosen == "openai-realtime":
        engine = realtime_spec(settings, preferences, openai_api_key=openai_api_key)
    elif chosen == "elevenlabs-agent":
        engine = AgentSpec.from_settings(settings, preferences)
    else:
        engine = CascadedSpec(
            recogniser=recogniser_for(settings, preferences, openai_api_key=openai_api_key),
            speaker=speaker_for(settings, preferences, today=today, openai_api_key=openai_api_key),
            llm=llm_for(settings, options.model, openai_api_key=openai_api_key),
            params=VadParams.from_preferences(
                silence_ms=preferences.end_of_turn_silence_ms,
                sensitivity=preferences.vad_sensitivity,
                max_turn_secs=settings.max_audio_seconds,
            ),
        )
    return LiveSetup(
        user=user,
        options=options,
        engine=engine,
        barge_in=preferences.barge_in,
        conversation_id=conversation_id,
        greeting=preferences.greeting,
        note=note,
        admit=admit,
    )


def realtime_spec(
    settings: Settings, preferences: VoicePreferences, *, openai_api_key: str | None = None
) -> RealtimeSpec:
    """The OpenAI Realtime engine for these preferences (the key is checked now, used at connect)."""
    make_client(settings, api_key=openai_api_key)  # raises ProviderAuthError without a key
    return RealtimeSpec(
        client=lambda: make_async_client(settings, api_key=openai_api_key),
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
