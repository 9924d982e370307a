"""Decoding and validating recorded audio (push-to-talk uploads) with ``av``.

The container is recognised from the bytes, never from a file name. Size is checked before anything is parsed,
the declared duration before anything is decoded, and the decoded duration while decoding, so a tiny file that
declares (or expands to) hours of audio is refused after at most ``max_seconds`` of work.
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass
from typing import Literal

import av
import numpy as np

from voicechat import defaults
from voicechat.errors import InvalidInput
from voicechat.voices import RECOGNITION_RATE

Container = Literal["wav", "ogg", "mp3", "webm", "flac", "mp4"]
RejectReason = Literal["empty", "too_large", "unsupported", "corrupt", "truncated", "too_long", "silent"]

# libav demuxer names for each container we accept.
_DEMUXERS: dict[Container, str] = {
    "wav": "wav",
    "ogg": "ogg",
    "mp3": "mp3",
    "webm": "matroska",
    "flac": "flac",
    "mp4": "mp4",
}
_TRUNCATION_TOLERANCE = 0.9  # decoded below 90% of the declared duration (minus 0.25 s): cut off


class AudioRejected(InvalidInput):
    """A recording that cannot be used; ``reason`` says why, the message says it to the user."""

    def __init__(self, reason: RejectReason, user_message: str) -> None:
        super().__init__(user_message)
        self.reason = reason


@dataclass(frozen=True)
class DecodedAudio:
    """A recording as 16-bit little-endian mono PCM at ``sample_rate``."""

    pcm: bytes
    sample_rate: int
    container: Container

    @property
    def seconds(self) -> float:
        """Duration in seconds."""
        return len(self.pcm) / 2 / self.sample_rate


def sniff_container(data: bytes) -> Container | None:
    """The container the bytes are in, from their magic numbers (None: not audio we accept)."""
    head = data[:16]
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "wav"
    by_prefix: dict[bytes, Container] = {b"OggS": "ogg", b"\x1a\x45\xdf\xa3": "webm", b"fLaC": "flac"}
    if head[:4] in by_prefix:
        return by_prefix[head[:4]]
    if head[4:8] == b"ftyp":
        return "mp4"
    if head[:3] == b"ID3" or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0):
        return "mp3"
    return None


def decode_upload(
    data: bytes,
    *,
    max_seconds: float = defaults.DEFAULT_MAX_AUDIO_SECONDS,
    max_bytes: int = defaults.MAX_AUDIO_UPLOAD_BYTES,
    sample_rate: int = RECOGNITION_RATE,
) -> DecodedAudio:
    """Validate a recording and return it as mono PCM at ``sample_rate``; raises AudioRejected.

    Silence is not checked here (see ``is_silent``): a silent recording is valid audio.
    """
    if not data:
        raise AudioRejected("empty", "The recording is empty. Please record again.")
    if len(data) > max_bytes:
        raise AudioRejected(
            "too_large",
            f"The recording is too large ({len(data) / 1_048_576:.1f} MB); the limit is "
            f"{max_bytes / 1_048_576:.0f} MB.",
        )
    container = sniff_container(data)
    if container is None:
        raise AudioRejected(
            "unsupported", "That file is not a recording I can read. Use WAV, MP3, OGG, WebM, FLAC or M4A."
        )
    if container == "wav" and _wav_is_truncated(data):
        raise AudioRejected("truncated", "The recording seems cut off. Please record again.")
    try:
        pcm, declared = _decode(data, container, max_seconds=max_seconds, sample_rate=sample_rate)
    except (av.error.FFmpegError, ValueError, IndexError, EOFError):
        raise AudioRejected(
            "corrupt", "The recording is damaged and can't be played. Please record again."
        ) from None
    decoded = DecodedAudio(pcm=pcm, sample_rate=sample_rate, container=container)
    if decoded.seconds == 0:
        raise AudioRejected("corrupt", "The recording is damaged and can't be played. Please record again.")
    if declared is not None and decoded.seconds < declared * _TRUNCATION_TOLERANCE - 0.25:
        raise AudioRejected("truncated", "The recording seems cut off. Please record again.")
    return decoded


def _too_long(max_seconds: float) -> AudioRejected:
    minutes = max_seconds / 60
    limit = f"{minutes:g} minutes" if minutes >= 1 else f"{max_seconds:g} seconds"
    return AudioRejected("too_long", f"The recording is too long; the limit is {limit}.")


def _check_format(rate: int | None, channels: int | None) -> None:
    """Refuse sample rates outside 8-192 kHz and more than 8 channels before anything is decoded."""
    if not rate or not defaults.MIN_AUDIO_SAMPLE_RATE <= rate <= defaults.MAX_AUDIO_SAMPLE_RATE:
        raise AudioRejected(
            "unsupported",
            "That recording's sample rate is not one a microphone records at "
            f"({defaults.MIN_AUDIO_SAMPLE_RATE // 1000}-{defaults.MAX_AUDIO_SAMPLE_RATE // 1000} kHz).",
        )
    if channels is not None and not 0 < channels <= defaults.MAX_AUDIO_CHANNELS:
        raise AudioRejected(
            "unsupported", f"That recording has too many channels (at most {defaults.MAX_AUDIO_CHANNELS})."
        )


def _decode(
    data: bytes, container: Container, *, max_seconds: float, sample_rate: int
) -> tuple[bytes, float | None]:
    """PCM of the first audio stream, and the duration the container declares (None if it does not)."""
    with av.open(io.BytesIO(data), mode="r", format=_DEMUXERS[container]) as source:
        if not source.streams.audio:
            raise ValueError("no audio stream")
        stream = source.streams.audio[0]
        _check_format(stream.codec_context.sample_rate, stream.codec_context.channels)
        declared = source.duration / av.time_base if source.duration else None
        if declared is not None and declared > max_seconds + 0.05:
            raise _too_long(max_seconds)
        resampler = av.AudioResampler(format="s16", layout="mono", rate=sample_rate)
        limit = int((max_seconds + 0.05) * sample_rate)
        chunks: list[bytes] = []
        samples = 0
        for frame in source.decode(stream):
            # Checked before resampling: one frame at a tiny declared rate would expand to gigabytes.
            _check_format(frame.sample_rate, len(frame.layout.channels))
            if samples + frame.samples * sample_rate / frame.sample_rate > limit:
                raise _too_long(max_seconds)
            for out in resampler.resample(frame):
                chunks.append(bytes(out.planes[0])[: out.samples * 2])
                samples += out.samples
            if samples > limit:
                raise _too_long(max_seconds)
        for out in resampler.resample(None):
            chunks.append(bytes(out.planes[0])[: out.samples * 2])
            samples += out.samples
        if samples > limit:
            raise _too_long(max_seconds)
    # A container with a header but no frames, or an estimate from the file size (ogg), is not a declaration
    # we can hold it to; the wav header is checked separately.
    return b"".join(chunks), declared if container in ("mp3", "webm", "mp4", "flac") else None


def _wav_is_truncated(data: bytes) -> bool:
    """Whether a WAV's header promises more bytes than the file has (recorders write the real size)."""
    declared = struct.unpack("<I", data[4:8])[0] + 8 if len(data) >= 8 else 0
    streaming_placeholders = (0xFFFFFFFF + 8, 0x7FFFFFFF + 8, 8)  # size unknown when the header was written
    return declared not in streaming_placeholders and declared > len(data) + 1


def loudest_dbfs(pcm: bytes, sample_rate: int, *, window_ms: int = 30) -> float:
    """The level of the loudest ``window_ms`` window in dBFS (-inf for digital silence)."""
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float64) / 32768.0
    window = max(1, sample_rate * window_ms // 1000)
    usable = len(samples) - len(samples) % window
    if usable == 0:
        usable, window = len(samples), max(1, len(samples))
    if usable == 0:
        return float("-inf")
    rms = np.sqrt(np.mean(samples[:usable].reshape(-1, window) ** 2, axis=1))
    peak = float(rms.max())
    return 20 * float(np.log10(peak)) if peak > 0 else float("-inf")


def is_silent(audio: DecodedAudio, *, threshold_dbfs: float = defaults.SILENCE_DBFS) -> bool:
    """True when nothing in the recording is louder than ``threshold_dbfs`` (nobody said anything)."""
    return loudest_dbfs(audio.pcm, audio.sample_rate) < threshold_dbfs
