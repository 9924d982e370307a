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
