"""Prices: what a provider call costs, computed when the usage event is written (never re-priced later)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from voicechat import defaults
from voicechat.models import UsageEvent, UsageKind, UsageStatus


@dataclass(frozen=True)
class PriceTables:
    """Every price a usage event can be priced with (US dollars); defaults from ``defaults``, overridable."""

    chat: Mapping[str, tuple[float, float]] = field(
        default_factory=lambda: dict(defaults.CHAT_PRICES_PER_MTOK)
    )
    realtime: Mapping[str, tuple[float, float]] = field(
        default_factory=lambda: dict(defaults.REALTIME_PRICES_PER_MTOK)
    )
    stt_per_minute: Mapping[str, float] = field(default_factory=lambda: dict(defaults.STT_PRICES_PER_MINUTE))
    tts_per_minute: Mapping[str, float] = field(default_factory=lambda: dict(defaults.TTS_PRICES_PER_MINUTE))
    elevenlabs_per_kchar: Mapping[str, float] = field(
        default_factory=lambda: dict(defaults.ELEVENLABS_PRICES_PER_KCHAR)
    )


@dataclass(frozen=True)
class Usage:
    """One priced provider call, before it is known whose and in which conversation: the only place a
    ``UsageEvent`` is assembled (``event``), whichever turn, engine or provider made the call."""

    kind: UsageKind
    provider: str
    model: str
    status: UsageStatus
    cost_usd: float
    input_tokens: int = 0
    output_tokens: int = 0
    audio_seconds: float = 0.0
    characters: int = 0
    latency_ms: float | None = None
    turn: bool = False  # a speech-to-speech reply to the user (every chat event is a turn already)
    estimated: bool = False  # tokens counted by us: the provider never reported them
    follow_up: bool = False  # a chat call after a tool round: the same turn, not another one

    def event(self, *, user_id: str, conversation_id: str | None) -> UsageEvent:
        """The usage event to store for ``user_id``."""
        return UsageEvent(
            user_id=user_id,
            conversation_id=conversation_id,
            kind=self.kind,
            provider=self.provider,
            model=self.model,
            status=self.status,
            input_tokens=self.input_tokens,
            output_tokens=self.output_tokens,
            audio_seconds=round(self.audio_seconds, 3),
            characters=self.characters,
            cost_usd=round(self.cost_usd, 8),
            latency_ms=self.latency_ms,
            turn=self.turn,
            estimated=self.estimated,
            follow_up=self.follow_up,
        )


def chat_cost(
    *,
    model: str,
    input_tokens: int,
    output_tokens: int,
    prices: Mapping[str, tuple[float, float]] = defaults.CHAT_PRICES_PER_MTOK,
) -> float:
    """Cost in US dollars of a chat completion; a model without a listed price costs 0 (e.g. a local one)."""
    price = prices.get(model)
    if price is None:
        return 0.0
    per_input, per_output = price
    return round((input_tokens * per_input + output_tokens * per_output) / 1_000_000, 8)


def transcription_cost(*, model: str, audio_seconds: float, prices: PriceTables) -> float:
    """Cost in US dollars of recognising ``audio_seconds`` of speech (per minute; 0 for an unlisted model)."""
    return round(prices.stt_per_minute.get(model, 0.0) * audio_seconds / 60, 8)


def speech_cost(
    *,
    model: str,
    audio_seconds: float,
    characters: int = 0,
    input_tokens: int = 0,
    output_tokens: int = 0,
    prices: PriceTables | None = None,
) -> float:
    """Cost in US dollars of synthesised speech, however the model is billed.

    Speech-endpoint models per minute of audio, Realtime models per token (text in, audio out), ElevenLabs
    models per 1,000 characters; an unlisted model (a local engine) costs 0.
    """
    tables = prices or PriceTables()
    if model in tables.tts_per_minute:
        return round(tables.tts_per_minute[model] * audio_seconds / 60, 8)
    if model in tables.realtime:
        per_input, per_output = tables.realtime[model]
        return round((input_tokens * per_input + output_tokens * per_output) / 1_000_000, 8)
    if model in tables.elevenlabs_per_kchar:
        return round(tables.elevenlabs_per_kchar[model] * characters / 1000, 8)
    return 0.0


def priced_speech(usage: Usage, prices: PriceTables) -> Usage:
    """A synthesis's ``usage`` with its cost (``speech_cost``) filled in."""
    cost = speech_cost(
        model=usage.model,
        audio_seconds=usage.audio_seconds,
        characters=usage.characters,
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        prices=prices,
    )
    return replace(usage, cost_usd=cost)


# Latency histogram buckets (upper bounds in ms). Rollups count events per bucket so daily percentiles need no
# raw events; a percentile is reported as the upper bound of the bucket it falls in.
LATENCY_BUCKETS_MS: tuple[int, ...] = (
    50,
    100,
    150,
    200,
    250,
    300,
    400,
    500,
    600,
    800,
    1000,
    1250,
    1500,
    2000,
    3000,
    5000,
    10000,
    30000,
)
OVERFLOW_BUCKET = "inf"


def latency_bucket(ms: float) -> str:
    """The histogram key for a latency: ``le<bound>`` or ``inf``."""
    for bound in LATENCY_BUCKETS_MS:
        if ms <= bound:
            return f"le{bound}"
    return OVERFLOW_BUCKET


def histogram_percentile(histogram: Mapping[str, int], quantile: float) -> float | None:
    """The bucket upper bound at ``quantile`` (0..1) of a histogram; None when it is empty."""
    total = sum(histogram.values())
    if total == 0:
        return None
    needed = quantile * total
    seen = 0
    for bound in LATENCY_BUCKETS_MS:
        seen += histogram.get(f"le{bound}", 0)
        if seen >= needed:
            return float(bound)
    return float("inf")
