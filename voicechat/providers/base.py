"""Provider interfaces (chat, speech-to-text, text-to-speech).

The public method owns timing and error translation; an implementation supplies one
abstract method and gets its SDK client injected (so tests pass a client pointed at a local fake server)."""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import TracebackType
from typing import Literal, TypeVar

from voicechat.errors import ProviderError, ProviderUnavailable

ChatRole = Literal["system", "user", "assistant", "tool"]
T = TypeVar("T")


@dataclass(frozen=True)
class ToolCall:
    """A function the model asked to call: the call's id, the tool's name and its arguments (JSON text)."""

    id: str
    name: str
    arguments: str


@dataclass(frozen=True)
class FunctionSpec:
    """A function offered to the model: its name, what it does, and its parameters' JSON schema."""

    name: str
    description: str
    parameters: str  # JSON text (kept as text so requests stay hashable and immutable)


@dataclass(frozen=True)
class ChatMessage:
    """One message as sent to a chat model: ``tool_calls`` on an assistant message that called tools,
    ``tool_call_id`` on the ``tool`` message carrying one call's result."""

    role: ChatRole
    content: str
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None


@dataclass(frozen=True)
class ChatRequest:
    """A chat completion request; ``temperature`` None leaves the model's own default, and
    ``max_output_tokens`` caps what one reply may cost (None: the provider's own limit). ``tools``: the
    functions the model may call (none: it only talks)."""

    messages: tuple[ChatMessage, ...]
    model: str
    temperature: float | None = None
    max_output_tokens: int | None = None
    tools: tuple[FunctionSpec, ...] = ()


@dataclass(frozen=True)
class TokenUsage:
    """Tokens billed for one completion."""

    input_tokens: int
    output_tokens: int


@dataclass(frozen=True)
class ToolCallDelta:
    """A piece of a streamed tool call: the call at ``index`` gets its id and name first, then its
    arguments in pieces."""

    index: int
    id: str | None = None
    name: str | None = None
    arguments: str = ""


@dataclass(frozen=True)
class ChatChunk:
    """A piece of a streamed completion: text, tool-call pieces, or the final usage report."""

    text: str = ""
    usage: TokenUsage | None = None
    tool_calls: tuple[ToolCallDelta, ...] = ()


class ChatStream:
    """Text deltas of a streamed reply. Use as a context manager so the connection is always released.

    After iteration ``usage``, ``first_token_ms`` and ``total_ms`` describe the call and ``tool_calls`` holds
    the functions the model asked to call (assembled from their streamed pieces); provider failures (also
    mid-stream) surface as ``ProviderError`` subclasses.
    """

    def __init__(
        self,
        chunks: Iterator[ChatChunk],
        *,
        close: Callable[[], None],
        translate: Callable[[Exception], ProviderError | None],
        started: float,
    ) -> None:
        self._chunks = chunks
        self._close = close
        self._translate = translate
        self._started = started
        self.usage: TokenUsage | None = None
        self.first_token_ms: float | None = None
        self.total_ms: float | None = None
        self._calls: dict[int, list[str]] = {}  # index -> [id, name, arguments]

    @property
    def tool_calls(self) -> tuple[ToolCall, ...]:
        """The complete tool calls the model made (after iteration), in order."""
        return tuple(ToolCall(id=c[0], name=c[1], arguments=c[2]) for _, c in sorted(self._calls.items()))

    def __iter__(self) -> Iterator[str]:
        try:
            for chunk in _translating(self._chunks, self._translate):
                if chunk.usage is not None:
                    self.usage = chunk.usage
                for piece in chunk.tool_calls:
                    call = self._calls.setdefault(piece.index, ["", "", ""])
                    call[0] = piece.id or call[0]
                    call[1] = piece.name or call[1]
                    call[2] += piece.arguments
                if chunk.text:
                    if self.first_token_ms is None:
                        self.first_token_ms = elapsed_ms(self._started)
                    yield chunk.text
        finally:
            self.total_ms = elapsed_ms(self._started)

    def __enter__(self) -> ChatStream:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Release the underlying connection (idempotent)."""
        self._close()


class LLM(ABC):
    """A streaming chat model."""

    def __init__(self, *, provider: str) -> None:
        self.provider = provider

    def stream_chat(self, request: ChatRequest) -> ChatStream:
        """Start a streamed completion; raises ``ProviderError`` if it cannot start."""
        started = time.perf_counter()
        chunks, close = _opened(lambda: self._open_stream(request), self.translate_error)
        return ChatStream(chunks, close=close, translate=self.translate_error, started=started)

    @abstractmethod
    def _open_stream(self, request: ChatRequest) -> tuple[Iterator[ChatChunk], Callable[[], None]]:
        """Open the provider's stream; return its chunks and a function that closes it."""

    def translate_error(self, exc: Exception) -> ProviderError | None:
        """Map a provider/SDK exception to our error tree (None: not a provider failure, re-raise)."""
        return _network_failure(exc)


def elapsed_ms(started: float) -> float:
    """Milliseconds since ``started`` (a ``time.perf_counter()`` reading), to 0.1 ms."""
    return round((time.perf_counter() - started) * 1000, 1)


