"""The fake server's other endpoints answer the real SDK as OpenAI would (later voice issues rely on them)."""

from __future__ import annotations

import io
import wave

from tests.fakes.openai_server import SPEECH_SAMPLE_RATE, FakeOpenAI
from voicechat.config import Settings
from voicechat.providers.openai.client import make_client


def test_models_transcription_and_streamed_speech(settings: Settings, fake_openai: FakeOpenAI) -> None:
    client = make_client(settings)
    assert [m.id for m in client.models.list()] == fake_openai.models
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(16_000)
        wav.writeframes(b"\x00\x00" * 16_000)
    result = client.audio.transcriptions.create(
        model="gpt-4o-mini-transcribe", file=("q.wav", buffer.getvalue())
    )
    assert result.text == fake_openai.transcript
    assert int(fake_openai.requests[-1].body["file_bytes"]) == len(buffer.getvalue())
    with client.audio.speech.with_streaming_response.create(
        model="gpt-4o-mini-tts", voice="alloy", input="Hello there", response_format="pcm"
    ) as response:
        pcm = b"".join(response.iter_bytes())
    assert len(pcm) % 2 == 0 and len(pcm) // 2 >= int(0.2 * SPEECH_SAMPLE_RATE)
    assert fake_openai.requests[-1].body["input"] == "Hello there"
