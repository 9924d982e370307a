"""Pricing one chat call of a turn: the provider's report, or our own count when the stream ended first."""

from __future__ import annotations

from voicechat.errors import ProviderError, ProviderRateLimited
from voicechat.models import MessageStatus, UsageStatus
from voicechat.providers.base import ChatRequest, ChatStream, TokenUsage
from voicechat.tokens import estimate_chat_usage
from voicechat.usage import Usage, chat_cost


def chat_usage(
    provider: str,
    stream: ChatStream | None,
    request: ChatRequest,
    text: str,
    *,
    status: MessageStatus,
    error: ProviderError | None,
    prices: dict[str, tuple[float, float]],
    follow_up: bool = False,
) -> Usage:
    """The usage event of one chat call that produced ``text`` and ended as ``status`` (``follow_up``: a
    call after a tool round, in the same turn)."""
    usage, estimated = billed_usage(stream, request, text)
    return Usage(
        kind="chat",
        provider=provider,
        model=request.model,
        status=_usage_status(status, error),
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        cost_usd=chat_cost(
            model=request.model,
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            prices=prices,
        ),
        latency_ms=stream.first_token_ms if stream else None,
        estimated=estimated,
        follow_up=follow_up,
    )


def billed_usage(stream: ChatStream | None, request: ChatRequest, text: str) -> tuple[TokenUsage, bool]:
    """What a chat call was billed, and whether we counted it: the provider's report when it came; our own
    count when the stream ended before its report (a reply cut short is billed too); nothing for a request
    that never started."""
    if stream is None:
        return TokenUsage(input_tokens=0, output_tokens=0), False
    if stream.usage is not None:
        return stream.usage, False
    return estimate_chat_usage(request.messages, text, model=request.model), True


def _usage_status(status: MessageStatus, error: ProviderError | None) -> UsageStatus:
    if isinstance(error, ProviderRateLimited):
        return "rate_limited"
    if status == "complete":
        return "ok"
    return "interrupted" if status == "interrupted" else "error"
