"""Recorded audio at the boundary: every accepted container decodes to 16 kHz mono, every bad file is refused
with its own reason and message, and nothing else ever escapes the validator."""

from __future__ import annotations

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.fakes.audio_samples import (
    flac_silence_bomb,
    silence_pcm,
    spoken_wav,
    tone_pcm,
    transcode,
    unsized_wav,
    wav_bytes,
)
from voicechat.audio.decode import AudioRejected, decode_upload, is_silent, sniff_container
from voicechat.audio.encode import encode_for_storage


@pytest.fixture(scope="module")
def question_wav() -> bytes:
    return spoken_wav("What is the capital of France?")


@pytest.mark.parametrize("container", ["wav", "ogg", "mp3", "webm"])
def test_every_container_decodes_to_16khz_mono(question_wav: bytes, container: str) -> None:
    data = question_wav if container == "wav" else transcode(question_wav, container)
    audio = decode_upload(data)
    assert audio.container == container
    assert audio.sample_rate == 16_000
    assert 1.2 < audio.seconds < 3.0
    assert not is_silent(audio)


def test_type_comes_from_content_not_name(question_wav: bytes) -> None:
    assert sniff_container(transcode(question_wav, "mp3")) == "mp3"
    assert sniff_container(b"#!/bin/sh\necho not audio\n") is None


@pytest.mark.parametrize(
    ("make", "reason", "message"),
    [
        (lambda: b"", "empty", "empty"),
        (lambda: os.urandom(4096), "unsupported", "not a recording I can read"),
        (lambda: b"RIFF\x10\x00\x00\x00WAVEfmt " + os.urandom(64), "corrupt", "damaged"),
        (lambda: b"OggS" + os.urandom(4000), "corrupt", "damaged"),
        (lambda: b"\0" * (26 * 1024 * 1024), "too_large", "26.0 MB); the limit is 25 MB"),
        (
            lambda: wav_bytes(tone_pcm(360, sample_rate=8_000), sample_rate=8_000),
            "too_long",
            "limit is 5 minutes",
        ),
        (lambda: unsized_wav(tone_pcm(310, sample_rate=8_000), sample_rate=8_000), "too_long", "5 minutes"),
        (lambda: flac_silence_bomb(2 * 3600), "too_long", "limit is 5 minutes"),
    ],
    ids=[
        "zero-bytes",
        "random-bytes",
        "wav-header-then-noise",
        "ogg-header-then-noise",
        "26MB",
        "6-minutes",
        "unsized-wav-over-limit",
        "decompression-bomb",
    ],
)
def test_bad_recordings_are_refused_with_their_reason(make, reason: str, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(AudioRejected) as refused:
        decode_upload(make())
    assert refused.value.reason == reason
    assert message in refused.value.user_message


@pytest.mark.parametrize("container", ["wav", "webm", "mp3"])
def test_truncated_recordings_are_refused(question_wav: bytes, container: str) -> None:
    data = question_wav if container == "wav" else transcode(question_wav, container)
    with pytest.raises(AudioRejected) as refused:
        decode_upload(data[: len(data) // 2])
    assert refused.value.reason in ("truncated", "corrupt")


def test_duration_limit_is_configurable(question_wav: bytes) -> None:
    with pytest.raises(AudioRejected, match=r"limit is 1\.5 seconds"):
        decode_upload(question_wav, max_seconds=1.5)


def test_silence_and_near_silence_are_detected() -> None:
    assert is_silent(decode_upload(wav_bytes(silence_pcm(2))))
    assert is_silent(decode_upload(wav_bytes(tone_pcm(2, amplitude=0.001))))  # -60 dBFS hum
    assert not is_silent(decode_upload(wav_bytes(tone_pcm(2, amplitude=0.05))))


def test_stored_encoding_is_compact_and_decodes_back(question_wav: bytes) -> None:
    audio = decode_upload(question_wav)
    data, content_type = encode_for_storage(audio.pcm, sample_rate=audio.sample_rate)
    assert content_type == "audio/mpeg"
    assert len(data) < len(audio.pcm) / 4  # 32 kbit/s MP3 against 256 kbit/s PCM
    again = decode_upload(data)
    assert abs(again.seconds - audio.seconds) < 0.1


@settings(max_examples=200, deadline=None)
@given(
    st.binary(max_size=2048),
    st.sampled_from([b"", b"RIFF\x00\x01\x00\x00WAVE", b"OggS", b"ID3", b"fLaC", b"\x1a\x45\xdf\xa3"]),
)
def test_no_input_escapes_the_validator(tail: bytes, magic: bytes) -> None:
    try:
        audio = decode_upload(magic + tail)
    except AudioRejected as refused:
        assert refused.user_message
    else:
        assert audio.seconds > 0


def _wav(*, rate: int, channels: int, frames: int) -> bytes:
    import io
    import wave

    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(b"\x10\x00" * channels * frames)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("rate", "channels", "message"),
    [
        (2, 1, "sample rate"),  # a few bytes that would resample to gigabytes
        (4_000, 1, "sample rate"),
        (384_000, 1, "sample rate"),
        (16_000, 9, "channels"),
    ],
)
def test_implausible_formats_are_refused_before_decoding(rate: int, channels: int, message: str) -> None:
    with pytest.raises(AudioRejected, match=message) as refused:
        decode_upload(_wav(rate=rate, channels=channels, frames=64))
    assert refused.value.reason == "unsupported"


def test_the_edges_of_the_allowed_formats_decode() -> None:
    for rate, channels in ((8_000, 1), (192_000, 2), (48_000, 8)):
        audio = decode_upload(_wav(rate=rate, channels=channels, frames=rate // 2))
        assert abs(audio.seconds - 0.5) < 0.05
