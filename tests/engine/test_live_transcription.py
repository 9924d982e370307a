"""The live transcription client against the fake transcription socket: each text goes to its own commit."""

from __future__ import annotations

import asyncio

from tests.engine.live_helpers import pcm16k
from tests.fakes.openai_server import FakeOpenAI
from voicechat.config import Settings
from voicechat.providers.openai.client import make_async_client
from voicechat.providers.openai.live_transcription import LiveTranscriber, LiveTranscriptionSpec
from voicechat.usage import Usage


def test_a_commit_refused_as_empty_yields_no_words_and_the_next_keeps_its_own(
    settings: Settings, fake_openai: FakeOpenAI
) -> None:
    fake_openai.live_transcription.texts.extend(["refused stretch", "second stretch"])
    fake_openai.live_transcription.empty_at_commit = 1
    bills: list[Usage] = []
    captions: list[str] = []

    async def talk() -> tuple[str, str]:
        spec = LiveTranscriptionSpec(
            client=lambda: make_async_client(settings),
            provider="openai",
            model="gpt-live-transcribe",
            language=None,
        )
        transcriber = LiveTranscriber(
            spec, prices=settings.price_tables, bill=bills.append, on_caption=captions.append
        )
        transcriber.start()
        try:
            transcriber.append(pcm16k("Hello there."))
            first = transcriber.commit()
            transcriber.append(pcm16k("What is the weather like?"))
            second = transcriber.commit()
            assert first is not None and second is not None
            return await asyncio.wait_for(first, 10), await asyncio.wait_for(second, 10)
        finally:
            await transcriber.close()

    assert asyncio.run(talk()) == ("", "second stretch")
    assert [b.kind for b in bills] == ["stt"]  # the refused stretch is not billed
    [connection] = fake_openai.live_transcription.connections
    assert connection.sessions[0]["type"] == "transcription"
