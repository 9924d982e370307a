"""The process's audio loop: frames of many calls in order, and one failing call does not cost the others."""

from __future__ import annotations

import asyncio
import gc
import weakref

from voicechat.talk.runtime.audio_loop import AudioLoop
from voicechat.talk.runtime.intake import FrameIntake


class Call:
    """A call as the loop sees it, recording what it heard (or failing on every frame)."""

    def __init__(self, *, fails: bool = False) -> None:
        self.intake = FrameIntake()
        self.fails = fails
        self.heard: list[bytes] = []

    def take(self, pcm: bytes, arrived: float) -> bytes:
        return pcm

    def vad_windows(self, pcm: bytes) -> None:
        return None

    def hear(self, pcm: bytes, arrived: float) -> None:
        if self.fails:
            raise RuntimeError("this call's engine is broken")
        self.heard.append(pcm)


def test_every_call_hears_its_frames_in_order_even_when_another_call_fails() -> None:
    loop = AudioLoop(name="test-audio")
    try:
        broken, first, second = Call(fails=True), Call(), Call()
        frames = [bytes([n]) * 640 for n in range(20)]
        for frame in frames:
            for call in (broken, first, second):
                loop.deliver(call, frame, 0.0)
        loop.thread.submit(asyncio.sleep(0)).result(timeout=5)  # queued after the drains of those frames
        assert first.heard == frames and second.heard == frames
    finally:
        loop.thread.stop()


def test_starting_the_loop_collects_once_and_freezes_what_the_process_holds() -> None:
    # Python's full collection walks every object it tracks, holding the GIL: frozen, the models and modules
    # loaded before the first call are no longer walked (a full collection with 10 calls: ~200 -> ~40 ms).
    gc.unfreeze()
    held = [[n] for n in range(10_000)]  # lists: objects the collector tracks
    garbage: list[object] = []
    garbage.append(garbage)  # a cycle: only the collector frees it
    collected = weakref.ref(Cycle(garbage))
    del garbage
    loop = AudioLoop(name="test-freeze")
    try:
        assert collected() is None  # collected before the freeze, never kept frozen
        assert gc.get_freeze_count() >= len(held)
    finally:
        loop.thread.stop()
        gc.unfreeze()


class Cycle:
    """An object kept only by a reference cycle."""

    def __init__(self, cycle: list[object]) -> None:
        cycle.append(self)
