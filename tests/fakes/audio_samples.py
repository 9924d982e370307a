"""Audio fixtures made in the tests (nothing is downloaded): espeak-ng speech, tones, silence, and the same
sound in every container we accept, plus the broken files the validators must refuse."""

from __future__ import annotations

import io
import math
import shutil
import struct
import subprocess
import tempfile
import wave
from pathlib import Path

import av

ESPEAK = shutil.which("espeak-ng")


class SpeechSynthesisUnavailable(RuntimeError):
    """espeak-ng is not installed (``make test`` installs it with apt-get)."""


def spoken_wav(text: str, *, pad_seconds: float = 0.0) -> bytes:
    """``text`` spoken by espeak-ng, as WAV (22,050 Hz mono), optionally followed by silence."""
    if ESPEAK is None:
        raise SpeechSynthesisUnavailable("espeak-ng is not installed")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "speech.wav"
        subprocess.run([ESPEAK, "-w", str(path), text], check=True, capture_output=True, timeout=30)
        with wave.open(str(path)) as source:
            rate, pcm = source.getframerate(), source.readframes(source.getnframes())
    return wav_bytes(pcm + b"\0\0" * int(rate * pad_seconds), sample_rate=rate)


def tone_pcm(
    seconds: float, *, sample_rate: int = 16_000, frequency: float = 440.0, amplitude: float = 0.3
) -> bytes:
    """A sine tone as 16-bit mono PCM."""
    count = int(seconds * sample_rate)
    scale = 32767 * amplitude
    return b"".join(
        struct.pack("<h", int(scale * math.sin(2 * math.pi * frequency * i / sample_rate)))
        for i in range(count)
    )


def silence_pcm(seconds: float, *, sample_rate: int = 16_000) -> bytes:
    """Digital silence as 16-bit mono PCM."""
    return b"\0\0" * int(seconds * sample_rate)


def wav_bytes(pcm: bytes, *, sample_rate: int = 16_000) -> bytes:
    """16-bit mono PCM in a WAV container."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(sample_rate)
        out.writeframes(pcm)
    return buffer.getvalue()


_ENCODERS = {
    "ogg": ("ogg", "libopus", 48_000),
    "webm": ("webm", "libopus", 48_000),
    "mp3": ("mp3", "libmp3lame", 22_050),
}


def transcode(wav: bytes, container: str) -> bytes:
    """The WAV's sound in ``container`` (ogg or webm with Opus, or mp3)."""
    fmt, codec, rate = _ENCODERS[container]
    out = io.BytesIO()
    with av.open(out, "w", format=fmt) as target, av.open(io.BytesIO(wav)) as source:
        stream = target.add_stream(codec, rate=rate)
        stream.layout = "mono"
        resampler = av.AudioResampler(format=stream.format.name, layout="mono", rate=rate)
        frames = [
            *(f for frame in source.decode(audio=0) for f in resampler.resample(frame)),
            *resampler.resample(None),
        ]
        for frame in [*frames, None]:
            for packet in stream.encode(frame):
                target.mux(packet)
    return out.getvalue()


def flac_silence_bomb(seconds: float, *, sample_rate: int = 8_000) -> bytes:
    """A decompression bomb: a small FLAC file that decodes to ``seconds`` of silence."""
    out = io.BytesIO()
    with av.open(out, "w", format="flac") as target:
        stream = target.add_stream("flac", rate=sample_rate)
        stream.layout = "mono"
        block = sample_rate * 10
        for _ in range(int(seconds // 10)):
            frame = av.AudioFrame(format="s16", layout="mono", samples=block)
            frame.sample_rate = sample_rate
            frame.planes[0].update(b"\0\0" * block)
            for packet in stream.encode(frame):
                target.mux(packet)
        for packet in stream.encode(None):
            target.mux(packet)
    return out.getvalue()


def unsized_wav(pcm: bytes, *, sample_rate: int = 16_000) -> bytes:
    """A WAV as a streaming recorder writes it: sizes unknown (0xFFFFFFFF)."""
    data = wav_bytes(pcm, sample_rate=sample_rate)
    return data[:4] + b"\xff\xff\xff\xff" + data[8:40] + b"\xff\xff\xff\xff" + data[44:]
