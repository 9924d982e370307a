"""What the call screen shows: the state in words, the running time, and captions without repeats."""

from __future__ import annotations

from dataclasses import replace

import pytest

from voicechat.talk import events
from voicechat.talk.call_status import CONNECTING, RECONNECTING, call_status, call_time
from voicechat.talk.view import TalkSnapshot, TalkView

SNAP = TalkSnapshot(
    state="listening",
    level_dbfs=-30.0,
    transcript=(),
    last_turn=None,
    error=None,
    conversation_id=None,
    turns=0,
    vad="silero",
)


@pytest.mark.parametrize(
    ("state", "words", "colour"),
    [
        ("listening", "Listening", "green"),
        ("thinking", "Thinking", "orange"),
        ("speaking", "Speaking", "blue"),
        ("stopped", "Call ended", "gray"),
    ],
)
def test_each_state_has_words_an_icon_and_a_colour(state: str, words: str, colour: str) -> None:
    status = call_status(replace(SNAP, state=state))  # type: ignore[arg-type]
    assert (status.words, status.colour) == (words, colour) and status.icon


def test_connecting_until_the_call_is_up_and_reconnecting_while_the_provider_is_away() -> None:
    assert call_status(None) == CONNECTING
    assert call_status(replace(SNAP, state="speaking", connected=False)) == RECONNECTING
    assert call_status(replace(SNAP, state="stopped", connected=False)).words == "Call ended"


@pytest.mark.parametrize(
    ("seconds", "shown"), [(0, "0:00"), (7.9, "0:07"), (754, "12:34"), (3723, "1:02:03"), (-1, "0:00")]
)
def test_call_time_reads_like_a_phone(seconds: float, shown: str) -> None:
    assert call_time(seconds) == shown


def test_the_call_time_runs_until_the_call_stops() -> None:
    now = [100.0]
    view = TalkView(
        engine="cascaded", vad="", conversation_id=None, level=lambda: -20.0, clock=lambda: now[0]
    )
    now[0] = 130.0
    assert view.snapshot().elapsed_s == 30.0
    view.mute(True)
    assert view.snapshot().muted and view.muted
    view.stop()
    now[0] = 200.0
    assert view.snapshot().elapsed_s == 30.0  # frozen at the end of the call


def test_a_reply_known_whole_while_it_plays_is_captioned_once() -> None:
    """The cascaded engine knows the whole text before its last sentences are spoken: the caption shows it
    once, not the whole text followed by the sentences spoken after it."""
    view = TalkView(engine="cascaded", vad="", conversation_id=None, level=lambda: -20.0)
    view.apply(events.ReplyStarted("r1"))
    view.apply(events.ReplyTextDelta("r1", "Paris.", spoken=True))
    assert [line.text for line in view.snapshot().transcript] == ["Paris."]
    view.apply(events.ReplyTextDone("r1", "Paris. It is on the Seine."))
    view.apply(events.ReplyTextDelta("r1", "It is on the Seine.", spoken=True))
    assert [line.text for line in view.snapshot().transcript] == ["Paris. It is on the Seine."]
