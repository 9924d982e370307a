"""Text-to-speech on OpenAI's speech endpoint (``/v1/audio/speech``), streamed as 24 kHz PCM.

The speech-endpoint models have an announced shutdown date (see ``defaults.MODEL_SHUTDOWN_DATES``); the
Realtime reader (``realtime_reader.py``) takes over after it (``speech_route.choose_route``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import openai

from voicechat.errors import ProviderError
from voicechat.providers.base import TTS, SpeechRequest, TokenUsage
from voicechat.providers.openai.client import translate_openai_error
from voicechat.voices import OPENAI_AUDIO_RATE


class OpenAISpeech(TTS):
    """Streams PCM from the speech endpoint as it is generated."""

    def __init__(self, *, client: openai.OpenAI, provider: str = "openai") -> None:
        super().__init__(provider=provider, sample_rate=OPENAI_AUDIO_RATE)
        self._client = client

    def _open_stream(self, request: SpeechRequest) -> tuple[Iterator[bytes | TokenUsage], Callable[[], None]]:
        manager = self._client.audio.speech.with_streaming_response.create(
            model=request.model,
            voice=request.voice,
            input=request.text,
            response_format="pcm",
            speed=request.speed,
        )
        response = manager.__enter__()
        return response.iter_bytes(4800), lambda: manager.__exit__(None, None, None)

    def translate_error(self, exc: Exception) -> ProviderError | None:
        """See ``TTS.translate_error``."""
        return translate_openai_error(exc) or super().translate_error(exc)
