"""Voice preferences: validation of what a user chose, and which options this deployment offers."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any, cast

from voicechat import defaults
from voicechat.config import Settings
from voicechat.errors import InvalidInput
from voicechat.models import Patience, TalkEngine, VoicePreferences
from voicechat.providers.local.model_files import installed
from voicechat.validation import clean_message_text, clean_system_prompt

_LANGUAGE = re.compile(r"^(auto|[a-z]{2,3}(-[A-Z]{2})?)$")
_VOICE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
SPEECH_PROVIDERS = ("openai", "elevenlabs", "local")
PATIENCE_CHOICES: tuple[Patience, ...] = ("quick", "balanced", "patient", "exact")


@dataclass(frozen=True)
class Offer:
    """Whether an option can be chosen here, and if not, why."""

    available: bool
    reason: str = ""


def validate(values: Mapping[str, Any]) -> VoicePreferences:
    """Preferences from submitted values; anything out of range raises InvalidInput naming the field."""
    known = {f.name for f in fields(VoicePreferences)}
    unknown = set(values) - known
    if unknown:
        raise InvalidInput(f"Unknown preference: {sorted(unknown)[0]}.")
    merged = {**VoicePreferences().__dict__, **values}
    speed = _number(merged["speed"], "Speed", *defaults.SPEECH_SPEED_RANGE)
    silence = _number(
        merged["end_of_turn_silence_ms"], "Silence before end of turn", *defaults.END_OF_TURN_SILENCE_RANGE_MS
    )
    sensitivity = _number(merged["vad_sensitivity"], "Sensitivity", 0.0, 1.0)
    if not isinstance(merged["language"], str) or not _LANGUAGE.match(merged["language"]):
        raise InvalidInput("Language must be 'auto' or a language code such as 'en' or 'pt-BR'.")
    if not isinstance(merged["voice"], str) or not _VOICE.match(merged["voice"]):
        raise InvalidInput("The voice name can only use letters, digits, '.', '_' and '-'.")
    for field_name in ("stt_provider", "tts_provider"):
        if merged[field_name] not in SPEECH_PROVIDERS:
            raise InvalidInput(f"Unknown speech provider: {merged[field_name]!r}.")
    if merged["patience"] not in PATIENCE_CHOICES:
        raise InvalidInput(f"Unknown patience: {merged['patience']!r}.")
    if merged["talk_engine"] not in defaults.TALK_ENGINES:
        raise InvalidInput(f"Unknown Talk-mode engine: {merged['talk_engine']!r}.")
    persona = merged["persona"]
    greeting = merged["greeting"] or ""
    return VoicePreferences(
        voice=merged["voice"],
        speed=round(speed, 2),
        language=merged["language"],
        stt_provider=merged["stt_provider"],
        tts_provider=merged["tts_provider"],
        talk_engine=cast(TalkEngine, merged["talk_engine"]),
        end_of_turn_silence_ms=int(silence),
        patience=cast(Patience, merged["patience"]),
        vad_sensitivity=round(sensitivity, 2),
        barge_in=bool(merged["barge_in"]),
        autoplay=bool(merged["autoplay"]),
        persona=clean_system_prompt(persona) if persona else None,
        greeting=clean_message_text(greeting, max_chars=defaults.MAX_GREETING_CHARS)
        if greeting.strip()
        else "",
    )


def speech_provider_offers(settings: Settings) -> dict[str, Offer]:
    """Each text-to-speech provider, offered or not on this deployment."""
    return {
        "openai": Offer(True) if settings.openai_configured else Offer(False, "needs OPENAI_API_KEY"),
        "elevenlabs": Offer(True)
        if settings.elevenlabs_api_key
        else Offer(False, "needs ELEVENLABS_API_KEY"),
        "local": local_offer(settings),
    }


def local_offer(settings: Settings) -> Offer:
    """The offline engines run here when their packages are installed (English only)."""
    if not settings.local_engines:
        return Offer(False, "offline engines are switched off here (VOICECHAT_LOCAL_ENGINES)")
    if not installed("faster_whisper", "hibari"):
        return Offer(False, "offline speech engines are not installed (make run installs them)")
    return Offer(True)


def usable_here(chosen: VoicePreferences, settings: Settings) -> VoicePreferences:
    """``chosen`` with a speech provider this deployment cannot use swapped for the offline one (when it is
    installed): without a key, voice still works, on this machine."""
    if not local_offer(settings).available:
        return chosen
    stt, tts = chosen.stt_provider, chosen.tts_provider
    if not recognition_provider_offers(settings)[stt].available:
        stt = "local"
    if not speech_provider_offers(settings)[tts].available:
        tts = "local"
    return replace(chosen, stt_provider=stt, tts_provider=tts)


def recognition_provider_offers(settings: Settings) -> dict[str, Offer]:
    """Each speech-to-text provider, offered or not on this deployment."""
    return {
        **speech_provider_offers(settings),
        "elevenlabs": Offer(False, "speech recognition is not offered for ElevenLabs here"),
    }


def _number(value: object, label: str, low: float, high: float) -> float:
    try:
        number = float(cast(Any, value))
    except (TypeError, ValueError):
        raise InvalidInput(f"{label} must be a number.") from None
    if not math.isfinite(number) or not low <= number <= high:
        raise InvalidInput(f"{label} must be between {low:g} and {high:g}.")
    return number
