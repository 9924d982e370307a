"""The pieces the Talk engines run on: blocking streams consumed on the loop, playback drained, the view built
from events alone."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator

import pytest

from tests.engine.live_helpers import RecordingOutput
from voicechat.models import ToolStep, TurnMetrics
from voicechat.talk.events import (
    EngineError,
    ReplyAudio,
    ReplyHeard,
    ReplyInterrupted,
    ReplyStarted,
    ReplyTextDelta,
    ToolActivity,
    TurnStored,
    UserSpeechStarted,
    UserSpeechStopped,
    UserTranscript,
)
from voicechat.talk.runtime.playback import PlaybackMeter
from voicechat.talk.runtime.threads import iterate_in_thread
from voicechat.talk.view import TalkView


def test_a_blocking_stream_arrives_whole_and_in_order_then_its_error() -> None:
    def numbers() -> Iterator[int]:
        yield from range(50)
        raise ValueError("the provider hung up")

    async def consume() -> list[int]:
        seen: list[int] = []
        with pytest.raises(ValueError, match="hung up"):
            async with contextlib.aclosing(iterate_in_thread(numbers)) as stream:
                async for batch in stream:
                    assert batch  # never an empty batch
                    seen.extend(batch)
        return seen

    assert asyncio.run(consume()) == list(range(50))


def test_closing_early_stops_the_blocking_stream_and_closes_it_on_its_thread_before_returning() -> None:
    closed = threading.Event()
    produced: list[int] = []

    def endless() -> Iterator[int]:
        try:
            n = 0
            while True:
                produced.append(n)
                yield n
                n += 1
        finally:
            closed.set()  # a chat stream stores and bills here

    async def take_one_batch() -> None:
        async with contextlib.aclosing(iterate_in_thread(endless)) as stream:
            async for _ in stream:
                break
        assert closed.is_set()  # closed by the time the close returned

    asyncio.run(take_one_batch())
    stopped_at = len(produced)
    assert closed.wait(1) and len(produced) == stopped_at  # nothing produced after the close


def test_drained_waits_for_the_audio_pushed_and_returns_at_once_when_cleared() -> None:
    async def play() -> tuple[float, float]:
        meter = PlaybackMeter(RecordingOutput(), sample_rate=16_000)
        meter.push(b"\0\0" * 1600)  # 0.1 s
        await asyncio.wait_for(meter.drained(), timeout=5)
        left_after_playing = meter.seconds_left()
        meter.push(b"\0\0" * 16_000 * 60)  # a minute
        meter.clear()
        await asyncio.wait_for(meter.drained(), timeout=5)  # the minute was cleared: nothing to wait for
        return left_after_playing, meter.seconds_left()

    assert asyncio.run(play()) == (0.0, 0.0)


def view() -> TalkView:
    return TalkView(engine="cascaded", vad="silero", conversation_id=None, level=lambda: -30.0)


def test_the_view_is_built_from_a_turns_events() -> None:
    shown = view()
    shown.apply(UserSpeechStopped("u1", b"\0\0" * 160, ended_at=1.0, end_of_turn_ms=210.0))
    snap = shown.snapshot()
    assert (snap.state, [(line.role, line.text) for line in snap.transcript]) == ("thinking", [("user", "…")])
    shown.apply(UserTranscript("u1", "What is the capital of France?"))
    shown.apply(ReplyStarted("r1"))
    shown.apply(ReplyTextDelta("r1", "Paris.", spoken=True))
    shown.apply(ReplyTextDelta("r1", "It is on the Seine.", spoken=True))
    shown.apply(ReplyAudio("r1", b"\0\0" * 160, pushed_at=1.5))
    snap = shown.snapshot()
    assert snap.state == "speaking" and snap.transcript[-1].text == "Paris. It is on the Seine."
    shown.apply(UserSpeechStarted(onset=2.0))
    shown.apply(ReplyInterrupted("r1", barge_in_ms=120.0))
    shown.apply(ReplyHeard("r1", "Paris.", interrupted=True))
    shown.apply(TurnStored(TurnMetrics(voice_to_voice_ms=500.0, barge_in_ms=120.0), error=None))
    snap = shown.snapshot()
    assert snap.state == "listening" and snap.turns == 1 and snap.level_dbfs == -30.0
    assert [(line.role, line.text, line.interrupted) for line in snap.transcript] == [
        ("user", "What is the capital of France?", False),
        ("assistant", "Paris.", True),
    ]
    assert snap.last_turn == TurnMetrics(voice_to_voice_ms=500.0, barge_in_ms=120.0)


def test_a_notice_that_is_over_clears_itself_but_not_an_error_shown_since() -> None:
    shown = view()
    shown.apply(EngineError("reconnecting…"))
    shown.apply(EngineError(None, clears="reconnecting…"))
    assert shown.snapshot().error is None
    shown.apply(EngineError("reconnecting…"))
    shown.apply(EngineError("The voice engine could not answer that."))
    shown.apply(EngineError(None, clears="reconnecting…"))
    assert shown.snapshot().error == "The voice engine could not answer that."


def test_a_reply_heard_after_the_next_turn_began_does_not_say_listening() -> None:
    shown = view()
    shown.apply(ReplyStarted("r1"))
    shown.apply(ReplyAudio("r1", b"\0\0", pushed_at=0.0))
    shown.apply(UserSpeechStopped("u2", b""))  # the next turn is being answered
    shown.apply(ReplyHeard("r1", "Par", interrupted=True))
    assert shown.snapshot().state == "thinking"


def test_the_call_screen_is_told_exactly_which_call_waits_for_a_yes_until_the_user_answers() -> None:
    shown = view()
    step = ToolStep(
        name="board__open_ticket", arguments='{"title": "Boss"}', result="", status="awaiting_confirmation"
    )
    shown.apply(UserSpeechStopped("u1", b"\0\0" * 160, ended_at=1.0, end_of_turn_ms=210.0))
    shown.apply(ToolActivity("r1", "board__open_ticket", "started"))
    shown.apply(ToolActivity("r1", "board__open_ticket", "finished", step))
    assert shown.snapshot().held == step and shown.snapshot().tool is None
    shown.apply(UserSpeechStopped("u2", b"\0\0" * 160, ended_at=5.0, end_of_turn_ms=210.0))
    assert shown.snapshot().held is None
