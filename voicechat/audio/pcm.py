"""Small audio helpers shared by the providers and the pages."""

from __future__ import annotations

import io
import wave

import numpy as np


def pcm_to_wav(pcm: bytes, *, sample_rate: int, channels: int = 1) -> bytes:
    """Wrap 16-bit little-endian PCM in a WAV container (what browsers play directly)."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as wav:
        wav.setnchannels(channels)
        wav.setsampwidth(2)
        wav.setframerate(sample_rate)
        wav.writeframes(pcm)
    return buffer.getvalue()


def resample(pcm: bytes, *, from_rate: int, to_rate: int) -> bytes:
    """16-bit mono PCM at another rate, by linear interpolation (enough for speech between 16 and 24 kHz)."""
    if from_rate == to_rate or not pcm:
        return pcm
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float32)
    count = round(len(samples) * to_rate / from_rate)
    positions = np.arange(count, dtype=np.float64) * (from_rate / to_rate)
    return np.interp(positions, np.arange(len(samples)), samples).round().astype("<i2").tobytes()