@dataclass(frozen=True)
class SpeechRequest:
    """Text to speak, with the voice, speed and model to speak it with."""

    text: str
    voice: str
    model: str
    speed: float = 1.0


class SpeechStream:
    """PCM chunks (16-bit little-endian mono at ``sample_rate``) as they arrive, and when the first came.

    Providers billed by tokens report them as ``usage`` (after iteration). Use as a context manager so the
    connection is always released.
    """

    def __init__(
        self,
        chunks: Iterator[bytes | TokenUsage],
        *,
        sample_rate: int,
        close: Callable[[], None],
        translate: Callable[[Exception], ProviderError | None],
        started: float,
    ) -> None:
        self._chunks = chunks
        self.sample_rate = sample_rate
        self._close = close
        self._translate = translate
        self._started = started
        self.first_byte_ms: float | None = None
        self.bytes_received = 0
        self.usage: TokenUsage | None = None

    def __iter__(self) -> Iterator[bytes]:
        for chunk in _translating(self._chunks, self._translate):
            if isinstance(chunk, TokenUsage):
                self.usage = add_usage(self.usage, chunk)
            elif chunk:
                if self.first_byte_ms is None:
                    self.first_byte_ms = elapsed_ms(self._started)
                self.bytes_received += len(chunk)
                yield chunk

    @property
    def audio_seconds(self) -> float:
        """Seconds of audio received so far."""
        return self.bytes_received / 2 / self.sample_rate

    def __enter__(self) -> SpeechStream:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._close()


class TTS(ABC):
    """A streaming text-to-speech engine."""

    def __init__(self, *, provider: str, sample_rate: int) -> None:
        self.provider = provider
        self.sample_rate = sample_rate

    def synthesize(self, request: SpeechRequest) -> SpeechStream:
        """Start speaking ``request.text``; raises ``ProviderError`` if it cannot start."""
        started = time.perf_counter()
        chunks, close = _opened(lambda: self._open_stream(request), self.translate_error)
        return SpeechStream(
            chunks, sample_rate=self.sample_rate, close=close, translate=self.translate_error, started=started
        )

    @abstractmethod
    def _open_stream(self, request: SpeechRequest) -> tuple[Iterator[bytes | TokenUsage], Callable[[], None]]:
        """Open the provider's audio stream; return its PCM chunks (and any billed tokens) and a closer."""

    def translate_error(self, exc: Exception) -> ProviderError | None:
        """Map a provider/SDK exception to our error tree (None: not a provider failure, re-raise)."""
        return _network_failure(exc)


@dataclass(frozen=True)
class TranscriptionRequest:
    """Speech to recognise: 16-bit mono PCM, the model, and an optional language hint (ISO-639-1)."""

    pcm: bytes
    sample_rate: int
    model: str
    language: str | None = None

    @property
    def audio_seconds(self) -> float:
        """Duration of the audio in seconds."""
        return len(self.pcm) / 2 / self.sample_rate


@dataclass(frozen=True)
class Transcript:
    """What was recognised, and how long recognition took."""

    text: str
    audio_seconds: float
    latency_ms: float


class STT(ABC):
    """A speech-to-text engine for whole recordings."""

    def __init__(self, *, provider: str) -> None:
        self.provider = provider

    def transcribe(self, request: TranscriptionRequest) -> Transcript:
        """Recognise ``request``; the text is stripped (empty: nothing understood). Raises ProviderError."""
        started = time.perf_counter()
        text = _opened(lambda: self._transcribe(request), self.translate_error)
        return Transcript(
            text=text.strip(), audio_seconds=request.audio_seconds, latency_ms=elapsed_ms(started)
        )

    @abstractmethod
    def _transcribe(self, request: TranscriptionRequest) -> str:
        """Call the provider and return the recognised text."""

    def translate_error(self, exc: Exception) -> ProviderError | None:
        """Map a provider/SDK exception to our error tree (None: not a provider failure, re-raise)."""
        return _network_failure(exc)


Translate = Callable[[Exception], ProviderError | None]


def add_usage(total: TokenUsage | None, more: TokenUsage | None) -> TokenUsage | None:
    """The sum of two token counts, either of which may be absent."""
    if total is None or more is None:
        return more or total
    return TokenUsage(total.input_tokens + more.input_tokens, total.output_tokens + more.output_tokens)


def _network_failure(exc: Exception) -> ProviderError | None:
    return ProviderUnavailable() if isinstance(exc, ConnectionError | TimeoutError) else None


def _opened(open_stream: Callable[[], T], translate: Translate) -> T:
    """Call ``open_stream``, turning provider failures into ``ProviderError`` (others propagate)."""
    try:
        return open_stream()
    except ProviderError:
        raise
    except Exception as exc:
        translated = translate(exc)
        if translated is None:
            raise
        raise translated from exc


def _translating(items: Iterator[T], translate: Translate) -> Iterator[T]:
    """Iterate ``items``, turning provider failures mid-stream into ``ProviderError``."""
    try:
        yield from items
    except ProviderError:
        raise
    except Exception as exc:
        translated = translate(exc)
        if translated is None:
            raise
        raise translated from exc
