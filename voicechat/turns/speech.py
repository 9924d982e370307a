"""Speaking a text and recognising a recording, each recorded as a priced usage event however it ends."""

from __future__ import annotations

from dataclasses import dataclass

from voicechat.audio.encode import encode_for_storage
from voicechat.errors import ProviderRateLimited
from voicechat.models import UsageEvent, UsageStatus, User
from voicechat.providers.base import SpeechRequest, TokenUsage, Transcript, TranscriptionRequest, add_usage
from voicechat.providers.speech_factory import Recogniser, Speaker
from voicechat.sentences import group_for_speech, speakable, split_sentences
from voicechat.storage.store import Store
from voicechat.usage import PriceTables, speech_cost, transcription_cost


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
        record_speech_usage(
            store,
            user=user,
            speaker=speaker,
            characters=sum(len(p) for p in pieces),
            audio_seconds=audio.seconds,
            usage=usage,
            status=status,
            latency_ms=first_byte_ms,
            prices=prices,
            conversation_id=conversation_id,
        )
    return audio


@dataclass(frozen=True)
class KeptClip:
    """A clip as stored: its id, and the encoded bytes with their type (ready to play)."""

    id: str
    data: bytes
    content_type: str


def keep_clip(store: Store, *, owner_id: str, conversation_id: str, pcm: bytes, sample_rate: int) -> KeptClip:
    """Encode 16-bit mono PCM compactly and store it for ``owner_id`` in ``conversation_id`` (``NotFound``
    when that conversation was deleted meanwhile: nothing is left behind)."""
    data, content_type = encode_for_storage(pcm, sample_rate=sample_rate)
    audio_id = store.audio.put(
        owner_id=owner_id,
        conversation_id=conversation_id,
        data=data,
        content_type=content_type,
        duration_seconds=round(len(pcm) / 2 / sample_rate, 3),
    )
    return KeptClip(id=audio_id, data=data, content_type=content_type)


def record_speech_usage(
    store: Store,
    *,
    user: User,
    speaker: Speaker,
    characters: int,
    audio_seconds: float,
    usage: TokenUsage | None,
    status: UsageStatus,
    latency_ms: float | None,
    prices: PriceTables,
    conversation_id: str | None = None,
) -> None:
    """Write the priced usage event of one synthesis (however the provider bills it)."""
    input_tokens, output_tokens = (usage.input_tokens, usage.output_tokens) if usage else (0, 0)
    store.usage.record(
        UsageEvent(
            user_id=user.id,
            conversation_id=conversation_id,
            kind="tts",
            provider=speaker.tts.provider,
            model=speaker.model,
            status=status,
            characters=characters,
            audio_seconds=round(audio_seconds, 3),
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            cost_usd=speech_cost(
                model=speaker.model,
                audio_seconds=audio_seconds,
                characters=characters,
                input_tokens=input_tokens,
                output_tokens=output_tokens,
                prices=prices,
            ),
            latency_ms=latency_ms,
        )
    )


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
        store.usage.record(
            UsageEvent(
                user_id=user.id,
                conversation_id=conversation_id,
                kind="stt",
                provider=recogniser.stt.provider,
                model=recogniser.model,
                status=status,
                audio_seconds=round(request.audio_seconds, 3),
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
