"""The live transcription client against the fake transcription socket: each text goes to its own commit,
and a socket that drops is reopened with backoff."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest

from tests.engine.conftest import TalkSessions
from tests.engine.live_helpers import feed, pcm16k, stored, wait_for, wait_until
from tests.fakes.audio_samples import silence_pcm
from tests.fakes.openai_server import FakeOpenAI
from voicechat import defaults
from voicechat.audio.vad import SileroVAD
from voicechat.config import Settings
from voicechat.errors import ProviderUnavailable
from voicechat.models import VoicePreferences
from voicechat.providers.openai.client import make_async_client
from voicechat.providers.openai.live_transcription import LiveTranscriber, LiveTranscriptionSpec
from voicechat.storage.store import Store
from voicechat.usage import Usage

AFTER = defaults.PATIENCE_PAUSES_MS["balanced"][1] / 1000 + 0.2  # ends a turn whatever the turn model says


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


class VirtualTime:
    """The transcriber's clock and sleep: a sleep ends at once, moving the clock on by its length (so a test
    sees every wait between attempts without waiting it)."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


async def until(check: Callable[[], bool], timeout: float = 10) -> None:
    """Wait for a fact of the fake server (it runs on its own thread)."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        await asyncio.sleep(0.01)


def transcriber_for(
    settings: Settings, bills: list[Usage], virtual: VirtualTime | None = None
) -> LiveTranscriber:
    spec = LiveTranscriptionSpec(
        client=lambda: make_async_client(settings),
        provider="openai",
        model="gpt-live-transcribe",
        language=None,
    )
    timing = {} if virtual is None else {"clock": virtual.clock, "sleep": virtual.sleep}
    return LiveTranscriber(
        spec, prices=settings.price_tables, bill=bills.append, on_caption=lambda _: None, **timing
    )


async def said(transcriber: LiveTranscriber, text: str) -> str:
    """Stream ``text`` spoken and commit it; its transcript (raises ProviderUnavailable)."""
    transcriber.append(pcm16k(text))
    committed = transcriber.commit()
    assert committed is not None
    return await asyncio.wait_for(committed, 10)


def test_a_dropped_socket_is_reopened_and_later_stretches_are_transcribed_over_the_new_one(
    settings: Settings, fake_openai: FakeOpenAI
) -> None:
    fake = fake_openai.live_transcription
    fake.texts.extend(["first stretch", "lost stretch", "after the drop"])
    fake.drop_at_commit, fake.drops_left = 2, 1
    virtual = VirtualTime()
    bills: list[Usage] = []

    async def talk() -> None:
        transcriber = transcriber_for(settings, bills, virtual)
        transcriber.start()
        try:
            assert await said(transcriber, "Hello there.") == "first stretch"
            first = transcriber.connection
            with pytest.raises(ProviderUnavailable):
                await said(transcriber, "What is the weather like?")
            await until(lambda: len(fake.connections) == 2)
            assert transcriber.connection != first  # audio goes to the new socket, not the dropped one
            assert await said(transcriber, "And tomorrow?") == "after the drop"
        finally:
            await transcriber.close()

    asyncio.run(talk())
    assert virtual.sleeps == [defaults.LIVE_RECONNECT_FIRST_SECONDS]
    assert [len(c.committed_texts) for c in fake.connections] == [1, 1]
    assert [b.kind for b in bills] == ["stt", "stt"]
    assert not [r for r in fake_openai.requests if r.path == "/v1/audio/transcriptions"]


def test_a_server_that_keeps_refusing_is_tried_with_backoff_which_a_working_socket_resets(
    settings: Settings, fake_openai: FakeOpenAI
) -> None:
    fake = fake_openai.live_transcription
    fake.refuse_handshakes = 7
    fake.drop_at_commit, fake.drops_left = 2, 1
    virtual = VirtualTime()

    async def talk() -> None:
        transcriber = transcriber_for(settings, [], virtual)
        transcriber.start()
        try:
            await until(lambda: len(fake.connections) == 1)
            assert await said(transcriber, "Hello there.") == fake_openai.transcript  # it works: healthy
            with pytest.raises(ProviderUnavailable):
                await said(transcriber, "What is the weather like?")
            await until(lambda: len(fake.connections) == 2)
        finally:
            await transcriber.close()

    asyncio.run(talk())
    first, longest = defaults.LIVE_RECONNECT_FIRST_SECONDS, defaults.LIVE_RECONNECT_LONGEST_SECONDS
    assert (first, longest) == (0.5, 10.0)
    # Seven refusals: waits doubling from the first to the longest; after a working socket, the first again.
    assert virtual.sleeps == [0.5, 1.0, 2.0, 4.0, 8.0, 10.0, 10.0, 0.5]
    # Every attempt the server saw: seven refused, the one that worked, the one after its drop (in the
    # 35.5 virtual seconds of refusals, eight attempts, where retrying every first-delay would make 72).
    assert fake.handshakes == 9


def test_a_socket_that_stayed_open_the_healthy_time_resets_the_backoff_without_transcribing(
    settings: Settings, fake_openai: FakeOpenAI
) -> None:
    fake = fake_openai.live_transcription
    fake.refuse_handshakes = 2
    fake.drop_at_commit, fake.drops_left = 1, 1
    virtual = VirtualTime()

    async def talk() -> None:
        transcriber = transcriber_for(settings, [], virtual)
        transcriber.start()
        try:
            await until(lambda: len(fake.connections) == 1)
            virtual.now += defaults.LIVE_RECONNECT_HEALTHY_SECONDS  # open (or opening) that long, unused
            with pytest.raises(ProviderUnavailable):
                await said(transcriber, "Hello there.")
            await until(lambda: len(fake.connections) == 2)
        finally:
            await transcriber.close()

    asyncio.run(talk())
    assert virtual.sleeps == [0.5, 1.0, 0.5]  # not 2.0: the connection that dropped had worked


def test_while_the_socket_is_down_a_stretch_is_not_committed(
    settings: Settings, fake_openai: FakeOpenAI
) -> None:
    fake_openai.live_transcription.reject = True
    gate = asyncio.Event()
    waits: list[float] = []

    async def held_sleep(seconds: float) -> None:  # the first wait after the refusal never ends
        waits.append(seconds)
        gate.set()
        await asyncio.Event().wait()

    async def talk() -> asyncio.Future[str] | None:
        spec = LiveTranscriptionSpec(
            client=lambda: make_async_client(settings),
            provider="openai",
            model="gpt-live-transcribe",
            language=None,
        )
        transcriber = LiveTranscriber(
            spec,
            prices=settings.price_tables,
            bill=lambda _: None,
            on_caption=lambda _: None,
            sleep=held_sleep,
        )
        transcriber.start()
        try:
            await asyncio.wait_for(gate.wait(), 10)
            assert not transcriber.usable and transcriber.connection is None
            transcriber.append(pcm16k("Hello there."))
            return transcriber.commit()  # nothing to commit: the engine transcribes the turn's file
        finally:
            await transcriber.close()

    assert asyncio.run(talk()) is None
    assert waits == [defaults.LIVE_RECONNECT_FIRST_SECONDS]


def test_in_a_call_a_dropped_socket_costs_one_file_transcription_and_the_next_turn_is_live_again(
    talk_sessions: TalkSessions, settings: Settings, store: Store, fake_openai: FakeOpenAI
) -> None:
    fake = fake_openai.live_transcription
    fake_openai.transcript = "What is the capital of France?"
    fake.drop_at_commit, fake.drops_left = 1, 1  # the first turn's first commit drops the socket
    user = store.users.get_or_create(email="reconnect@example.com", name="Reconnect")
    session, _ = talk_sessions.start(settings, user, VoicePreferences(), output_rate=24_000, vad=SileroVAD())
    question = pcm16k("What is the capital of France?")
    feed(session, silence_pcm(0.3) + question + silence_pcm(AFTER))
    wait_for(session, lambda s: s.turns == 1 and s.state == "listening")
    assert files(fake_openai) == 1  # while the socket is down, the turn's recording is transcribed
    wait_until(lambda: len(fake.connections) == 2)  # reopened within the call
    feed(session, question + silence_pcm(AFTER))
    snap = wait_for(session, lambda s: s.turns == 2 and s.state == "listening")
    assert files(fake_openai) == 1  # the second turn went over the new socket
    assert fake.connections[1].committed_texts and all(fake.connections[1].committed_texts)
    assert [m.content for m in stored(store, user, snap.conversation_id) if m.role == "user"] == [
        "What is the capital of France?"
    ] * 2


def files(fake_openai: FakeOpenAI) -> int:
    """Turns transcribed from their recording."""
    return [r.path for r in fake_openai.requests].count("/v1/audio/transcriptions")
