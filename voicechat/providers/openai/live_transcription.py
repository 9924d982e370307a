"""Transcription while the user speaks: OpenAI's realtime transcription socket, one per call.

The socket (``/v1/realtime?intent=transcription``) is configured as a transcription session with turn
detection off: we append the user's audio (24 kHz PCM) while they speak and commit it where our own turn
taking says a stretch of speech ended. Deltas (``conversation.item.input_audio_transcription.delta``) are
live captions; each committed item's ``.completed`` transcript is the text of that stretch. A turn's text is
its items' transcripts in order. Everything runs on the session's loop. If the socket fails, its pending
commits fail with ``ProviderUnavailable`` and the engine transcribes those turns' files instead; the socket
is reopened within the call after a ``Backoff`` wait, and audio goes to the new one (``connection`` tells a
turn whether all of it went to the same socket).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, cast

import openai

from voicechat import defaults
from voicechat.audio.pcm import resample
from voicechat.errors import ProviderUnavailable
from voicechat.providers.openai.client import socket_options
from voicechat.providers.sockets import abort_transport, audio_append, parse_lightly, send_event
from voicechat.usage import PriceTables, Usage, transcription_cost
from voicechat.voices import OPENAI_AUDIO_RATE, TALK_RATE

log = logging.getLogger(__name__)
# Read as the SDK's types: the events whose fields are read in depth (deltas and commits are flat).
TYPED_EVENTS = frozenset(
    {
        "conversation.item.input_audio_transcription.completed",
        "conversation.item.input_audio_transcription.failed",
        "error",
    }
)
MIN_COMMIT_SECONDS = 0.1  # the service refuses to commit less audio than this
SEND_SECONDS = 0.1  # audio is sent in pieces of this length (one message per 20 ms frame costs CPU per call)


@dataclass(frozen=True)
class LiveTranscriptionSpec:
    """Which socket and model transcribe a call's speech."""

    client: Callable[[], openai.AsyncOpenAI]
    provider: str
    model: str
    language: str | None


@dataclass
class Backoff:
    """How long to wait before reopening a socket: ``first`` after a working connection ends, doubling with
    each failed attempt in a row up to ``longest`` (a server that keeps refusing is not hammered)."""

    first: float = defaults.LIVE_RECONNECT_FIRST_SECONDS
    longest: float = defaults.LIVE_RECONNECT_LONGEST_SECONDS
    failures: int = 0  # connections ended since the last one that worked

    def next_delay(self, *, healthy: bool) -> float:
        """The wait after a connection ended; ``healthy``: it worked (the doubling starts again)."""
        if healthy:
            self.failures = 0
        delay = min(self.longest, self.first * 2.0**self.failures)
        self.failures += 1
        return delay


@dataclass
class _Item:
    """One committed stretch of speech, until its transcript arrives."""

    seconds: float
    committed_at: float
    text: asyncio.Future[str]
    item_id: str | None = None


