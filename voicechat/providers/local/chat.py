"""Chat on this machine: a small instruct model (SmolLM2-135M, GGUF) on llama.cpp, streamed token by token.

Small enough to answer in real time on two cores, and private; its answers are short and simple. Any better
model an OpenAI-compatible local server runs (Ollama, llama.cpp server, LM Studio, vLLM) is used through
``OPENAI_BASE_URL`` instead.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator
from typing import Any

from voicechat.providers.base import LLM, ChatChunk, ChatRequest, TokenUsage
from voicechat.providers.local.models import LocalModels

LOCAL_CHAT_MODEL = "smollm2-135m-local"
MAX_REPLY_TOKENS = 256
DEFAULT_TEMPERATURE = 0.3  # small models ramble at higher temperatures


class LocalChat(LLM):
    """Streams a reply; one generation at a time per process (the others wait their turn)."""

    def __init__(self, engines: LocalModels) -> None:
        super().__init__(provider="local")
        self._engines = engines

    def _open_stream(self, request: ChatRequest) -> tuple[Iterator[ChatChunk], Callable[[], None]]:
        model = self._engines.chat_model()  # loads (or fails) now
        messages = [{"role": m.role, "content": m.content} for m in request.messages]
        temperature = DEFAULT_TEMPERATURE if request.temperature is None else request.temperature

        def chunks() -> Generator[ChatChunk]:
            produced = 0
            with self._engines.generating:
                pieces: Any = model.create_chat_completion(
                    messages=messages,
                    stream=True,
                    max_tokens=min(MAX_REPLY_TOKENS, request.max_output_tokens or MAX_REPLY_TOKENS),
                    temperature=temperature,
                )
                try:
                    for piece in pieces:
                        text = piece["choices"][0]["delta"].get("content") or ""
                        if text:
                            produced += 1  # llama.cpp streams one token per piece
                            yield ChatChunk(text=text)
                finally:
                    pieces.close()  # now, under the lock, not whenever the garbage collector gets to it
                prompt = "\n".join(m.content for m in request.messages).encode()
                # Counted, not billed: the prompt's tokens without the chat template's few markers.
                yield ChatChunk(usage=TokenUsage(len(model.tokenize(prompt, add_bos=False)), produced))

        stream = chunks()
        return stream, stream.close
