"""A call's own limits as pure units: the frame gate (real time, with a burst), the schedule of a running
call's warnings, end and checks, and the audio loop's bounded inbox for each call."""

from __future__ import annotations

import threading

from voicechat.talk.runtime.audio_loop import AudioLoop
from voicechat.talk.runtime.call_limits import CallLimits
from voicechat.talk.runtime.frame_gate import FrameGate
from voicechat.talk.runtime.intake import FrameIntake

FRAME = 0.02  # seconds of audio in one browser frame


def admitted(gate: FrameGate, *, frames: int, speed: float, start: float = 0.0) -> int:
    """How many of ``frames`` 20 ms frames arriving at ``speed`` times real time the gate lets through."""
    return sum(gate.admit(FRAME, start + n * FRAME / speed) for n in range(frames))


def test_frames_at_real_time_all_pass_even_after_a_burst() -> None:
    gate = FrameGate(now=0.0, speed=1.5, burst=1.0)
    assert admitted(gate, frames=3000, speed=1.0) == 3000  # a minute of audio
    assert admitted(gate, frames=50, speed=1000.0, start=60.0) == 50  # a second held up by the network
    assert gate.dropped == 0


def test_frames_at_three_times_real_time_are_held_to_one_and_a_half() -> None:
    gate = FrameGate(now=0.0, speed=1.5, burst=1.0)
    frames = 1500  # 30 s of audio sent in 10 s
    passed = admitted(gate, frames=frames, speed=3.0)
    elapsed = frames * FRAME / 3.0
    assert passed * FRAME <= 1.5 * elapsed + 1.0 + FRAME  # the rate, plus the burst
    assert passed * FRAME >= 1.5 * elapsed  # and no less
    assert gate.dropped == frames - passed > 0


def test_a_clock_that_goes_back_gives_no_allowance() -> None:
    gate = FrameGate(now=100.0, speed=1.5, burst=0.04)
    assert gate.admit(0.04, 100.0)
    assert not gate.admit(0.02, 50.0)


def test_a_call_warns_a_minute_before_its_end_then_ends_once() -> None:
    limits = CallLimits(started=0.0, max_seconds=120.0, warn_before=60.0, renew_every=30.0)
    assert limits.due(10.0) == []
    assert limits.due(30.0) == ["renew"]
    assert limits.due(59.0) == []
    assert limits.due(60.0) == ["warn", "renew"]
    assert limits.due(61.0) == []  # warned once
    assert limits.due(120.0) == ["end"]
    assert limits.due(500.0) == []  # ended once


def test_only_a_call_billed_by_time_checks_the_budget_every_minute() -> None:
    by_turn = CallLimits(started=0.0, max_seconds=3600.0, renew_every=1000.0)
    assert "budget" not in by_turn.due(61.0) + by_turn.due(121.0)
    by_time = CallLimits(started=0.0, max_seconds=3600.0, renew_every=1000.0, budget_every=60.0)
    assert by_time.due(59.0) == []
    assert by_time.due(60.0) == ["budget"]
    assert by_time.due(100.0) == []
    assert by_time.due(120.0) == ["budget"]


class BlockedCall:
    """A call as the audio loop sees it."""

    def __init__(self) -> None:
        self.intake = FrameIntake()
        self.heard: list[bytes] = []

    def take(self, pcm: bytes, arrived: float) -> bytes:
        return pcm

    def vad_windows(self, pcm: bytes) -> None:
        return None

    def hear(self, pcm: bytes, arrived: float) -> None:
        self.heard.append(pcm)


def test_each_calls_inbox_is_bounded_while_the_loop_is_behind() -> None:
    loop = AudioLoop(name="test-inbox", call_inbox=10)
    busy, release = threading.Event(), threading.Event()

    def hold_the_loop() -> None:
        busy.set()
        release.wait(10)

    try:
        loop.thread.call(hold_the_loop)
        assert busy.wait(5)  # the loop is stuck: nothing drains meanwhile
        flooding, quiet = BlockedCall(), BlockedCall()
        frames = [bytes([n]) * 640 for n in range(25)]
        accepted = [loop.deliver(flooding, frame, 0.0) for frame in frames]
        assert accepted == [True] * 10 + [False] * 15
        assert loop.deliver(quiet, frames[0], 0.0)  # another call's room is its own
        release.set()
        done = threading.Event()
        loop.thread.call(done.set)  # posted after the drain of those frames
        assert done.wait(5)
        assert flooding.heard == frames[:10] and quiet.heard == frames[:1]
        assert loop.deliver(flooding, frames[0], 0.0)  # drained: room again
    finally:
        release.set()
        loop.thread.stop()
