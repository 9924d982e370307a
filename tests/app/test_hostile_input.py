"""Hostile and broken input through the pages: every case ends with a clear message, no traceback, no write.

Typed text, recordings and conversation ids in the URL; the database is compared collection by collection
before and after, and the fake provider must not have been called for anything refused.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest
from streamlit.testing.v1 import AppTest

from tests.app.conftest import online_app
from tests.fakes.audio_samples import flac_silence_bomb, tone_pcm, wav_bytes
from tests.fakes.openai_server import ChatScript, FakeOpenAI
from voicechat.storage.store import Store

LOCAL = "local@localhost"


@pytest.fixture
def app(mongo_uri: str, fake_openai: FakeOpenAI) -> AppTest:
    at = online_app(mongo_uri, fake_openai, OPENAI_MAX_RETRIES="0")
    at.run()
    return at


def contents(store: Store) -> dict[str, int]:
    """Documents per collection (users included: a refused request creates nobody)."""
    return store.db.run(
        lambda db: {name: db[name].count_documents({}) for name in db.list_collection_names()}
    )


def assert_refused_cleanly(
    app: AppTest, before: dict[str, int], store: Store, fake: FakeOpenAI, says: str
) -> None:
    assert not app.exception
    shown = [e.value for e in app.error] + [w.value for w in app.warning]
    assert any(says in text for text in shown), shown
    assert not any("Traceback" in text for text in shown)
    assert contents(store) == before
    assert fake.chat_requests() == [] and not fake.requests


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("x " * 1500, "too long"),
        ("see " + "a" * 1500, "without a space"),
        ("hello\x00world", "control characters (U+0000)"),
        ("\x1b[31mred alert\x1b[0m", "control characters (U+001B)"),
        ("pay \u202eRLO reversed", "control characters (U+202E)"),
        ("hi\x07 bell", "control characters (U+0007)"),
    ],
    ids=["3000-chars", "one-1500-char-word", "nul", "terminal-escape", "bidi-override", "bell"],
)
def test_bad_text_is_refused_with_a_message_and_nothing_written(
    app: AppTest, store: Store, fake_openai: FakeOpenAI, text: str, says: str
) -> None:
    before = contents(store)
    app.chat_input[0].set_value(text).run()
    assert_refused_cleanly(app, before, store, fake_openai, says)


@pytest.mark.parametrize(
    "markup",
    [
        "<script>alert('x')</script>",
        '<img src=x onerror="alert(1)">',
        "[click me](javascript:alert(1))",
        "<style>body{display:none}</style> hidden?",
    ],
    ids=["script", "img-onerror", "javascript-link", "style"],
)
def test_markup_is_kept_as_text_and_never_rendered_as_html(
    app: AppTest, store: Store, fake_openai: FakeOpenAI, markup: str
) -> None:
    fake_openai.script_chat(ChatScript(reply=f"You wrote {markup}"))  # the model echoes it too
    app.chat_input[0].set_value(markup).run()
    assert not app.exception and not app.error
    rendered = [m.markdown[0] for m in app.chat_message]
    assert [m.value for m in rendered] == [markup, f"You wrote {markup}"]  # stored and shown verbatim
    markdown = app.get("markdown")
    assert len(markdown) >= 2 and not any(m.allow_html for m in markdown)  # no raw HTML anywhere


RECORDINGS: dict[str, tuple[Callable[[], bytes], str]] = {
    "random-bytes": (lambda: os.urandom(5000), "not a recording I can read"),
    "empty": (lambda: b"", "empty"),
    "png-named-wav": (lambda: b"\x89PNG\r\n\x1a\n" + os.urandom(2000), "not a recording I can read"),
    "script-named-wav": (lambda: b"#!/bin/sh\nrm -rf /\n" * 50, "not a recording I can read"),
    "damaged-wav": (lambda: b"RIFF\x10\x00\x00\x00WAVEfmt " + os.urandom(64), "damaged"),
    "decompression-bomb": (lambda: flac_silence_bomb(2 * 3600), "limit is 5 minutes"),
    "six-minutes": (lambda: wav_bytes(tone_pcm(360, sample_rate=8_000), sample_rate=8_000), "5 minutes"),
    "26-megabytes": (lambda: b"\0" * (26 * 1024 * 1024), "the limit is 25 MB"),
}


@pytest.mark.parametrize("case", list(RECORDINGS))
def test_bad_recordings_are_refused_with_a_message_and_nothing_written(
    app: AppTest, store: Store, fake_openai: FakeOpenAI, case: str
) -> None:
    make, says = RECORDINGS[case]
    before = contents(store)
    app.audio_input[0].set_value(("question.wav", make(), "audio/wav")).run()
    assert_refused_cleanly(app, before, store, fake_openai, says)


@pytest.mark.parametrize(
    "conversation",
    [
        "not-an-id",
        "0" * 24,  # well-formed, exists nowhere
        "{'$ne': null}",
        '{"$gt": ""}',
        "ffffffffffffffffffffffff' || '1'=='1",
        "../../admin_usage",
        "x" * 10_000,
        "🎙️" * 12,
        "FOREIGN",  # someone else's real conversation
    ],
)
def test_ids_in_the_url_that_are_not_yours_open_nothing(
    mongo_uri: str, store: Store, fake_openai: FakeOpenAI, conversation: str
) -> None:
    other = store.users.get_or_create(email="other@example.com", name="Other")
    theirs = store.conversations.create(owner_id=other.id, title="Other's secret plans")
    store.conversations.add_message(
        owner_id=other.id, conversation_id=theirs.id, role="user", content="the vault code is 0451"
    )
    at = online_app(mongo_uri, fake_openai)
    at.query_params["c"] = theirs.id if conversation == "FOREIGN" else conversation
    at.run()
    before = contents(store)
    assert not at.exception
    assert "not found" in at.warning[0].value
    page_text = " ".join(str(getattr(e, "value", "")) for e in at.get("markdown") + list(at.subheader))
    assert "0451" not in page_text and "secret plans" not in page_text
    assert "c" not in at.query_params  # the bad id is dropped from the address
    at.run()
    assert contents(store) == before
