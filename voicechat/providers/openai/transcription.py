"""Speech-to-text on OpenAI's transcription endpoint (``/v1/audio/transcriptions``)."""

from __future__ import annotations

import openai

from voicechat.audio.pcm import pcm_to_wav
from voicechat.errors import ProviderError
from voicechat.providers.base import STT, TranscriptionRequest
from voicechat.providers.openai.client import translate_openai_error

# gpt-transcribe takes a list of possible languages; the older models take one language.
_LANGUAGE_LIST_MODELS = frozenset({"gpt-transcribe"})


class OpenAITranscription(STT):
    """Sends the recording as 16 kHz mono WAV (small, and every model accepts it)."""

    def __init__(self, *, client: openai.OpenAI, provider: str = "openai") -> None:
        super().__init__(provider=provider)
        self._client = client

    def _transcribe(self, request: TranscriptionRequest) -> str:
        code = request.language.split("-")[0] if request.language else None
        as_list = request.model in _LANGUAGE_LIST_MODELS
        result = self._client.audio.transcriptions.create(
            file=("speech.wav", pcm_to_wav(request.pcm, sample_rate=request.sample_rate), "audio/wav"),
            model=request.model,
            response_format="json",
            language=code if code and not as_list else openai.omit,
            languages=[code] if code and as_list else openai.omit,
        )
        return str(result.text)

    def translate_error(self, exc: Exception) -> ProviderError | None:
        """See ``STT.translate_error``."""
        return translate_openai_error(exc) or super().translate_error(exc)
