"""The speech-endpoint TTS against the fake server, through the real SDK."""

from __future__ import annotations

import io
import wave

import pytest

from tests.fakes.openai_server import SPEECH_SAMPLE_RATE, FakeOpenAI
from voicechat.audio.pcm import pcm_to_wav
from voicechat.config import Settings
from voicechat.errors import ProviderRequestError, ProviderUnavailable
from voicechat.providers.base import SpeechRequest
from voicechat.providers.openai.client import make_client
from voicechat.providers.openai.speech import OpenAISpeech

REQUEST = SpeechRequest(text="Hello there, how are you?", voice="verse", model="gpt-4o-mini-tts", speed=1.0)


def test_streams_pcm_and_measures_first_byte(settings: Settings, fake_openai: FakeOpenAI) -> None:
    with OpenAISpeech(client=make_client(settings)).synthesize(REQUEST) as stream:
        chunks = list(stream)
    assert len(chunks) > 1  # streamed, not one blob
    pcm = b"".join(chunks)
    assert stream.first_byte_ms is not None
    assert stream.audio_seconds == pytest.approx(len(pcm) / 2 / SPEECH_SAMPLE_RATE)
    assert stream.audio_seconds == pytest.approx(0.06 * len(REQUEST.text), abs=0.1)
    with wave.open(io.BytesIO(pcm_to_wav(pcm, sample_rate=stream.sample_rate))) as wav:
        assert (wav.getframerate(), wav.getnchannels(), wav.getnframes()) == (24_000, 1, len(pcm) // 2)


@pytest.mark.parametrize(("status", "error"), [(400, ProviderRequestError), (503, ProviderUnavailable)])
def test_failures_are_translated(
    settings: Settings, fake_openai: FakeOpenAI, status: int, error: type[Exception]
) -> None:
    fake_openai.speech_status = status
    with pytest.raises(error):
        OpenAISpeech(client=make_client(settings)).synthesize(REQUEST)
