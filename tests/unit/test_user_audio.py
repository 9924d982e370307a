"""The user-audio tape (positions, arrival times, the energy gate), trimming, resampling, and what a cut reply
counts as heard."""

from __future__ import annotations

import numpy as np

from tests.fakes.audio_samples import silence_pcm
from voicechat.audio.pcm import resample
from voicechat.talk.heard import heard
from voicechat.talk.runtime.user_audio import UserAudioTape, ms_to_samples, trim_quiet
from voicechat.voices import TALK_RATE as SAMPLE_RATE


def tone(seconds: float, amplitude: int = 8000) -> bytes:
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    return (amplitude * np.sin(2 * np.pi * 300 * t)).astype("<i2").tobytes()


def test_positions_map_back_to_arrival_times_and_old_audio_falls_off() -> None:
    tape = UserAudioTape(keep_seconds=1)
    for n in range(100):  # 2 s of 20 ms frames, arriving at t = n
        tape.write(silence_pcm(0.02), float(n))
    assert tape.samples == 2 * SAMPLE_RATE
    assert tape.arrival_of(ms_to_samples(1990)) == 99.0
    assert tape.arrival_of(ms_to_samples(1500)) == 75.0  # a chunk's first sample
    assert tape.arrival_of(ms_to_samples(1519)) == 75.0  # and its last
    assert tape.arrival_of(ms_to_samples(1000)) == 50.0  # the oldest chunk kept
    assert tape.arrival_of(ms_to_samples(500)) is None  # no longer kept
    assert tape.arrival_of(tape.samples) is None  # not yet written
    assert len(tape.between(0, tape.samples)) == SAMPLE_RATE * 2  # clipped to the last second


def test_the_energy_gate_dates_the_start_and_end_of_speech() -> None:
    tape = UserAudioTape()
    chunks = [(silence_pcm(0.5), 1.0), (tone(0.3), 2.0), (silence_pcm(0.1), 3.0), (tone(0.2), 4.0)]
    chunks += [(silence_pcm(0.5), 5.0)]
    for pcm, at in chunks:
        tape.write(pcm, at)
    # A 100 ms gap does not end speech; the onset is the first loud chunk, the offset the last quiet run.
    assert (tape.last_onset, tape.last_offset) == (2.0, 5.0)
    assert tape.level_dbfs == float("-inf")


def test_trim_keeps_the_speech_and_a_pad() -> None:
    speech = silence_pcm(1.0) + tone(0.5) + silence_pcm(1.0)
    trimmed = trim_quiet(speech, pad_ms=200)
    assert abs(len(trimmed) / 2 / SAMPLE_RATE - 0.9) < 0.03
    assert trim_quiet(silence_pcm(1.0)) == b""


def test_resampling_keeps_duration_and_pitch() -> None:
    up = resample(tone(1.0), from_rate=16_000, to_rate=24_000)
    samples = np.frombuffer(up, dtype="<i2").astype(float)
    assert len(samples) == 24_000
    spectrum = np.abs(np.fft.rfft(samples))
    assert abs(np.argmax(spectrum) * 24_000 / len(samples) - 300) < 2
    assert resample(b"", from_rate=16_000, to_rate=24_000) == b""


def test_a_cut_reply_counts_the_words_played() -> None:
    text = "one two three four five six seven eight nine ten"
    reply = {"pieces": [], "pushed": 1000}
    assert heard(text, played=500, interrupted=False, **reply) == text  # not interrupted: all of it
    assert heard(text, played=500, interrupted=True, **reply) == "one two three four five"
    assert heard(text, played=0, interrupted=True, **reply) == ""
    corrected = heard(text, played=900, interrupted=True, corrected="one two...", **reply)
    assert corrected == "one two..."  # the provider's own account wins
