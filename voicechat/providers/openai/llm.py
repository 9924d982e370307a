"""Streaming chat completions on the OpenAI SDK (also any OpenAI-compatible server)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import cast

import openai
from openai.types.chat import ChatCompletionMessageParam

from voicechat.errors import ProviderError
from voicechat.providers.base import LLM, ChatChunk, ChatRequest, TokenUsage
from voicechat.providers.openai.client import translate_openai_error


class OpenAIChat(LLM):
    """``/v1/chat/completions`` with ``stream=True`` and a final usage chunk."""

    def __init__(self, *, client: openai.OpenAI, provider: str = "openai") -> None:
        super().__init__(provider=provider)
        self._client = client

    def _open_stream(self, request: ChatRequest) -> tuple[Iterator[ChatChunk], Callable[[], None]]:
        messages: list[ChatCompletionMessageParam] = [
            cast(ChatCompletionMessageParam, {"role": m.role, "content": m.content}) for m in request.messages
        ]
        stream = self._client.chat.completions.create(
            model=request.model,
            messages=messages,
            stream=True,
            stream_options={"include_usage": True},
            # None leaves the model's default (some reasoning models refuse any other temperature).
            temperature=openai.omit if request.temperature is None else request.temperature,
            max_completion_tokens=openai.omit
            if request.max_output_tokens is None
            else request.max_output_tokens,
        )

        def chunks() -> Iterator[ChatChunk]:
            for chunk in stream:
                if chunk.usage is not None:
                    yield ChatChunk(
                        usage=TokenUsage(
                            input_tokens=chunk.usage.prompt_tokens,
                            output_tokens=chunk.usage.completion_tokens,
                        )
                    )
                for choice in chunk.choices:
                    if choice.delta is not None and choice.delta.content:
                        yield ChatChunk(text=choice.delta.content)

        return chunks(), stream.close

    def translate_error(self, exc: Exception) -> ProviderError | None:
        """See ``LLM.translate_error``."""
        return translate_openai_error(exc) or super().translate_error(exc)
