"""Who is talking, with which engine, and how turn-taking behaves: built from settings and preferences."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from voicechat.config import Settings
from voicechat.models import User, VoicePreferences
from voicechat.quotas import CallQuota
from voicechat.talk.engine import EngineSpec
from voicechat.talk.registry import FALLBACK, SpecRequest, engine_offers, engine_spec
from voicechat.talk.speech_to_speech.elevenlabs_agent import AgentSpec
from voicechat.turns.text import TurnOptions


@dataclass(frozen=True)
class TalkSetup:
    """The user, their chat options, the engine, and the session-wide choices."""

    user: User
    options: TurnOptions
    engine: EngineSpec
    barge_in: bool = True
    conversation_id: str | None = None
    greeting: str = ""  # spoken when the session starts (not stored: it is not part of the conversation)
    note: str | None = None  # why the chosen engine was replaced, for the page
    admit: Callable[[], None] | None = None  # rate limits and budget, checked at each user turn
    quota: CallQuota | None = None  # the call's own limits: admitted at start, open calls, budget
    price_per_minute: float | None = None  # engines billed by call time (the ElevenLabs agent)


def talk_setup(
    settings: Settings,
    *,
    user: User,
    preferences: VoicePreferences,
    options: TurnOptions,
    today: date,
    openai_api_key: str | None = None,
    conversation_id: str | None = None,
    admit: Callable[[], None] | None = None,
    quota: CallQuota | None = None,
) -> TalkSetup:
    """The engine this user chose, if this deployment offers it (else the fallback one, with a note why).

    Raises ProviderAuthError when a needed key is missing. Builds no connection: that happens at ``start``.
    """
    chosen: str = preferences.talk_engine
    offer = engine_offers(settings).get(chosen)
    note = None
    if chosen != FALLBACK and (offer is None or not offer.available):
        reason = offer.reason if offer else "unknown engine"
        note = f"The {chosen} engine is not available here ({reason}); Talk mode uses the {FALLBACK} one."
        chosen = FALLBACK
    request = SpecRequest(
        settings=settings,
        preferences=preferences,
        options=options,
        today=today,
        openai_api_key=openai_api_key,
    )
    spec = engine_spec(chosen, request)
    return TalkSetup(
        user=user,
        options=options,
        engine=spec,
        barge_in=preferences.barge_in,
        conversation_id=conversation_id,
        greeting=preferences.greeting,
        note=note,
        admit=admit,
        quota=quota,
        price_per_minute=spec.price_per_minute if isinstance(spec, AgentSpec) else None,
    )
