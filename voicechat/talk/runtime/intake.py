"""Browser audio frames to the calls' 16 kHz mono PCM, many calls at once, without letting go of the GIL.

Browsers send 20 ms frames at 48 kHz (s16, stereo or mono; see FINDINGS). Every call's frames of a drain are
downmixed and decimated by three together: one low-pass filter (a 48-tap windowed sinc cut at 7.2 kHz) as one
matrix product, each call keeping the input its filter has not consumed yet. PyAV's resampler did the same
work a little faster per frame, but it releases the GIL in every call, and on a busy process taking it back
cost the audio loop up to a switch interval per frame. Anything else (other rates or sample formats, 16 kHz
PCM from tests and benchmarks) goes through the call's own PyAV resampler or straight through.
"""

from __future__ import annotations

import av
import numpy as np
import numpy.typing as npt
from numpy.lib.stride_tricks import sliding_window_view

from voicechat.voices import TALK_RATE

BROWSER_RATE = 48_000
FACTOR = BROWSER_RATE // TALK_RATE
TAPS = 48


def _low_pass() -> npt.NDArray[np.float32]:
    """A windowed-sinc FIR at 0.9 of the 16 kHz Nyquist frequency, unity gain at DC."""
    cutoff = 0.9 / FACTOR  # as a fraction of the 48 kHz Nyquist frequency
    n = np.arange(TAPS) - (TAPS - 1) / 2
    taps = np.sinc(cutoff * n) * np.hamming(TAPS)
    normalised: npt.NDArray[np.float32] = (taps / taps.sum()).astype(np.float32)
    return normalised


_FILTER = _low_pass()


class FrameIntake:
    """One call's conversion state: the input its filter has not consumed yet, and a resampler for frames of
    any other kind."""

    def __init__(self) -> None:
        self.pending = np.zeros(TAPS - 1, dtype=np.float32)
        self._resampler: av.AudioResampler | None = None

    def resample(self, frame: av.AudioFrame) -> bytes:
        """Any frame through PyAV."""
        if self._resampler is None:
            self._resampler = av.AudioResampler(format="s16", layout="mono", rate=TALK_RATE)
        return b"".join(bytes(out.planes[0])[: out.samples * 2] for out in self._resampler.resample(frame))


def _browser_mono(frame: av.AudioFrame) -> npt.NDArray[np.float32] | None:
    """A 48 kHz packed s16 frame as mono floats; None for any other frame."""
    channels = len(frame.layout.channels)
    if frame.sample_rate != BROWSER_RATE or frame.format.name != "s16" or channels > 2:
        return None
    samples = np.frombuffer(memoryview(frame.planes[0]), dtype="<i2")[: frame.samples * channels]
    floats: npt.NDArray[np.float32] = samples.astype(np.float32)
    if channels == 2:  # the two channels' sum halved: a sixth of the time ``mean(axis=1)`` takes
        pairs = floats.reshape(-1, 2)
        floats = (pairs[:, 0] + pairs[:, 1]) * np.float32(0.5)
    return floats


Row = tuple[int, FrameIntake, npt.NDArray[np.float32]]


def to_talk_rate(frames: list[tuple[FrameIntake, object]]) -> list[bytes]:
    """Each (call's intake, frame or 16 kHz PCM bytes) as 16 kHz mono 16-bit PCM, in order. Browser frames
    are filtered in rounds (every call's first frame here, then any second ones...), each round in batches of
    one length: one matrix product for every call's 20 ms."""
    out: list[bytes] = [b""] * len(frames)
    rounds: list[list[Row]] = []
    taken: dict[int, int] = {}
    for index, (intake, item) in enumerate(frames):
        if isinstance(item, bytes):
            out[index] = item
            continue
        assert isinstance(item, av.AudioFrame)
        mono = _browser_mono(item)
        if mono is None:
            out[index] = intake.resample(item)
            continue
        round_ = taken.get(id(intake), 0)
        taken[id(intake)] = round_ + 1
        if round_ == len(rounds):
            rounds.append([])
        rounds[round_].append((index, intake, mono))
    for rows in rounds:  # a round's input follows what the round before it left unconsumed
        lengths: dict[int, list[Row]] = {}
        for index, intake, mono in rows:
            signal = np.concatenate([intake.pending, mono])
            lengths.setdefault(len(signal), []).append((index, intake, signal))
        for group in lengths.values():
            for index, pcm in _decimate(group):
                out[index] = pcm
    return out


def _decimate(rows: list[Row]) -> list[tuple[int, bytes]]:
    """Signals of one length (each call's unconsumed input, then its frame), filtered and decimated."""
    signal = np.stack([row[2] for row in rows])
    outputs = max(0, (signal.shape[1] - TAPS) // FACTOR + 1)
    windows = sliding_window_view(signal, TAPS, axis=1)[:, : outputs * FACTOR : FACTOR, :]
    pcm = np.clip(np.rint(windows @ _FILTER), -32768, 32767).astype("<i2")
    for (_, intake, _), rest in zip(rows, signal[:, outputs * FACTOR :], strict=True):
        intake.pending = rest.copy()
    return [(index, pcm[row].tobytes()) for row, (index, _, _) in enumerate(rows)]
