"""The voices each text-to-speech provider offers, for the preferences page's dropdown.

OpenAI's are a fixed list; ElevenLabs' are fetched from its API with the deployment's key (``GET
/v1/voices``) and kept for an hour; the offline engine has one voice. A failed fetch leaves the configured
voice to choose, and says why.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import httpx

from voicechat.config import Settings
from voicechat.providers.elevenlabs.speech import make_http_client
from voicechat.voices import OPENAI_VOICES

VOICES_FRESH_SECONDS = 3600
LOCAL_VOICE = "heart"


@dataclass(frozen=True)
class VoiceOption:
    """A voice to choose: the id the provider takes, and what people read."""

    id: str
    label: str


@dataclass(frozen=True)
class VoiceList:
    """A provider's voices, and why the list is short when it could not be fetched."""

    options: tuple[VoiceOption, ...]
    problem: str | None = None


_cache: dict[tuple[str, str], tuple[float, VoiceList]] = {}
_lock = threading.Lock()


def voices_for(settings: Settings, provider: str) -> VoiceList:
    """The voices ``provider`` offers on this deployment."""
    if provider == "openai":
        return VoiceList(tuple(VoiceOption(v, v.capitalize()) for v in sorted(OPENAI_VOICES)))
    if provider == "local":
        return VoiceList((VoiceOption(LOCAL_VOICE, "Heart (offline, American English)"),))
    return _elevenlabs(settings)


def _elevenlabs(settings: Settings) -> VoiceList:
    default = VoiceList(
        (VoiceOption(settings.elevenlabs_voice_id, f"{settings.elevenlabs_voice_id} (default)"),)
    )
    if not settings.elevenlabs_api_key:
        return VoiceList(default.options, "needs ELEVENLABS_API_KEY")
    key = (settings.elevenlabs_base_url, settings.elevenlabs_api_key)
    with _lock:
        cached = _cache.get(key)
        if cached is not None and time.monotonic() - cached[0] < VOICES_FRESH_SECONDS:
            return cached[1]
    try:
        with make_http_client(
            api_key=settings.elevenlabs_api_key, base_url=settings.elevenlabs_base_url, timeout=5
        ) as client:
            response = client.get("/v1/voices")
        response.raise_for_status()
        voices = tuple(
            VoiceOption(str(v["voice_id"]), str(v.get("name") or v["voice_id"]))
            for v in response.json().get("voices", [])
            if v.get("voice_id")
        )
    except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
        return VoiceList(default.options, f"the voice list could not be fetched ({type(exc).__name__})")
    found = VoiceList(voices or default.options)
    with _lock:
        _cache[key] = (time.monotonic(), found)
    return found
