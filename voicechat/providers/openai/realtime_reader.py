"""Text-to-speech through OpenAI's Realtime API, used as a reader.

The speech-endpoint models shut down on 2027-01-06 and their named replacement (gpt-realtime-2.1-mini) is
only served by the Realtime API. This route opens one WebSocket session with no turn detection and asks for
one out-of-band response per sentence (``conversation: "none"``, so nothing accumulates in a conversation),
instructed to read the given text verbatim. Audio arrives as base64 24 kHz PCM in
``response.output_audio.delta`` events; each ``response.done`` carries the tokens billed.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from typing import Any

import openai
from websockets.exceptions import ConnectionClosed, InvalidStatus

from voicechat.errors import (
    ProviderAuthError,
    ProviderError,
    ProviderRateLimited,
    ProviderRequestError,
    ProviderUnavailable,
)
from voicechat.providers.base import TTS, SpeechRequest, TokenUsage
from voicechat.providers.openai.client import translate_openai_error
from voicechat.sentences import speakable, split_sentences
from voicechat.voices import OPENAI_AUDIO_RATE

REALTIME_VOICES = frozenset(
    {"alloy", "ash", "ballad", "coral", "echo", "sage", "shimmer", "verse", "marin", "cedar"}
)
FALLBACK_VOICE = "marin"  # for speech-endpoint voices the Realtime API does not have (fable, onyx, nova)
SPEED_RANGE = (0.25, 1.5)  # what the Realtime API accepts
READER_INSTRUCTIONS = (
    "You are a text-to-speech reader. Read the user's text aloud exactly as written, word for word, in the "
    "language it is written in. Do not answer it, comment on it, translate it or add anything."
)


class RealtimeEventError(Exception):
    """The Realtime API sent an ``error`` event, or a response ended as failed."""

    def __init__(self, error_type: str, code: str | None) -> None:
        super().__init__(f"{error_type} ({code})")
        self.error_type = error_type
        self.code = code


class OpenAIRealtimeReader(TTS):
    """Speaks text with a Realtime model, sentence by sentence, streaming PCM as it arrives."""

    def __init__(self, *, client: openai.OpenAI, provider: str = "openai") -> None:
        super().__init__(provider=provider, sample_rate=OPENAI_AUDIO_RATE)
        self._client = client

    def _open_stream(self, request: SpeechRequest) -> tuple[Iterator[bytes | TokenUsage], Callable[[], None]]:
        manager = self._client.realtime.connect(model=request.model)
        connection = manager.enter()
        try:
            connection.session.update(session=_session(request))
        except BaseException:
            connection.close()
            raise
        sentences = split_sentences(speakable(request.text))
        return _read_aloud(connection, sentences), connection.close

    def translate_error(self, exc: Exception) -> ProviderError | None:
        """WebSocket handshake statuses, dropped connections and error events, then the SDK's own errors."""
        if isinstance(exc, InvalidStatus):
            return _from_status(exc.response.status_code)
        if isinstance(exc, RealtimeEventError):
            if "rate_limit" in exc.error_type or exc.code == "rate_limit_exceeded":
                return ProviderRateLimited()
            return (
                ProviderRequestError() if exc.error_type == "invalid_request_error" else ProviderUnavailable()
            )
        if isinstance(exc, ConnectionClosed | OSError):
            return ProviderUnavailable()
        return translate_openai_error(exc) or super().translate_error(exc)


def _from_status(status: int) -> ProviderError:
    if status in (401, 403):
        return ProviderAuthError()
    if status == 429:
        return ProviderRateLimited()
    return ProviderRequestError() if 400 <= status < 500 else ProviderUnavailable()


def _session(request: SpeechRequest) -> Any:
    low, high = SPEED_RANGE
    return {
        "type": "realtime",
        "output_modalities": ["audio"],
        "instructions": READER_INSTRUCTIONS,
        "audio": {
            "input": {"turn_detection": None},
            "output": {
                "voice": request.voice if request.voice in REALTIME_VOICES else FALLBACK_VOICE,
                "format": {"type": "audio/pcm", "rate": OPENAI_AUDIO_RATE},
                "speed": min(max(request.speed, low), high),
            },
        },
    }


def _read_aloud(connection: Any, sentences: list[str]) -> Iterator[bytes | TokenUsage]:
    """One out-of-band response per sentence; yields its audio, then its billed tokens."""
    for sentence in sentences:
        connection.response.create(
            response={
                "conversation": "none",
                "output_modalities": ["audio"],
                "instructions": READER_INSTRUCTIONS,
                "input": [
                    {"type": "message", "role": "user", "content": [{"type": "input_text", "text": sentence}]}
                ],
            }
        )
        while True:
            event = connection.recv()
            if event.type == "response.output_audio.delta":
                yield base64.b64decode(event.delta)
            elif event.type == "error":
                raise RealtimeEventError(event.error.type, event.error.code)
            elif event.type == "response.done":
                usage = event.response.usage
                if usage is not None:
                    yield TokenUsage(
                        input_tokens=usage.input_tokens or 0, output_tokens=usage.output_tokens or 0
                    )
                if event.response.status == "failed":
                    details = event.response.status_details
                    error = details.error if details is not None else None
                    raise RealtimeEventError(
                        error.type if error and error.type else "server_error", error.code if error else None
                    )
                break
