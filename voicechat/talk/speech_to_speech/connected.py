"""What the speech-to-speech engines share: one WebSocket per session, kept open, on the session's loop.

A subclass supplies ``_converse`` (open the connection, configure it, read its events until it ends). This
base re-opens it after a drop (``MAX_RECONNECTS`` failures in a row end the attempts, with a message that
sends the user to the keyboard), queues the user's audio for the connection's sender, ends a reply when its
audio has played, and stores and shows every reply the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from abc import abstractmethod
from collections import deque
from concurrent.futures import Future

from voicechat.errors import Refused
from voicechat.models import Message
from voicechat.talk.engine import EngineHost, TalkEngine
from voicechat.talk.recorder import Reply, SpokenTurns
from voicechat.talk.runtime.user_audio import SAMPLE_RATE
from voicechat.talk.view import LiveMetrics, TranscriptLine
from voicechat.turns.text import ChatService

log = logging.getLogger(__name__)
MAX_RECONNECTS = 3
OUTBOX_SECONDS = 2
LOST = "The connection to the voice engine was lost. End the call and type, or try again later."
RECONNECTING = "The connection to the voice engine dropped; reconnecting…"
FAILED_REPLY = "The voice engine could not answer that; please say it again."


def abort_transport(socket: object) -> None:
    """Make sure a WebSocket's TCP connection is gone once we are done with it (a close handshake cut short
    by a cancellation can leave it open)."""
    transport = getattr(socket, "transport", None)
    if transport is not None and not transport.is_closing():
        transport.abort()


class AudioOutbox:
    """The user's audio on its way to the connection; while there is none (connecting, reconnecting, or given
    up), only the newest ``keep_samples`` wait, so the backlog never grows with the length of the call.

    Used on the session's loop only."""

    def __init__(self, *, keep_samples: int) -> None:
        self._keep = keep_samples
        self._chunks: deque[bytes] = deque()
        self._samples = 0
        self._arrived = asyncio.Event()
        self._sending = False

    @property
    def samples(self) -> int:
        """Samples waiting."""
        return self._samples

    def put(self, pcm: bytes) -> None:
        """Add audio (16 kHz mono PCM)."""
        self._chunks.append(pcm)
        self._samples += len(pcm) // 2
        if not self._sending:
            self._trim()
        self._arrived.set()

    def open(self) -> None:
        """A connection takes the audio from now on, starting with what waits."""
        self._sending = True

    def hold(self) -> None:
        """No connection: keep only the newest audio until the next one."""
        self._sending = False
        self._trim()

    def _trim(self) -> None:
        while self._chunks and self._samples - len(self._chunks[0]) // 2 >= self._keep:
            self._samples -= len(self._chunks.popleft()) // 2

    async def get(self) -> bytes:
        """The oldest waiting chunk (waits for one)."""
        while not self._chunks:
            self._arrived.clear()
            await self._arrived.wait()
        chunk = self._chunks.popleft()
        self._samples -= len(chunk) // 2
        return chunk


