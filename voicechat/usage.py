"""Prices: what a provider call costs, computed when the usage event is written (never re-priced later)."""

from __future__ import annotations

from collections.abc import Mapping

from voicechat import defaults


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


def speech_cost(
    *, model: str, audio_seconds: float, prices: Mapping[str, float] = defaults.TTS_PRICES_PER_MINUTE
) -> float:
    """Cost in US dollars of synthesised speech, priced per minute of audio (0 for an unlisted model)."""
    return round(prices.get(model, 0.0) * audio_seconds / 60, 8)


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
