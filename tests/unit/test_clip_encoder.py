"""The clip encoder: stored clips are encoded by a helper process, and encoded here when it fails."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator

import pytest

from tests.fakes.audio_samples import spoken_wav
from voicechat.audio.clip_encoder import ClipEncoder
from voicechat.audio.decode import decode_upload
from voicechat.audio.encode import encode_for_storage


@pytest.fixture(scope="module")
def question_wav() -> bytes:
    return spoken_wav("What is the capital of France?")


@pytest.fixture
def encoder() -> Iterator[ClipEncoder]:
    encoder = ClipEncoder()
    yield encoder
    encoder.close()


def helper_pid(encoder: ClipEncoder) -> int:
    helper = encoder._helper
    assert helper is not None and helper.poll() is None
    return helper.pid


def test_the_helper_encodes_exactly_what_this_process_would(
    encoder: ClipEncoder, question_wav: bytes
) -> None:
    audio = decode_upload(question_wav)
    data, content_type = encoder.encode(audio.pcm, sample_rate=audio.sample_rate)
    assert (data, content_type) == encode_for_storage(audio.pcm, sample_rate=audio.sample_rate)
    assert helper_pid(encoder) > 0
    assert abs(decode_upload(data).seconds - audio.seconds) < 0.1


def test_a_dead_helper_is_replaced_by_the_next_clip(encoder: ClipEncoder, question_wav: bytes) -> None:
    audio = decode_upload(question_wav)
    encoder.encode(audio.pcm, sample_rate=audio.sample_rate)
    first = encoder._helper
    assert first is not None
    first.kill()
    first.wait()
    data, _ = encoder.encode(audio.pcm, sample_rate=audio.sample_rate)
    assert helper_pid(encoder) != first.pid
    assert abs(decode_upload(data).seconds - audio.seconds) < 0.1


def test_a_helper_that_fails_leaves_the_clip_encoded_here(
    question_wav: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    audio = decode_upload(question_wav)
    encoder = ClipEncoder(command=[sys.executable, "-c", "pass"])  # exits without answering
    with caplog.at_level(logging.WARNING, logger="voicechat.audio.clip_encoder"):
        data, content_type = encoder.encode(audio.pcm, sample_rate=audio.sample_rate)
    assert (data, content_type) == encode_for_storage(audio.pcm, sample_rate=audio.sample_rate)
    assert "clip encoder process failed (EOFError)" in caplog.text
    encoder.encode(audio.pcm, sample_rate=audio.sample_rate)  # within the retry delay: no new helper
    assert encoder._helper is None