class ConnectedEngine(TalkEngine):
    """A Talk-mode engine that lives on a provider's WebSocket."""

    def __init__(self, host: EngineHost, *, model: str, output_rate: int) -> None:
        self._host = host
        self._model, self._output_rate = model, output_rate
        self._turns = SpokenTurns(
            store=host.store,
            chat=ChatService(store=host.store, settings=host.settings),
            user=host.user,
            options=host.options,
            view=host.view,
            conversation_id=host.conversation_id,
        )
        self._outbox = AudioOutbox(keep_samples=OUTBOX_SECONDS * SAMPLE_RATE)
        self._reply: Reply | None = None
        self._closing = threading.Event()
        self._healthy = False  # the current connection was set up
        self._runner: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Connect (on the loop)."""
        self._host.view.link(connected=False)
        self._host.loop.call(self._spawn)

    def _spawn(self) -> None:
        self._runner = asyncio.ensure_future(self._run())

    def hear(self, pcm: bytes, arrived: float) -> None:
        """Queue the audio for the connection (only the last seconds wait while it is not connected)."""
        self._outbox.put(pcm)

    def close(self) -> None:
        """Stop speaking, store the reply in progress, close the WebSocket."""
        if self._closing.is_set() or not self._host.loop.alive:
            return
        try:
            self._host.loop.submit(self._shut()).result(timeout=10)
        except Exception as exc:  # the loop may already be gone; the worker still stores what was queued
            log.warning("engine close: %s", type(exc).__name__)

    @abstractmethod
    async def _converse(self) -> None:
        """One connection: set it up (then call ``_connected``), read events until it ends."""

    async def _shut(self) -> None:
        self._closing.set()
        reply = self._reply
        if reply is not None and not reply.finished:
            if self._host.meter.seconds_left() > 0:
                self._host.meter.clear()
                reply.interrupted = True
            self._finish(reply)
        self._closed()
        with contextlib.suppress(Exception):  # close the WebSocket cleanly first; then stop reading it
            await asyncio.wait_for(self._hang_up(), timeout=2)
        runner = self._runner
        if runner is not None and not runner.done():
            runner.cancel()
            with contextlib.suppress(asyncio.CancelledError, asyncio.TimeoutError):
                await asyncio.wait_for(runner, timeout=3)

    def _admit_turn(self) -> None:
        """The user finished a turn: count it; over a limit, say so and end the conversation."""
        admit = self._host.admit
        if admit is None:
            return

        def check() -> None:
            try:
                admit()
            except Refused as exc:
                self._host.loop.call(self._refused, exc.user_message)

        self._host.worker.submit(check)

    def _refused(self, message: str) -> None:
        shutting = asyncio.ensure_future(self._shut())
        shutting.add_done_callback(lambda _: self._host.view.update(state="listening", error=message))

    async def _hang_up(self) -> None:
        """Close the current connection, if there is one."""

    def _closed(self) -> None:
        """Called once the session ends (on the loop); for a last usage record."""

    async def _run(self) -> None:
        failures = 0
        while not self._closing.is_set():
            self._healthy = False
            try:
                await self._converse()
            except asyncio.CancelledError:
                return
            except Exception as exc:
                log.warning("voice engine connection ended: %s", type(exc).__name__)
            finally:
                self._outbox.hold()  # also when the call goes on after the engine stopped (refused, lost)
                self._host.view.link(connected=False)
            reply = self._reply
            if reply is not None and not reply.finished:
                reply.failed = not reply.interrupted
                self._finish(reply)
            if self._closing.is_set():
                return
            failures = 0 if self._healthy else failures + 1
            if failures > MAX_RECONNECTS:
                self._host.view.update(state="listening", error=LOST)
                return
            self._host.view.update(state="listening", error=RECONNECTING)
            await asyncio.sleep(0.2 * 2**failures)

    def _connected(self) -> AudioOutbox:
        """The connection is set up: clear a reconnecting notice; the user's audio (from at most
        ``OUTBOX_SECONDS`` ago: what was said while connecting is not lost) goes to the connection."""
        self._healthy = True
        if self._host.view.snapshot().error == RECONNECTING:
            self._host.view.update(error=None)
        self._outbox.open()
        self._host.view.link(connected=True)
        return self._outbox

    def _begin_reply(self, key: str, *, greeting: bool, turn_end: tuple[float | None, float | None]) -> Reply:
        if self._reply is not None and not self._reply.finished:
            self._finish(self._reply)
        ended_at, decided = turn_end
        self._reply = Reply(key=key, greeting=greeting, speech_ended_at=ended_at, end_of_turn_ms=decided)
        self._host.meter.begin()
        self._host.view.append(TranscriptLine("assistant", "", key=key))
        return self._reply

    def _play(self, reply: Reply, pcm: bytes) -> None:
        reply.pcm.append(pcm)
        pushed_at = self._host.meter.push(pcm)
        if reply.first_audio_at is None:
            reply.first_audio_at = pushed_at
            self._host.view.update(state="speaking")

    def _cut(self, reply: Reply, *, onset: float | None) -> None:
        """Barge-in: clear playback now; ``onset`` is when the user started talking (our clock)."""
        cleared = self._host.meter.clear()
        reply.interrupted = True
        reply.barge_in_ms = round((cleared - onset) * 1000, 1) if onset is not None else None
        self._finish(reply)
        self._host.view.update(state="listening")

    def _after_playback(self, reply: Reply, *, grace: float = 0.0) -> None:
        """Finish ``reply`` once its audio has played (and ``grace`` seconds passed with nothing new)."""
        if reply.finished:
            return
        left = self._host.meter.seconds_left()
        idle = self._idle_for(reply)
        if left > 0 or idle < grace:
            wait = max(0.01, min(0.05, left or grace - idle))
            self._host.loop.loop.call_later(wait, lambda: self._after_playback(reply, grace=grace))
        else:
            self._finish(reply)

    def _idle_for(self, reply: Reply) -> float:
        """Seconds since the reply's last audio arrived (engines without an end-of-reply event override)."""
        return float("inf")

    def _finish(self, reply: Reply) -> None:
        """The reply is over (played, cut or failed): show and store it as heard."""
        reply.finished = True
        host = self._host
        played = host.meter.played_samples()
        heard = reply.heard(played)
        host.view.replace_keyed(
            reply.key, TranscriptLine("assistant", heard, reply.interrupted, key=reply.key)
        )
        metrics = LiveMetrics(
            end_of_turn_ms=reply.end_of_turn_ms,
            voice_to_voice_ms=reply.voice_to_voice_ms(),
            barge_in_ms=reply.barge_in_ms if reply.interrupted else None,
        )
        turns, rate, model = self._turns, self._output_rate, self._model

        def store() -> Message | None:
            """Stored first, then counted: a finished turn on the page is a stored one."""
            message = turns.replied(reply, played_samples=played, sample_rate=rate, model=model)
            if not reply.greeting:
                host.view.finish_turn(metrics, error=FAILED_REPLY if reply.failed else None, state=None)
            return message

        self._stored(reply, host.worker.submit(store))
        host.view.update(state="listening")

    def _stored(self, reply: Reply, message: Future[Message | None]) -> None:
        """Hook: the reply's message will be in ``message`` (for later corrections)."""
