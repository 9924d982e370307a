"""The process's audio loop: every call of the process on one event loop, their audio handled in batches.

Audio callbacks (aiortc's thread, tests, benchmarks) only append a frame to the inbox; the first frame after a
drain posts one drain to the loop. The inbox holds at most ``CALL_INBOX_FRAMES`` of each call (a stalled loop
or a flood cannot grow it without end): a call's frames beyond that are dropped. A drain takes everything that
arrived meanwhile, from every call: all the frames are resampled together (``intake``) and taped, the windows
every call's voice detector will score are scored in one Silero inference per round (``score_batch``), then
each call's engine hears its audio. An idle machine drains each frame at once; a busy one drains many calls'
frames with one wake-up and a few inferences, instead of one thread, one wake-up and one inference per call
per window. Blocking provider calls run on the loop's executor, sized for every call's streams at once;
storage writes on a few threads shared by every call's ``Lane``.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import sys
import threading
import traceback
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

import numpy as np
import numpy.typing as npt
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

from voicechat import defaults
from voicechat.audio.vad import SileroVAD, score_batch
from voicechat.talk.runtime.intake import FrameIntake, to_talk_rate
from voicechat.talk.runtime.lanes import Lane
from voicechat.talk.runtime.loop_thread import LoopThread

log = logging.getLogger(__name__)
# A call holds up to ~4 blocking streams (STT, chat, draft, speech); the threads start only when needed.
EXECUTOR_THREADS = 256
# Storage writes of every call (each call's in order, on its ``Lane``): database round trips and clip
# encoding, which mostly wait or release the GIL; a few threads keep up with dozens of calls.
STORE_THREADS = 6
BACKGROUND_NICENESS = 10
SWITCH_INTERVAL = 0.001


class Listening(Protocol):
    """A call as the audio loop sees it (``TalkSession``)."""

    intake: FrameIntake  # its frames' conversion state

    def take(self, pcm: bytes, arrived: float) -> bytes | None:
        """Tape a frame's 16 kHz audio; what the call hears of it (silence while muted), None once the call
        no longer listens."""
        ...

    def vad_windows(self, pcm: bytes) -> tuple[SileroVAD, npt.NDArray[np.float32]] | None:
        """The windows of ``pcm`` its voice detector will score, to be scored in the batch."""
        ...

    def hear(self, pcm: bytes, arrived: float) -> None:
        """Give the engine a frame's audio (its windows' scores are ready)."""
        ...


class AudioLoop:
    """One event loop thread for every call of the process, and the inbox their audio comes through."""

    def __init__(self, *, name: str = "talk-audio", call_inbox: int = defaults.CALL_INBOX_FRAMES) -> None:
        """``call_inbox``: how many frames of one call may wait for a drain."""
        # OpenBLAS keeps a worker thread spinning after each matrix product (the turn model's features): it
        # took 40% of a core from the calls. One thread is faster for these small products anyway.
        threadpool_limits(limits=1, user_api="blas")
        # A thread waiting for the GIL gets it after this interval at most: 1 ms, not 5, for the audio.
        sys.setswitchinterval(min(sys.getswitchinterval(), SWITCH_INTERVAL))
        settle_collector()
        self.thread = LoopThread(name=name)
        self.thread.loop.set_default_executor(
            ThreadPoolExecutor(
                max_workers=EXECUTOR_THREADS, thread_name_prefix="talk-io", initializer=yield_to_audio
            )
        )
        self._store_pool = ThreadPoolExecutor(
            max_workers=STORE_THREADS, thread_name_prefix="talk-store", initializer=yield_to_audio
        )
        self._lock = threading.Lock()
        self._inbox: list[tuple[Listening, object, float]] = []
        self._waiting: dict[int, int] = {}  # frames in the inbox, by id of their call
        self._call_inbox = call_inbox
        self._posted = False

    def lane(self) -> Lane:
        """A new call's storage lane: its writes in order, on the threads the process's calls share."""
        return Lane(self._store_pool)

    def deliver(self, call: Listening, item: object, arrived: float) -> bool:
        """Queue a frame (any thread); it is handled in the next drain, after every frame before it. False:
        the call already has ``call_inbox`` frames waiting, and this one is dropped."""
        with self._lock:
            waiting = self._waiting.get(id(call), 0)
            if waiting >= self._call_inbox:
                return False
            self._waiting[id(call)] = waiting + 1
            self._inbox.append((call, item, arrived))
            post, self._posted = not self._posted, True
        if post:
            self.thread.call(self._drain)
        return True

    def _drain(self) -> None:
        with self._lock:
            items, self._inbox, self._posted = self._inbox, [], False
            self._waiting.clear()
        converted = _converted([(call.intake, item) for call, item, _ in items])
        frames: list[tuple[Listening, bytes, float]] = []
        for (call, _, arrived), pcm in zip(items, converted, strict=True):
            heard = call.take(pcm, arrived) if pcm else None
            if heard is not None:
                frames.append((call, heard, arrived))
        audio: dict[Listening, list[bytes]] = {}
        for call, pcm, _ in frames:
            audio.setdefault(call, []).append(pcm)
        try:
            score_batch([r for call, pieces in audio.items() if (r := call.vad_windows(b"".join(pieces)))])
        except Exception as exc:  # the detectors then score their windows one by one
            log.warning("batched speech scoring failed: %s", type(exc).__name__)
        for call, pcm, arrived in frames:  # frame by frame, as they came: turns start and end between frames
            try:
                call.hear(pcm, arrived)
            except Exception as exc:  # one call's failure must not take the other calls' audio with it
                # Where it failed, not the exception's message: that could quote what the user said.
                trace = "".join(traceback.format_tb(exc.__traceback__))
                log.error("a call could not hear a frame: %s\n%s", type(exc).__name__, trace)


def _converted(frames: list[tuple[FrameIntake, object]]) -> list[bytes]:
    """``to_talk_rate``, and if one odd frame breaks the batch, each frame alone (that one as silence)."""
    try:
        return to_talk_rate(frames)
    except Exception:
        converted = []
        for frame in frames:
            try:
                converted += to_talk_rate([frame])
            except Exception as exc:
                log.warning("an audio frame could not be converted: %s", type(exc).__name__)
                converted.append(b"")
        return converted


def settle_collector() -> None:
    """Collect once, then move every object the process holds so far out of the cyclic collector's sight
    (``gc.freeze``): by the first call, modules, models and the app's caches are loaded and live as long as
    the process. Python's automatic full collection walks every tracked object holding the GIL: with 10
    calls on a slow 2-core machine, ~160,000 objects in 180-210 ms, stalling every call's audio; after
    this, ~15,000 in ~40 ms. Objects made later are still collected (only cycles among frozen ones never
    would be). ``scripts/serve.py`` also calls it after its warm-up, so the first call's collection is
    short."""
    gc.collect()
    gc.freeze()


def yield_to_audio() -> None:
    """Lower the calling thread's CPU priority (any user may): the provider streams, the turn model and the
    storage writes give way to the audio loop when the cores are busy, so frames keep being heard on time."""
    with contextlib.suppress(OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), BACKGROUND_NICENESS)


_shared: list[AudioLoop] = []
_shared_lock = threading.Lock()


def shared_audio_loop() -> AudioLoop:
    """The process's audio loop, started on first use (and again if its thread ever died)."""
    with _shared_lock:
        if not _shared or not _shared[0].thread.alive:
            _shared[:] = [AudioLoop()]
        return _shared[0]