class LiveTranscriber:
    """Streams one call's speech to the transcription socket, reopening it when it drops. ``start`` once;
    the rest on the loop."""

    def __init__(
        self,
        spec: LiveTranscriptionSpec,
        *,
        prices: PriceTables,
        bill: Callable[[Usage], None],
        on_caption: Callable[[str], None],
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        """``bill`` each transcribed item's usage; ``on_caption`` with the words heard since ``begin_turn``
        whenever more arrive. ``clock`` and ``sleep`` time the reconnections (tests pass virtual ones)."""
        self._spec, self._prices, self._bill, self._on_caption = spec, prices, bill, on_caption
        self._clock, self._sleep = clock, sleep
        self._outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._client: openai.AsyncOpenAI | None = None
        self._unconfirmed: deque[_Item] = deque()  # committed, not yet acknowledged (in order)
        self._items: dict[str, _Item] = {}  # acknowledged, transcript pending
        self._early: dict[str, str] = {}  # transcripts that came before their acknowledgement
        self._captions: dict[str, str] = {}  # item id -> words so far, this turn
        self._pending_samples = 0  # appended since the last commit
        self._unsent = bytearray()  # appended audio not sent yet (sent in ~100 ms pieces, not per frame)
        self._sent = False  # audio was sent since the last commit
        self._connection = 0  # counts the connections (each attempt): audio goes to this one
        self._down = False  # between attempts, or closed: audio is dropped, commits are not answered
        self._transcribed = False  # the current connection transcribed an item

    def start(self) -> None:
        """Open the socket in the background (a failure is reported by the next commit)."""
        self._task = asyncio.ensure_future(self._run())

    @property
    def usable(self) -> bool:
        """The socket is open or opening: commits can be answered."""
        return not self._down

    @property
    def connection(self) -> int | None:
        """Which connection the audio goes to now (a new number after each drop), None while the socket is
        down: a turn was heard whole only if this stayed the same from its first word to its commit."""
        return None if self._down else self._connection

    def begin_turn(self) -> None:
        """A new turn: captions start empty."""
        self._captions.clear()

    def append(self, pcm: bytes) -> None:
        """16 kHz mono PCM of the user's current speech."""
        if self._down or not pcm:
            return
        self._pending_samples += len(pcm) // 2
        self._unsent += pcm
        if len(self._unsent) >= SEND_SECONDS * TALK_RATE * 2:
            self._send_unsent()

    def _send_unsent(self) -> None:
        if self._unsent:
            audio = resample(bytes(self._unsent), from_rate=TALK_RATE, to_rate=OPENAI_AUDIO_RATE)
            self._unsent.clear()
            self._sent = True
            self._outbox.put_nowait(audio_append(audio))

    def commit(self) -> asyncio.Future[str] | None:
        """End the stretch appended since the last commit; its transcript (or ProviderUnavailable) comes in
        the returned future. None when too little was appended to commit (it is cleared instead)."""
        seconds = self._pending_samples / TALK_RATE
        if seconds < MIN_COMMIT_SECONDS:
            self.clear()
            return None
        self._pending_samples = 0
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        if self._down:
            future.set_exception(ProviderUnavailable("The live transcription stopped."))
            return future
        self._send_unsent()
        self._sent = False
        self._unconfirmed.append(_Item(seconds, time.perf_counter(), future))
        self._outbox.put_nowait({"type": "input_audio_buffer.commit"})
        return future

    def clear(self) -> None:
        """Forget what was appended since the last commit (it was not speech)."""
        if self._sent and not self._down:
            self._outbox.put_nowait({"type": "input_audio_buffer.clear"})
        self._pending_samples, self._sent = 0, False
        self._unsent.clear()

    async def close(self) -> None:
        """Close the socket for good (pending commits fail)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        self._drop()

    # The connection --------------------------------------------------------------------------------------

    async def _run(self) -> None:
        """Connect, and reconnect after every drop or refusal (until ``close``), waiting as ``Backoff`` says;
        while the socket is down turns are transcribed from their recordings."""
        backoff = Backoff()
        while True:
            try:
                healthy, ended = await self._connect()
            finally:
                self._drop()
            outage_begins = healthy or backoff.failures == 0  # warned once, not at every refused attempt
            delay = backoff.next_delay(healthy=healthy)
            log.log(
                logging.WARNING if outage_begins else logging.DEBUG,
                "live transcription failed (%s); turns are transcribed from files until it reconnects"
                " (next attempt in %.1f s)",
                ended,
                delay,
            )
            await self._sleep(delay)
            self._connection += 1
            self._down = False  # audio waits in the outbox for this attempt

    async def _connect(self) -> tuple[bool, str]:
        """One connection, until it ends: whether it was healthy (it transcribed an item, or stayed open
        ``LIVE_RECONNECT_HEALTHY_SECONDS``), and how it ended (an exception's name, for the log)."""
        entered: Any = None
        began, set_up = self._clock(), False
        ended = "closed by the server"
        self._transcribed = False
        try:
            client = self._client = self._client or self._spec.client()  # one client for every attempt
            async with client.realtime.connect(
                extra_query={"intent": "transcription"}, websocket_connection_options=socket_options(client)
            ) as connection:
                entered = connection
                parse_lightly(connection, TYPED_EVENTS)
                await connection.session.update(session=cast(Any, self._session()))
                set_up = True
                if self._connection:
                    log.info("live transcription: reconnected")
                sender = asyncio.create_task(self._send(connection))
                try:
                    async for event in connection:
                        self._on_event(event)
                finally:
                    sender.cancel()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # any failure of the socket: the engine falls back to file transcription
            ended = type(exc).__name__
        finally:
            abort_transport(getattr(entered, "_connection", None))
        lasted = set_up and self._clock() - began >= defaults.LIVE_RECONNECT_HEALTHY_SECONDS
        return self._transcribed or lasted, ended

    def _session(self) -> dict[str, Any]:
        transcription: dict[str, Any] = {"model": self._spec.model}
        if self._spec.language:
            transcription["language"] = self._spec.language
        return {
            "type": "transcription",
            "audio": {
                "input": {
                    "format": {"type": "audio/pcm", "rate": OPENAI_AUDIO_RATE},
                    "transcription": transcription,
                    "turn_detection": None,
                }
            },
        }

    async def _send(self, connection: Any) -> None:
        while True:
            message = await self._outbox.get()
            await send_event(connection, message)

    def _on_event(self, event: Any) -> None:
        kind = getattr(event, "type", "")
        if kind == "input_audio_buffer.committed" and self._unconfirmed:
            item = self._unconfirmed.popleft()
            item.item_id = event.item_id
            if event.item_id in self._early:
                self._complete(item, self._early.pop(event.item_id), usage=None)
            else:
                self._items[event.item_id] = item
        elif kind == "conversation.item.input_audio_transcription.delta":
            self._captions[event.item_id] = self._captions.get(event.item_id, "") + (event.delta or "")
            self._on_caption(self.caption)
        elif kind == "conversation.item.input_audio_transcription.completed":
            self._captions[event.item_id] = event.transcript
            self._on_caption(self.caption)
            if (item := self._items.pop(event.item_id, None)) is not None:  # type: ignore[arg-type]
                self._complete(item, event.transcript, usage=getattr(event, "usage", None))
            else:
                self._early[event.item_id] = event.transcript
        elif kind in ("error", "conversation.item.input_audio_transcription.failed"):
            code = getattr(getattr(event, "error", None), "code", None)
            log.warning("live transcription: %s (%s)", kind, code)
            if kind == "error" and code != "input_audio_buffer_commit_empty":
                raise ProviderUnavailable("The live transcription reported an error.")
            if kind == "error" and self._unconfirmed:  # that commit had nothing in it: no words
                refused = self._unconfirmed.popleft()
                if not refused.text.done():
                    refused.text.set_result("")
            elif (item := self._items.pop(getattr(event, "item_id", ""), None)) is not None:  # type: ignore[arg-type]
                item.text.set_exception(ProviderUnavailable("That part could not be transcribed."))

    @property
    def caption(self) -> str:
        """The words heard this turn so far."""
        return " ".join(text.strip() for text in self._captions.values() if text.strip())

    def _complete(self, item: _Item, text: str, *, usage: Any) -> None:
        reported = getattr(usage, "seconds", None) if getattr(usage, "type", None) == "duration" else None
        seconds = float(reported or item.seconds)
        self._bill(
            Usage(
                kind="stt",
                provider=self._spec.provider,
                model=self._spec.model,
                status="ok",
                audio_seconds=seconds,
                characters=len(text),
                cost_usd=transcription_cost(
                    model=self._spec.model, audio_seconds=seconds, prices=self._prices
                ),
                latency_ms=round((time.perf_counter() - item.committed_at) * 1000, 1),
                input_tokens=int(getattr(usage, "input_tokens", 0) or 0),
                output_tokens=int(getattr(usage, "output_tokens", 0) or 0),
            )
        )
        self._transcribed = True
        if not item.text.done():
            item.text.set_result(text)

    def _drop(self) -> None:
        """The connection is gone: what was on its way to it is dropped, its pending commits fail."""
        self._down = True
        self._outbox = asyncio.Queue()
        self._pending_samples, self._sent = 0, False
        self._unsent.clear()
        self._early.clear()
        pending = [*self._unconfirmed, *self._items.values()]
        self._unconfirmed.clear()
        self._items.clear()
        for item in pending:
            if not item.text.done():
                item.text.set_exception(ProviderUnavailable("The live transcription stopped."))
