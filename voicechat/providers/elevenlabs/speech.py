"""Text-to-speech on ElevenLabs' HTTP streaming endpoint (``/v1/text-to-speech/{voice_id}/stream``), PCM out.

Plain httpx: one POST per text, 16-bit mono PCM at 24 kHz streamed back as it is generated. The voice id and
model are settings; the API key is sent in the ``xi-api-key`` header and never logged.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

import httpx

from voicechat import defaults
from voicechat.errors import (
    ProviderAuthError,
    ProviderError,
    ProviderRateLimited,
    ProviderRequestError,
    ProviderUnavailable,
)
from voicechat.providers.base import TTS, SpeechRequest, TokenUsage
from voicechat.voices import ELEVENLABS_PCM_RATE

log = logging.getLogger(__name__)
SPEED_RANGE = (0.7, 1.2)  # what ElevenLabs accepts for voice_settings.speed


class ElevenLabsStatusError(Exception):
    """ElevenLabs answered with an error status."""

    def __init__(self, status: int, retry_after: float | None) -> None:
        super().__init__(f"status {status}")
        self.status = status
        self.retry_after = retry_after


def make_http_client(
    *, api_key: str, base_url: str = defaults.ELEVENLABS_BASE_URL, timeout: float = 30.0
) -> httpx.Client:
    """An httpx client for ElevenLabs with the key in its default headers.

    Connections are not kept alive: a client is made per turn, and nothing is left open when it is dropped.
    """
    return httpx.Client(
        base_url=base_url,
        headers={"xi-api-key": api_key},
        timeout=timeout,
        limits=httpx.Limits(max_keepalive_connections=0),
    )


class ElevenLabsSpeech(TTS):
    """Streams speech from ElevenLabs (``request.voice`` is an ElevenLabs voice id)."""

    def __init__(self, *, client: httpx.Client, language: str | None = None) -> None:
        super().__init__(provider="elevenlabs", sample_rate=ELEVENLABS_PCM_RATE)
        self._client = client
        self._language = language

    def _open_stream(self, request: SpeechRequest) -> tuple[Iterator[bytes | TokenUsage], Callable[[], None]]:
        low, high = SPEED_RANGE
        body: dict[str, object] = {
            "text": request.text,
            "model_id": request.model,
            "voice_settings": {"speed": min(max(request.speed, low), high)},
        }
        if self._language:
            body["language_code"] = self._language.split("-")[0]
        http_request = self._client.build_request(
            "POST",
            f"/v1/text-to-speech/{request.voice}/stream",
            params={"output_format": f"pcm_{ELEVENLABS_PCM_RATE}"},
            json=body,
        )
        response = self._client.send(http_request, stream=True)
        if response.status_code >= 400:
            response.close()
            raise ElevenLabsStatusError(response.status_code, _retry_after(response))
        return response.iter_bytes(4800), response.close

    def translate_error(self, exc: Exception) -> ProviderError | None:
        """Statuses and transport failures to the error tree (class and status logged, never content)."""
        translated: ProviderError
        if isinstance(exc, ElevenLabsStatusError):
            if exc.status in (401, 403):
                translated = ProviderAuthError(
                    "The ElevenLabs API key was rejected. Check ELEVENLABS_API_KEY."
                )
            elif exc.status == 429:
                translated = ProviderRateLimited(retry_after=exc.retry_after)
            elif 400 <= exc.status < 500:
                translated = ProviderRequestError(
                    "ElevenLabs refused the request (check the voice id and model)."
                )
            else:
                translated = ProviderUnavailable()
        elif isinstance(exc, httpx.TimeoutException):
            translated = ProviderUnavailable("The speech service took too long.")
        elif isinstance(exc, httpx.TransportError):
            translated = ProviderUnavailable()
        else:
            return super().translate_error(exc)
        log.warning(
            "elevenlabs error %s (status %s) -> %s",
            type(exc).__name__,
            getattr(exc, "status", None),
            type(translated).__name__,
        )
        return translated


def _retry_after(response: httpx.Response) -> float | None:
    try:
        return float(response.headers["retry-after"])
    except (KeyError, ValueError):
        return None
