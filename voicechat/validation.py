"""Validation of text at the boundary: every check raises InvalidInput with a message for people."""

from __future__ import annotations

import re
import unicodedata

from voicechat import defaults
from voicechat.errors import InvalidInput

# Bidirectional overrides and isolates can make text display differently from what it is ("Trojan Source").
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_ALLOWED_CONTROLS = frozenset("\n\t")
_LONG_RUN = re.compile(rf"\S{{{defaults.MAX_WORD_CHARS + 1},}}")


def clean_message_text(text: object, *, max_chars: int = defaults.MAX_MESSAGE_CHARS) -> str:
    """Return the message normalised (NFC, trimmed, ``\\r\\n`` -> ``\\n``) or raise InvalidInput."""
    return _clean(text, max_chars=max_chars, what="Message", empty="Type a message first.")


def clean_system_prompt(text: object) -> str:
    """Return a persona / system prompt cleaned like a message, with its own length limit."""
    return _clean(
        text,
        max_chars=defaults.MAX_SYSTEM_PROMPT_CHARS,
        what="The persona",
        empty="The persona can't be empty.",
    )


def clean_transcript(text: str, *, max_chars: int = defaults.MAX_TRANSCRIPT_CHARS) -> str:
    """A recognised text made safe to store and show: NFC, no control or bidi characters, trimmed, capped.

    Unlike typed text nothing is refused here: the user cannot edit what a recogniser returned.
    """
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n"))
    kept = "".join(
        char
        for char in text
        if char not in _BIDI_CONTROLS and (unicodedata.category(char) != "Cc" or char in _ALLOWED_CONTROLS)
    )
    return kept.strip()[:max_chars]


def clean_title(text: object) -> str:
    """Return a conversation title: one line, cleaned, at most ``MAX_TITLE_CHARS``."""
    title = _clean(
        text, max_chars=defaults.MAX_TITLE_CHARS, what="The title", empty="The title can't be empty."
    )
    if "\n" in title:
        raise InvalidInput("The title must be a single line.")
    return title


def _clean(text: object, *, max_chars: int, what: str, empty: str) -> str:
    if not isinstance(text, str):
        raise InvalidInput(f"{what} must be text.")
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n")).strip()
    if not text:
        raise InvalidInput(empty)
    if len(text) > max_chars:
        raise InvalidInput(f"{what} is too long: {len(text):,} characters, the limit is {max_chars:,}.")
    for char in text:
        if char in _BIDI_CONTROLS or (unicodedata.category(char) == "Cc" and char not in _ALLOWED_CONTROLS):
            raise InvalidInput(f"{what} contains control characters (U+{ord(char):04X}); please remove them.")
    if _LONG_RUN.search(text):
        raise InvalidInput(
            f"{what} contains a run of over {defaults.MAX_WORD_CHARS} characters without a space; "
            "please shorten it."
        )
    return text
