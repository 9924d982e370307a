from __future__ import annotations

import pytest

from voicechat.config import Settings, SettingsError
from voicechat.errors import InvalidInput
from voicechat.models import VoicePreferences
from voicechat.preferences import speech_provider_offers, validate
from voicechat.talk.registry import engine_offers


def test_defaults_are_valid() -> None:
    assert validate({}) == VoicePreferences()


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"speed": 3}, "Speed must be between 0.5 and 2"),
        ({"speed": "fast"}, "Speed must be a number"),
        ({"speed": float("nan")}, "Speed must be between"),
        ({"end_of_turn_silence_ms": 50}, "Silence before end of turn must be between 200 and 2000"),
        ({"vad_sensitivity": 1.5}, "Sensitivity must be between 0 and 1"),
        ({"language": "english"}, "Language must be 'auto' or a language code"),
        ({"voice": "<script>"}, "voice name"),
        ({"tts_provider": "acme"}, "Unknown speech provider"),
        ({"talk_engine": "telepathy"}, "Unknown Talk-mode engine"),
        ({"greeting": "x" * 301}, "too long"),
        ({"persona": "bad\x00"}, "control characters"),
        ({"admin": True}, "Unknown preference: admin"),
    ],
)
def test_out_of_range_values_are_refused(values: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        validate(values)


def test_values_are_normalised() -> None:
    prefs = validate({"speed": "1.234", "language": "pt-BR", "persona": "  Be brief.  ", "greeting": "  "})
    assert (prefs.speed, prefs.language, prefs.persona, prefs.greeting) == (1.23, "pt-BR", "Be brief.", "")


def test_offers_explain_what_is_missing() -> None:
    bare = Settings.from_mapping({"VOICECHAT_TALK_ENGINES": "cascaded,elevenlabs-agent"})
    engines = engine_offers(bare)
    assert engines["cascaded"].available
    assert engines["openai-realtime"].reason == "not enabled on this deployment by an administrator"
    assert engines["elevenlabs-agent"].reason == "needs ELEVENLABS_AGENT_ID"
    keyed = Settings.from_mapping(
        {"OPENAI_API_KEY": "sk", "ELEVENLABS_API_KEY": "el", "ELEVENLABS_AGENT_ID": "agent_1"}
    )
    assert all(offer.available for offer in engine_offers(keyed).values())
    assert speech_provider_offers(keyed)["elevenlabs"].available
    assert not speech_provider_offers(bare)["openai"].available
    with pytest.raises(SettingsError, match="VOICECHAT_TALK_ENGINES"):
        Settings.from_mapping({"VOICECHAT_TALK_ENGINES": "cascaded,warp"})
