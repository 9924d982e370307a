"""Speak a short sample with a user's chosen voice settings (the preferences page's "Preview voice")."""

from __future__ import annotations

from voicechat import defaults
from voicechat.audio.pcm import pcm_to_wav
from voicechat.models import UsageEvent, User, VoicePreferences
from voicechat.providers.base import TTS, SpeechRequest
from voicechat.storage.store import Store
from voicechat.usage import speech_cost


def preview_voice(*, tts: TTS, model: str, preferences: VoicePreferences, store: Store, user: User) -> bytes:
    """A WAV clip of the sample sentence; the call is recorded as a usage event (also when it fails).

    Raises ProviderError when the speech service fails.
    """
    request = SpeechRequest(
        text=defaults.PREVIEW_TEXT, voice=preferences.voice, model=model, speed=preferences.speed
    )
    chunks: list[bytes] = []
    first_byte_ms: float | None = None
    seconds = 0.0
    succeeded = False
    try:
        with tts.synthesize(request) as stream:
            chunks.extend(stream)
            first_byte_ms, seconds = stream.first_byte_ms, stream.audio_seconds
        succeeded = True
    finally:
        store.usage.record(
            UsageEvent(
                user_id=user.id,
                kind="tts",
                provider=tts.provider,
                model=model,
                status="ok" if succeeded else "error",
                characters=len(request.text),
                audio_seconds=seconds,
                cost_usd=speech_cost(model=model, audio_seconds=seconds),
                latency_ms=first_byte_ms,
            )
        )
    return pcm_to_wav(b"".join(chunks), sample_rate=tts.sample_rate)
