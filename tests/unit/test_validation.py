from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from voicechat.errors import InvalidInput
from voicechat.storage.conversations import title_from
from voicechat.storage.search import snippet, terms_of
from voicechat.usage import chat_cost
from voicechat.validation import clean_message_text, clean_title


def test_text_is_normalised() -> None:
    assert clean_message_text("  Cafe\u0301\r\nnext line \t") == "Café\nnext line"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "Type a message first"),
        ("   \n\t ", "Type a message first"),
        ("x" * 2001, "too long: 2,001 characters, the limit is 2,000"),
        ("hello\x00world", "control characters (U+0000)"),
        ("bell\x07", "control characters (U+0007)"),
        ("abc\u202edcba", "control characters (U+202E)"),
        ("a" * 301, "without a space"),
        (b"bytes", "must be text"),
        (None, "must be text"),
    ],
)
def test_bad_text_is_refused_with_a_message(text: object, message: str) -> None:
    with pytest.raises(InvalidInput, match=re.escape(message)):
        clean_message_text(text)


def test_exactly_the_limit_is_accepted() -> None:
    words = ("word " * 400).strip()
    assert len(words) == 1999
    assert clean_message_text(words + "s") == words + "s"


def test_markup_is_kept_as_text() -> None:
    # Rendering is the page's job (never unsafe_allow_html); validation keeps what the user typed.
    assert clean_message_text("<script>alert(1)</script> **bold**") == "<script>alert(1)</script> **bold**"


@given(st.text(max_size=3000))
def test_validator_either_cleans_or_explains(text: str) -> None:
    try:
        cleaned = clean_message_text(text)
    except InvalidInput as exc:
        assert exc.user_message and not exc.retryable
    else:
        assert cleaned and cleaned == cleaned.strip() and len(cleaned) <= 2000
        assert all(ch in "\n\t" or ord(ch) >= 32 for ch in cleaned)


def test_titles_are_one_line() -> None:
    with pytest.raises(InvalidInput, match="single line"):
        clean_title("two\nlines")
    assert clean_title("  A title ") == "A title"


def test_title_from_first_message() -> None:
    assert title_from("What's the weather\nin Paris?") == "What's the weather"
    long = "word " * 40
    title = title_from(long)
    assert title.endswith("…") and len(title) <= 80 and "  " not in title
    assert title_from("   ") == "New conversation"


def test_terms_fold_case_and_accents_and_drop_single_letters() -> None:
    assert terms_of("Café au LAIT, a café!") == ["cafe", "au", "lait"]
    assert terms_of("") == []


def test_snippet_centres_on_the_match() -> None:
    text = "x " * 200 + "the needle is here " + "y " * 200
    shown = snippet(text, ["needle"])
    assert "needle" in shown and shown.startswith("…") and shown.endswith("…")


def test_chat_cost_uses_the_price_table() -> None:
    assert chat_cost(model="gpt-6-luna", input_tokens=1_000_000, output_tokens=2_000_000) == pytest.approx(
        1.10
    )
    assert chat_cost(model="local-model", input_tokens=10, output_tokens=10) == 0.0
