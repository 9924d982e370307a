"""A call's audio may not arrive faster than it can be spoken: a browser (or anything posing as one) that
sends frames faster than ``MAX_AUDIO_SPEED`` times real time has the excess dropped before it is queued.

A token bucket in seconds of audio: it fills at ``speed`` audio seconds per clock second up to ``burst``
(audio held up by the network arrives in bursts), and each frame takes its own length. Dropped frames are
counted; what they held is never looked at.
"""

from __future__ import annotations

import threading

from voicechat import defaults


class FrameGate:
    """Admits frames up to ``speed`` times real time plus ``burst`` seconds ahead. Thread-safe."""

    def __init__(
        self,
        *,
        now: float,
        speed: float = defaults.MAX_AUDIO_SPEED,
        burst: float = defaults.AUDIO_BURST_SECONDS,
    ) -> None:
        """``now``: the call's clock when it starts (the bucket starts full)."""
        self._speed = speed
        self._burst = burst
        self._allowance = burst
        self._last = now
        self._lock = threading.Lock()
        self.dropped = 0  # frames dropped so far

    def admit(self, seconds: float, now: float) -> bool:
        """Whether a frame holding ``seconds`` of audio, arriving at clock time ``now``, is let through."""
        with self._lock:
            elapsed, self._last = max(0.0, now - self._last), max(now, self._last)
            self._allowance = min(self._burst, self._allowance + elapsed * self._speed)
            if seconds <= self._allowance:
                self._allowance -= seconds
                return True
            self.dropped += 1
            return False
