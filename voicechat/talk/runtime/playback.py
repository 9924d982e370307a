"""What the user actually heard: a playhead over the audio pushed to the browser.

The WebRTC source track plays pushed PCM at real-time rate from the moment it is pushed (or from when the
audio before it ends), so the playhead is computed from a clock. ``clear()`` (barge-in) drops the rest at
once and fixes how many samples were heard; ``drained()`` is awaited until everything pushed has played.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol


class AudioOutput(Protocol):
    """Where reply audio goes: 16-bit mono PCM at the output's rate (like streamlit-webrtc's ``push``)."""

    def push(self, pcm: bytes) -> None: ...

    def clear(self) -> None: ...


@dataclass
class _Segment:
    starts_at: float
    samples: int


class PlaybackMeter:
    """Wraps an ``AudioOutput``: pushes through, and knows how much has been played. Thread-safe."""

    def __init__(
        self,
        output: AudioOutput,
        *,
        sample_rate: int,
        clock: Callable[[], float] = time.monotonic,
        clock_speed: float = 1.0,
    ) -> None:
        """``clock_speed``: clock seconds per real second (tests run the clock faster than time)."""
        self._output = output
        self.sample_rate = sample_rate
        self._clock = clock
        self._clock_speed = clock_speed
        self._lock = threading.Lock()
        self._segments: list[_Segment] = []
        self._ends_at = 0.0
        self._cleared_at: float | None = None

    def begin(self) -> None:
        """Start counting a new reply from zero."""
        with self._lock:
            self._segments, self._cleared_at = [], None

    def push(self, pcm: bytes) -> float:
        """Queue audio for playback; returns the clock time it was pushed."""
        now = self._clock()
        with self._lock:
            samples = len(pcm) // 2
            starts_at = max(now, self._ends_at)
            self._segments.append(_Segment(starts_at, samples))
            self._ends_at = starts_at + samples / self.sample_rate
            self._output.push(pcm)
        return now

    def clear(self) -> float:
        """Drop everything not yet played (barge-in); returns the clock time it was cleared."""
        now = self._clock()
        with self._lock:
            self._output.clear()
            self._cleared_at = now
            self._ends_at = now
        return now

    def played_samples(self) -> int:
        """Samples of this reply heard so far (up to the clear, if there was one)."""
        with self._lock:
            until = self._cleared_at if self._cleared_at is not None else self._clock()
            return sum(
                max(0, min(s.samples, int((until - s.starts_at) * self.sample_rate))) for s in self._segments
            )

    def pushed_samples(self) -> int:
        """Samples of this reply pushed so far."""
        with self._lock:
            return sum(s.samples for s in self._segments)

    def seconds_left(self) -> float:
        """How long until everything pushed has been played (0 when idle or cleared)."""
        with self._lock:
            return max(0.0, self._ends_at - self._clock())

    async def drained(self) -> None:
        """Return once everything pushed so far, and anything pushed meanwhile, has played or was cleared."""
        while (left := self.seconds_left()) > 0:
            await asyncio.sleep(left / self._clock_speed)  # exactly until the end of the audio pushed so far
