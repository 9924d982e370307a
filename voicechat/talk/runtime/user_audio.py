"""The user's side of a hands-free call, kept for a while: what was said, when it arrived, and how loud.

Speech-to-speech engines hear the user on the provider's side, but the conversation still stores each
utterance's audio and measures latencies on our clock. The tape keeps the last minutes of 16 kHz mono PCM,
maps a position in it back to the moment it arrived, and runs a plain energy gate that dates the starts and
ends of speech (for the latencies of engines that do not report them).
"""

from __future__ import annotations

from bisect import bisect_right
from collections import deque
from operator import itemgetter

import numpy as np

from voicechat.voices import TALK_RATE

WINDOW = TALK_RATE // 50  # 20 ms
LOUD_DBFS = -40.0
GATE_WINDOWS = 10  # 200 ms of quiet ends speech; a loud window after as much quiet starts it
DEFAULT_KEEP_SECONDS = 180


def dbfs(window: np.ndarray) -> float:
    """Level of 16-bit samples in dB relative to full scale (-inf for digital silence)."""
    if window.size == 0:
        return float("-inf")
    samples = window.astype(np.float64)
    rms = float(np.sqrt(samples @ samples / samples.size)) / 32768  # a dot product: no temporary squares
    return 20 * float(np.log10(rms)) if rms > 0 else float("-inf")


class UserAudioTape:
    """Recent user audio with arrival times and an energy gate. Used from one thread (the session's loop)."""

    def __init__(self, *, keep_seconds: int = DEFAULT_KEEP_SECONDS) -> None:
        self._keep = keep_seconds * TALK_RATE
        self._pcm = bytearray()
        self._dropped = 0  # samples that fell off the front
        self._arrivals: deque[tuple[int, float]] = deque()  # (first sample of a chunk, clock time it arrived)
        self._pending = np.zeros(0, dtype=np.int16)
        self.level_dbfs = float("-inf")
        self._loud = False
        self._quiet_windows = GATE_WINDOWS
        self.last_onset: float | None = None  # clock time the user last started speaking
        self.last_offset: float | None = None  # clock time the user last stopped

    @property
    def samples(self) -> int:
        """Samples written since the call began."""
        return self._dropped + len(self._pcm) // 2

    def write(self, pcm: bytes, arrived: float) -> None:
        """Add a chunk that arrived at clock time ``arrived``."""
        self._arrivals.append((self.samples, arrived))
        self._pcm += pcm
        overflow = len(self._pcm) // 2 - self._keep
        if overflow > 0:
            del self._pcm[: overflow * 2]
            self._dropped += overflow
            while len(self._arrivals) > 1 and self._arrivals[1][0] <= self._dropped:
                self._arrivals.popleft()
        self._gate(np.frombuffer(pcm, dtype="<i2"), arrived)

    def _gate(self, samples: np.ndarray, arrived: float) -> None:
        self._pending = np.concatenate([self._pending, samples])
        while len(self._pending) >= WINDOW:
            window, self._pending = self._pending[:WINDOW], self._pending[WINDOW:]
            self.level_dbfs = dbfs(window)
            if self.level_dbfs > LOUD_DBFS:
                if not self._loud and self._quiet_windows >= GATE_WINDOWS:
                    self.last_onset = arrived
                self._loud, self._quiet_windows = True, 0
            else:
                self._quiet_windows += 1
                if self._loud and self._quiet_windows == 1:
                    self.last_offset = arrived
                if self._quiet_windows >= GATE_WINDOWS:
                    self._loud = False

    def arrival_of(self, sample: int) -> float | None:
        """When the chunk holding ``sample`` arrived (None if it is no longer kept or not yet written)."""
        if not self._arrivals or sample < self._dropped or sample >= self.samples:
            return None
        index = bisect_right(self._arrivals, sample, key=itemgetter(0)) - 1  # no copy of a call's chunks
        return self._arrivals[max(0, index)][1]

    def between(self, start: int, end: int) -> bytes:
        """The kept PCM from sample ``start`` to ``end`` (clipped to what is kept)."""
        first = max(start, self._dropped) - self._dropped
        last = max(first, min(end, self.samples) - self._dropped)
        return bytes(self._pcm[first * 2 : last * 2])


def ms_to_samples(ms: float) -> int:
    """A position in milliseconds as a sample index at 16 kHz."""
    return int(ms * TALK_RATE / 1000)


def trim_quiet(pcm: bytes, *, pad_ms: int = 200) -> bytes:
    """Drop the quiet (below the gate) before the first and after the last loud window, keeping some pad."""
    samples = np.frombuffer(pcm, dtype="<i2")
    loud = [
        i for i in range(0, len(samples) - WINDOW + 1, WINDOW) if dbfs(samples[i : i + WINDOW]) > LOUD_DBFS
    ]
    if not loud:
        return b""
    pad = ms_to_samples(pad_ms)
    start, end = max(0, loud[0] - pad), min(len(samples), loud[-1] + WINDOW + pad)
    return samples[start:end].tobytes()
