"""Speak a short sample with a user's chosen voice settings (the preferences page's "Preview voice")."""

from __future__ import annotations

from voicechat import defaults
from voicechat.audio.pcm import pcm_to_wav
from voicechat.models import User
from voicechat.providers.speech_factory import Speaker
from voicechat.storage.store import Store
from voicechat.turns.speech import speak
from voicechat.usage import PriceTables


def preview_voice(*, speaker: Speaker, store: Store, user: User, prices: PriceTables) -> bytes:
    """A WAV clip of the sample sentence; the call is recorded as a usage event (also when it fails).

    Raises ProviderError when the speech service fails.
    """
    spoken = speak(speaker, defaults.PREVIEW_TEXT, store=store, user=user, prices=prices)
    return pcm_to_wav(spoken.pcm, sample_rate=spoken.sample_rate)
