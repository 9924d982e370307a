"""Streaming chat completions on the OpenAI SDK (also any OpenAI-compatible server)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any, cast

import openai
from openai.types.chat import ChatCompletionMessageParam, ChatCompletionToolParam
from openai.types.chat.chat_completion_chunk import ChoiceDeltaToolCall

from voicechat.errors import ProviderError
from voicechat.providers.base import (
    LLM,
    ChatChunk,
    ChatMessage,
    ChatRequest,
    FunctionSpec,
    TokenUsage,
    ToolCallDelta,
)
from voicechat.providers.openai.client import translate_openai_error


class OpenAIChat(LLM):
    """``/v1/chat/completions`` with ``stream=True`` and a final usage chunk."""

    def __init__(self, *, client: openai.OpenAI, provider: str = "openai") -> None:
        super().__init__(provider=provider)
        self._client = client

    def _open_stream(self, request: ChatRequest) -> tuple[Iterator[ChatChunk], Callable[[], None]]:
        messages = [_wire_message(m) for m in request.messages]
        stream = self._client.chat.completions.create(
            model=request.model,
            messages=messages,
            tools=[_wire_tool(t) for t in request.tools] if request.tools else openai.omit,
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
                    if choice.delta.content:
                        yield ChatChunk(text=choice.delta.content)
                    if choice.delta.tool_calls:
                        yield ChatChunk(tool_calls=tuple(_call_piece(c) for c in choice.delta.tool_calls))

        return chunks(), stream.close

    def translate_error(self, exc: Exception) -> ProviderError | None:
        """See ``LLM.translate_error``."""
        return translate_openai_error(exc) or super().translate_error(exc)


def _wire_message(message: ChatMessage) -> ChatCompletionMessageParam:
    wire: dict[str, Any] = {"role": message.role, "content": message.content}
    if message.tool_calls:
        wire["tool_calls"] = [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
            for c in message.tool_calls
        ]
        wire["content"] = message.content or None
    if message.tool_call_id is not None:
        wire["tool_call_id"] = message.tool_call_id
    return cast(ChatCompletionMessageParam, wire)


def _wire_tool(spec: FunctionSpec) -> ChatCompletionToolParam:
    function = {"name": spec.name, "description": spec.description, "parameters": json.loads(spec.parameters)}
    return cast(ChatCompletionToolParam, {"type": "function", "function": function})


def _call_piece(piece: ChoiceDeltaToolCall) -> ToolCallDelta:
    function = piece.function
    return ToolCallDelta(
        index=piece.index,
        id=piece.id,
        name=function.name if function is not None else None,
        arguments=(function.arguments or "") if function is not None else "",
    )
