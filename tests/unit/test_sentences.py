from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from voicechat.sentences import (
    SentenceSplitter,
    ends_mid_phrase,
    group_for_speech,
    speakable,
    split_sentences,
)


def test_sentences_split_at_their_ends() -> None:
    assert split_sentences("Hello there! How are you? I'm fine. Thanks.") == [
        "Hello there!",
        "How are you?",
        "I'm fine.",
        "Thanks.",
    ]


def test_numbers_abbreviations_and_initials_do_not_split() -> None:
    text = "Pi is about 3.14 today. Ask Dr. Smith, e.g. about J. R. R. Tolkien. Done."
    assert split_sentences(text) == [
        "Pi is about 3.14 today.",
        "Ask Dr. Smith, e.g. about J. R. R. Tolkien.",
        "Done.",
    ]


def test_line_breaks_end_sentences() -> None:
    assert split_sentences("Steps:\n- open it\n- close it") == ["Steps:", "- open it", "- close it"]


def test_a_long_clause_is_cut_at_a_comma() -> None:
    text = "one, " * 30 + "end"
    pieces = split_sentences(text, max_chars=40)
    assert all(len(p) <= 40 for p in pieces)
    assert " ".join(pieces).replace("  ", " ") == text


def test_streamed_tokens_yield_each_sentence_once_it_ends() -> None:
    splitter = SentenceSplitter()
    out = []
    for token in ["Hel", "lo.", " Wor", "ld is", " big! And", " more"]:
        out.append(splitter.push(token))
    assert out == [[], [], ["Hello."], [], ["World is big!"], []]
    assert splitter.flush() == ["And more"]


def test_grouping_and_markdown_cleanup() -> None:
    assert group_for_speech(["a.", "b.", "c."], max_chars=5) == ["a. b.", "c."]
    assert speakable("**Bold** and `code`\n# Title\n- item") == "Bold and code\nTitle\nitem"


@given(st.text(alphabet="ab .!?,\nAB1", max_size=300), st.integers(min_value=1, max_value=299))
def test_streaming_loses_no_words(text: str, cut: int) -> None:
    splitter = SentenceSplitter(max_chars=50)
    pieces = [*splitter.push(text[:cut]), *splitter.push(text[cut:]), *splitter.flush()]
    assert "".join(pieces).replace(" ", "").replace("\n", "") == text.replace(" ", "").replace("\n", "")
    assert all(len(p) <= 50 for p in pieces)


def test_the_first_piece_may_end_at_a_clause_once_it_is_long_enough() -> None:
    splitter = SentenceSplitter(max_chars=160, first_clause_chars=24)
    pieces: list[str] = []
    for word in [
        "Well,",
        "the",
        "capital",
        "of",
        "France,",
        "as",
        "you",
        "know,",
        "is",
        "Paris.",
        "It",
        "is",
        "big,",
        "and",
        "old.",
    ]:
        pieces += splitter.push(word + " ")
    pieces += splitter.flush()
    # "Well," is too short to be spoken alone; later commas wait for the full stop.
    assert pieces == ["Well, the capital of France,", "as you know, is Paris.", "It is big, and old."]


@pytest.mark.parametrize(
    ("text", "dangling"),
    [
        ("Tell me about the weather in", True),
        ("My favourite animal is the", True),
        ("I want tea and", True),
        ("So, um", True),
        ("What is the capital of France?", False),
        ("Where is it?", False),
        ("I like that", False),
        ("", False),
    ],
)
def test_a_text_that_stops_on_a_word_no_sentence_ends_with_is_mid_phrase(text: str, dangling: bool) -> None:
    assert ends_mid_phrase(text) is dangling
