"""One reply of the cascaded engine, spoken while it is generated, on the session's loop.

Two tasks: generation reads the chat stream (a blocking SDK stream, iterated on the executor) and splits it
into sentences; synthesis speaks each sentence as soon as it is complete and pushes its audio to playback,
so sentence N+1 is synthesised while sentence N plays. ``cut()`` (barge-in, end of call) cancels both and the
wait for playback at once. The reply reports itself as events (the recorder stores it as heard, with its
audio, and bills the synthesis); ``run()`` returns once it has played, was cut or failed.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncGenerator, Iterator
from dataclasses import dataclass

from voicechat import defaults
from voicechat.errors import ProviderError, ProviderRateLimited
from voicechat.models import UsageStatus
from voicechat.providers.base import SpeechRequest, TokenUsage, add_usage
from voicechat.providers.speech_factory import Speaker
from voicechat.sentences import SentenceSplitter, speakable
from voicechat.talk.engine import EngineHost
from voicechat.talk.events import ReplyAudio, ReplyStarted, ReplyTextDelta, ReplyTextDone, UsageMeasured
from voicechat.talk.runtime.threads import iterate_in_thread
from voicechat.turns.speech import speech_usage


@dataclass
class _Synthesis:
    """What one sentence's synthesis reported once it ended."""

    usage: TokenUsage | None = None
    first_byte_ms: float | None = None


class SpokenReply:
    """Streams one reply (``key``) into speech; ``run()`` once, ``cut()`` from the loop at any time."""

    def __init__(self, host: EngineHost, speaker: Speaker, key: str, *, greeting: bool = False) -> None:
        self._host, self._speaker, self.key, self._greeting = host, speaker, key, greeting
        self._tasks: list[asyncio.Task[None]] = []
        self.interrupted = False
        self.generated = ""
        self.complete = False  # the whole text was generated
        self.error: str | None = None  # for the page: why the reply stopped or was not spoken
        self.first_sentence_ms: float | None = None  # reply requested -> its first sentence complete
        self.tts_first_byte_ms: float | None = None
        self._characters = 0
        self._usage: TokenUsage | None = None
        self._pushed = 0

    async def run(self, text: AsyncGenerator[list[str], None]) -> None:
        """Speak ``text`` as it streams (closing it when cut); return when played out, cut or failed."""
        self._host.meter.begin()
        self._host.emit(ReplyStarted(self.key, greeting=self._greeting))
        sentences: asyncio.Queue[str | None] = asyncio.Queue()
        self._tasks = [
            asyncio.create_task(self._generate(text, sentences)),
            asyncio.create_task(self._synthesise(sentences)),
        ]
        await asyncio.wait(self._tasks)
        if not self.interrupted:
            played = asyncio.create_task(self._host.meter.drained())
            self._tasks.append(played)
            await asyncio.wait([played])

    def cut(self) -> None:
        """Stop generating, speaking and waiting for playback (the caller clears playback)."""
        self.interrupted = True
        for task in self._tasks:
            task.cancel()

    @property
    def played_samples(self) -> int:
        """Samples of this reply heard so far."""
        return self._host.meter.played_samples()

    async def _generate(
        self, text: AsyncGenerator[list[str], None], sentences: asyncio.Queue[str | None]
    ) -> None:
        splitter = SentenceSplitter(
            max_chars=defaults.LIVE_CLAUSE_CHARS, first_clause_chars=defaults.FIRST_CLAUSE_CHARS
        )
        started = time.perf_counter()

        def queue_all(done: list[str]) -> None:
            if done and self.first_sentence_ms is None:
                self.first_sentence_ms = round((time.perf_counter() - started) * 1000, 1)
            for sentence in done:
                sentences.put_nowait(sentence)

        try:
            async with contextlib.aclosing(text):
                async for deltas in text:
                    delta = "".join(deltas)
                    self.generated += delta
                    queue_all(splitter.push(delta))
            queue_all(splitter.flush())
            self.complete = True
            self._host.emit(ReplyTextDone(self.key, self.generated))
        except ProviderError as exc:
            self.error = exc.user_message
            queue_all(splitter.flush())
        finally:
            sentences.put_nowait(None)

    async def _synthesise(self, sentences: asyncio.Queue[str | None]) -> None:
        status: UsageStatus = "ok"
        try:
            while (sentence := await sentences.get()) is not None:
                await self._speak(sentence)
        except ProviderError as exc:
            status = "rate_limited" if isinstance(exc, ProviderRateLimited) else "error"
            self.error = self.error or f"The reply could not be spoken. {exc.user_message}"
        finally:
            if self._characters:
                meter = self._host.meter
                usage = speech_usage(
                    self._speaker,
                    characters=self._characters,
                    audio_seconds=self._pushed / meter.sample_rate,
                    usage=self._usage,
                    status="interrupted" if self.interrupted and status == "ok" else status,
                    latency_ms=self.tts_first_byte_ms,
                    prices=self._host.settings.price_tables,
                )
                self._host.emit(UsageMeasured(usage))

    async def _speak(self, sentence: str) -> None:
        text = speakable(sentence).strip()
        if not text:
            return
        self._characters += len(text)
        self._host.emit(ReplyTextDelta(self.key, sentence, spoken=True))
        speaker, synthesis = self._speaker, _Synthesis()
        request = SpeechRequest(text=text, voice=speaker.voice, model=speaker.model, speed=speaker.speed)

        def chunks() -> Iterator[bytes]:
            with speaker.tts.synthesize(request) as stream:
                try:
                    for chunk in stream:
                        synthesis.first_byte_ms = synthesis.first_byte_ms or stream.first_byte_ms
                        yield chunk
                finally:
                    synthesis.usage = stream.usage

        try:
            audio = iterate_in_thread(chunks)
            async with contextlib.aclosing(audio):
                async for batch in audio:
                    chunk = b"".join(batch)
                    pushed_at = self._host.meter.push(chunk)
                    self._pushed += len(chunk) // 2
                    if self.tts_first_byte_ms is None:
                        self.tts_first_byte_ms = synthesis.first_byte_ms
                    self._host.emit(ReplyAudio(self.key, chunk, pushed_at))
        finally:
            self._usage = add_usage(self._usage, synthesis.usage)
