"""The audio loop's intake: browser frames of many calls to 16 kHz mono together, each call its own filter."""

from __future__ import annotations

import av
import numpy as np

from voicechat.talk.runtime.intake import FrameIntake, to_talk_rate

FRAME = 960  # 20 ms at 48 kHz


def tone(hz: float, seconds: float, *, rate: int = 48_000, amplitude: float = 8000) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (amplitude * np.sin(2 * np.pi * hz * t)).astype(np.int16)


def stereo_frames(samples: np.ndarray) -> list[av.AudioFrame]:
    frames = []
    for start in range(0, len(samples) - FRAME + 1, FRAME):
        frame = av.AudioFrame.from_ndarray(
            np.repeat(samples[start : start + FRAME], 2).reshape(1, -1), "s16", "stereo"
        )
        frame.sample_rate = 48_000
        frames.append(frame)
    return frames


def level(pcm: bytes) -> float:
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
    return float(np.sqrt(np.mean(samples[200:] ** 2)))  # past the filter's start-up


def test_speech_band_passes_and_what_16_khz_cannot_hold_is_filtered_out() -> None:
    speech_band = b"".join(to_talk_rate([(FrameIntake(), f)])[0] for f in stereo_frames(tone(1000, 0.4)))
    assert len(speech_band) == 0.4 * 16_000 * 2  # 320 samples per 20 ms frame, none lost at the joins
    assert abs(level(speech_band) - 8000 / np.sqrt(2)) < 150
    intake = FrameIntake()
    aliased = b"".join(to_talk_rate([(intake, f)])[0] for f in stereo_frames(tone(12_000, 0.4)))
    assert level(aliased) < 0.03 * 8000


def test_calls_converted_together_are_each_converted_as_if_alone() -> None:
    first, second = stereo_frames(tone(440, 0.2)), stereo_frames(tone(3000, 0.2))
    alone = [b"".join(to_talk_rate([(intake, f)])[0] for f in frames) for intake, frames in
             ((FrameIntake(), first), (FrameIntake(), second))]  # fmt: skip
    a, b = FrameIntake(), FrameIntake()
    together: list[list[bytes]] = [[], []]
    for pair_start in range(0, len(first), 2):  # a drain holds two frames of each call, interleaved
        items = [(a, first[pair_start]), (b, second[pair_start]), (a, first[pair_start + 1]),
                 (b, second[pair_start + 1])]  # fmt: skip
        out = to_talk_rate(items)  # type: ignore[arg-type]
        together[0] += [out[0], out[2]]
        together[1] += [out[1], out[3]]
    for pieces, expected in zip(together, alone, strict=True):
        got, want = (np.frombuffer(p, dtype="<i2").astype(int) for p in (b"".join(pieces), expected))
        assert len(got) == len(want) and np.abs(got - want).max() <= 1  # the same, but for float rounding


def test_pcm_passes_through_and_other_frames_are_resampled() -> None:
    pcm = tone(500, 0.02, rate=16_000).tobytes()
    mono_44k = av.AudioFrame.from_ndarray(tone(500, 0.1, rate=44_100).reshape(1, -1), "s16", "mono")
    mono_44k.sample_rate = 44_100
    intake = FrameIntake()
    out = to_talk_rate([(intake, pcm), (intake, mono_44k)])
    assert out[0] == pcm
    assert 0 < len(out[1]) // 2 <= 1600
