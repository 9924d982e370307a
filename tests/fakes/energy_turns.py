"""A provider's turn detection, faked: an energy gate over the audio a client streams.

Time is the audio's own (sample counts), so a test that streams faster than real time sees the same turns.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

LOUD_DBFS = -40.0
ONSET_WINDOWS = 2  # 40 ms of sound starts speech (a click does not)


@dataclass(frozen=True)
class TurnMark:
    """Speech started or stopped at ``ms`` of the stream."""

    type: Literal["started", "stopped"]
    ms: int


class EnergyTurns:
    """Feed 16-bit mono PCM; get marks. ``silence_ms`` of quiet after speech ends the turn."""

    def __init__(self, *, sample_rate: int, silence_ms: int = 500) -> None:
        self.sample_rate, self.silence_ms = sample_rate, silence_ms
        self._window = sample_rate // 50
        self._pending = np.zeros(0, dtype=np.int16)
        self._windows = 0
        self._loud_run = 0
        self._quiet_run = 0
        self.speaking = False

    @property
    def now_ms(self) -> int:
        """How much audio has been fed, in ms."""
        return self._windows * 20

    def feed(self, pcm: bytes) -> list[TurnMark]:
        """Marks decided by this chunk."""
        marks: list[TurnMark] = []
        self._pending = np.concatenate([self._pending, np.frombuffer(pcm, dtype="<i2")])
        while len(self._pending) >= self._window:
            window, self._pending = self._pending[: self._window], self._pending[self._window :]
            self._windows += 1
            rms = float(np.sqrt(np.mean(np.square(window.astype(np.float64))))) / 32768
            loud = rms > 0 and 20 * np.log10(rms) > LOUD_DBFS
            self._loud_run = self._loud_run + 1 if loud else 0
            self._quiet_run = 0 if loud else self._quiet_run + 1
            if not self.speaking and self._loud_run >= ONSET_WINDOWS:
                self.speaking = True
                marks.append(TurnMark("started", self.now_ms - ONSET_WINDOWS * 20))
            elif self.speaking and self._quiet_run * 20 >= self.silence_ms:
                self.speaking = False
                marks.append(TurnMark("stopped", self.now_ms))
        return marks
