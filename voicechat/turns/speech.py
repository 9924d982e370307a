"""Speaking a text and recognising a recording, each billed as a priced ``Usage`` however it ends.

``speak`` and ``recognise`` store the usage for the user at once (a page's turn); a Talk engine calls
``transcribe`` and ``speech_usage`` and reports the usage as an event for the session's recorder.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from voicechat.errors import ProviderRateLimited
from voicechat.models import UsageStatus, User
from voicechat.providers.base import SpeechRequest, TokenUsage, Transcript, TranscriptionRequest, add_usage
from voicechat.providers.speech_factory import Recogniser, Speaker
from voicechat.sentences import group_for_speech, speakable, split_sentences
from voicechat.storage.store import Store
from voicechat.turns.writer import TurnWriter
from voicechat.usage import PriceTables, Usage, priced_speech, transcription_cost

Bill = Callable[[Usage], None]


@dataclass(frozen=True)
class SpokenAudio:
    """Synthesised speech as 16-bit mono PCM, and how long the first audio took to arrive."""

    pcm: bytes
    sample_rate: int
    first_byte_ms: float | None

    @property
    def seconds(self) -> float:
        """Duration in seconds."""
        return len(self.pcm) / 2 / self.sample_rate


def speak(
    speaker: Speaker,
    text: str,
    *,
    store: Store,
    user: User,
    prices: PriceTables,
    conversation_id: str | None = None,
) -> SpokenAudio:
    """Speak ``text`` (markdown marks removed, long texts in sentence-aligned pieces) and record its usage.

    Raises ProviderError; the usage event is written either way, with the audio that did arrive.
    """
    pieces = group_for_speech(split_sentences(speakable(text)))
    chunks: list[bytes] = []
    first_byte_ms: float | None = None
    usage: TokenUsage | None = None
    status: UsageStatus = "error"
    try:
        for piece in pieces:
            request = SpeechRequest(text=piece, voice=speaker.voice, model=speaker.model, speed=speaker.speed)
            with speaker.tts.synthesize(request) as stream:
                chunks.extend(stream)
                if first_byte_ms is None:
                    first_byte_ms = stream.first_byte_ms
                usage = add_usage(usage, stream.usage)
        status = "ok"
    except ProviderRateLimited:
        status = "rate_limited"
        raise
    finally:
        audio = SpokenAudio(
            pcm=b"".join(chunks), sample_rate=speaker.tts.sample_rate, first_byte_ms=first_byte_ms
        )
        TurnWriter(store, user).bill(
            speech_usage(
                speaker,
                characters=sum(len(p) for p in pieces),
                audio_seconds=audio.seconds,
                usage=usage,
                status=status,
                latency_ms=first_byte_ms,
                prices=prices,
            ),
            conversation_id,
        )
    return audio


def speech_usage(
    speaker: Speaker,
    *,
    characters: int,
    audio_seconds: float,
    usage: TokenUsage | None,
    status: UsageStatus,
    latency_ms: float | None,
    prices: PriceTables,
) -> Usage:
    """The priced usage of one synthesis (however the provider bills it)."""
    tokens = usage or TokenUsage(input_tokens=0, output_tokens=0)
    unpriced = Usage(
        kind="tts",
        provider=speaker.tts.provider,
        model=speaker.model,
        status=status,
        cost_usd=0.0,
        characters=characters,
        audio_seconds=audio_seconds,
        input_tokens=tokens.input_tokens,
        output_tokens=tokens.output_tokens,
        latency_ms=latency_ms,
    )
    return priced_speech(unpriced, prices)


def recognise(
    recogniser: Recogniser,
    pcm: bytes,
    *,
    sample_rate: int,
    store: Store,
    user: User,
    prices: PriceTables,
    conversation_id: str | None = None,
) -> Transcript:
    """Transcribe a recording and record its usage (also when it fails). Raises ProviderError."""
    writer = TurnWriter(store, user)
    return transcribe(
        recogniser,
        pcm,
        sample_rate=sample_rate,
        prices=prices,
        bill=lambda usage: writer.bill(usage, conversation_id),
    )


def transcribe(
    recogniser: Recogniser, pcm: bytes, *, sample_rate: int, prices: PriceTables, bill: Bill
) -> Transcript:
    """Transcribe a recording and bill it where ``bill`` says (also when it fails). Raises ProviderError."""
    request = TranscriptionRequest(
        pcm=pcm, sample_rate=sample_rate, model=recogniser.model, language=recogniser.language
    )
    transcript: Transcript | None = None
    status: UsageStatus = "error"
    try:
        transcript = recogniser.stt.transcribe(request)
        status = "ok"
    except ProviderRateLimited:
        status = "rate_limited"
        raise
    finally:
        bill(
            Usage(
                kind="stt",
                provider=recogniser.stt.provider,
                model=recogniser.model,
                status=status,
                audio_seconds=request.audio_seconds,
                characters=len(transcript.text) if transcript else 0,
                cost_usd=transcription_cost(
                    model=recogniser.model, audio_seconds=request.audio_seconds, prices=prices
                )
                if transcript
                else 0.0,
                latency_ms=transcript.latency_ms if transcript else None,
            )
        )
    assert transcript is not None  # transcribe() returned or raised
    return transcript
