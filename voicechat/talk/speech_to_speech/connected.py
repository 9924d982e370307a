"""What the speech-to-speech engines share: one WebSocket per session, kept open, on the session's loop.

A subclass supplies ``_converse`` (open the connection, configure it, read its events until it ends). This
base re-opens it after a drop (``MAX_RECONNECTS`` failures in a row end the attempts, with a message that
sends the user to the keyboard), queues the user's audio for the connection's sender, plays replies, ends a
reply when its audio has played, and reports all of it as events (the recorder stores, the view shows).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from abc import abstractmethod
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from voicechat.errors import Refused
from voicechat.talk.engine import EngineHost, TalkEngine
from voicechat.talk.events import (
    ConnectionChanged,
    EngineError,
    ReplyAudio,
    ReplyDone,
    ReplyInterrupted,
    ReplyStarted,
    ReplyStatus,
    UserSpeechStarted,
)
from voicechat.voices import TALK_RATE

log = logging.getLogger(__name__)
MAX_RECONNECTS = 3
OUTBOX_SECONDS = 2
LOST = "The connection to the voice engine was lost. End the call and type, or try again later."
RECONNECTING = "The connection to the voice engine dropped; reconnecting…"
FAILED_REPLY = "The voice engine could not answer that; please say it again."


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
        """All the audio waiting, oldest first (waits for some): what piled up while the socket was busy
        goes as one message, so a loaded machine sends fewer, larger ones instead of falling behind."""
        while not self._chunks:
            self._arrived.clear()
            await self._arrived.wait()
        audio = b"".join(self._chunks)
        self._chunks.clear()
        self._samples = 0
        return audio


@dataclass
class Speaking:
    """A reply a speech-to-speech engine is playing (on the loop): what the engine needs to know of it."""

    key: str
    greeting: bool = False
    item_id: str | None = None  # the provider's id of the reply's message item
    ended_at: float | None = None  # when the user's turn it answers ended (our clock)
    first_audio_at: float | None = None
    pushed: int = 0  # samples pushed to playback
    text: str | None = None  # the whole text, once the provider says it
    interrupted: bool = False
    failed: bool = False
    finished: bool = False

    def voice_to_voice_ms(self) -> float | None:
        """End of the user's speech -> first reply audio pushed."""
        if self.first_audio_at is None or self.ended_at is None:
            return None
        return round((self.first_audio_at - self.ended_at) * 1000, 1)


class ConnectedEngine(TalkEngine):
    """A Talk engine that lives on a provider's WebSocket."""

    def __init__(self, host: EngineHost, *, output_rate: int) -> None:
        self._host = host
        self._output_rate = output_rate
        self._outbox = AudioOutbox(keep_samples=OUTBOX_SECONDS * TALK_RATE)
        self._reply: Speaking | None = None
        self._closing = False
        self._healthy = False  # the current connection was set up
        self._notice: str | None = None  # the reconnecting notice, while it shows
        self._runner: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Future[object]] = set()

    def start(self) -> None:
        """Connect."""
        self._host.emit(ConnectionChanged(False))
        self._runner = asyncio.ensure_future(self._run())

    def hear(self, pcm: bytes, arrived: float) -> None:
        """Queue the audio for the connection (only the last seconds wait while it is not connected)."""
        self._outbox.put(pcm)

    async def close(self) -> None:
        """Stop speaking, report the reply in progress, close the WebSocket."""
        if self._closing:
            return
        self._closing = True
        reply = self._reply
        if reply is not None and not reply.finished:
            if self._host.meter.seconds_left() > 0:
                self._host.meter.clear()
                reply.interrupted = True
            self._finish(reply)
        self._closed()
        with contextlib.suppress(Exception):  # close the WebSocket cleanly first; then stop reading it
            await asyncio.wait_for(self._hang_up(), timeout=2)
        for task in [self._runner, *self._tasks]:
            if task is not None and not task.done() and task is not asyncio.current_task():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, asyncio.TimeoutError):
                    await asyncio.wait_for(task, timeout=3)

    def _is_closing(self) -> bool:
        """Read through a call, as ``close()`` may set it across any await of ``_run``."""
        return self._closing

    @abstractmethod
    async def _converse(self) -> None:
        """One connection: set it up (then call ``_connected``), read events until it ends."""

    def _spawn(self, work: Awaitable[object]) -> None:
        """Keep a background task (a send, a truncation, a finish) until it is done or the call ends."""
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _admit_turn(self) -> None:
        """The user finished a turn: count it; over a limit, say so and end the conversation."""
        admit = self._host.admit
        if admit is not None:
            self._spawn(self._admit(admit))

    async def _admit(self, admit: Callable[[], None]) -> None:
        try:
            await self._host.in_order(admit)
        except Refused as exc:
            await self.close()
            self._host.emit(EngineError(exc.user_message))

    async def _hang_up(self) -> None:
        """Close the current connection, if there is one."""

    def _closed(self) -> None:
        """Called once the session ends (on the loop); for a last usage record."""

    async def _run(self) -> None:
        failures = 0
        while not self._is_closing():
            self._healthy = False
            try:
                await self._converse()
            except asyncio.CancelledError:
                return
            except Exception as exc:
                log.warning("voice engine connection ended: %s", type(exc).__name__)
            finally:
                self._outbox.hold()  # also when the call goes on after the engine stopped (refused, lost)
                self._host.emit(ConnectionChanged(False))
            reply = self._reply
            if reply is not None and not reply.finished:
                reply.failed = not reply.interrupted
                self._finish(reply)
            if self._is_closing():
                return
            failures = 0 if self._healthy else failures + 1
            if failures > MAX_RECONNECTS:
                self._notice = None
                self._host.emit(EngineError(LOST))
                return
            self._notice = RECONNECTING
            self._host.emit(EngineError(RECONNECTING))
            await asyncio.sleep(0.2 * 2**failures)  # back off before reconnecting

    def _connected(self) -> AudioOutbox:
        """The connection is set up: clear a reconnecting notice; the user's audio (from at most
        ``OUTBOX_SECONDS`` ago: what was said while connecting is not lost) goes to the connection."""
        self._healthy = True
        if self._notice is not None:
            self._host.emit(EngineError(None, clears=self._notice))
            self._notice = None
        self._outbox.open()
        self._host.emit(ConnectionChanged(True))
        return self._outbox

    def _user_started(self, onset: float | None) -> None:
        """The user started talking: a reply being spoken is cut (with barge-in on)."""
        reply = self._reply
        if reply is not None and not reply.finished and self._host.barge_in:
            self._cut(reply, onset=onset)
        self._host.emit(UserSpeechStarted(onset))

    def _begin_reply(self, key: str, *, greeting: bool, ended_at: float | None) -> Speaking:
        if self._reply is not None and not self._reply.finished:
            self._finish(self._reply)
        self._reply = Speaking(key=key, greeting=greeting, ended_at=ended_at)
        self._host.meter.begin()
        self._host.emit(ReplyStarted(key, greeting=greeting))
        return self._reply

    def _play(self, reply: Speaking, pcm: bytes) -> None:
        pushed_at = self._host.meter.push(pcm)
        reply.pushed += len(pcm) // 2
        if reply.first_audio_at is None:
            reply.first_audio_at = pushed_at
        self._host.emit(ReplyAudio(reply.key, pcm, pushed_at))

    def _cut(self, reply: Speaking, *, onset: float | None) -> None:
        """Barge-in: clear playback now; ``onset`` is when the user started talking (our clock)."""
        cleared = self._host.meter.clear()
        reply.interrupted = True
        barge_in_ms = round((cleared - onset) * 1000, 1) if onset is not None else None
        self._host.emit(ReplyInterrupted(reply.key, barge_in_ms))
        self._finish(reply)

    def _finish_when_played(self, reply: Speaking, *, grace: float = 0.0) -> None:
        """Finish ``reply`` once its audio has played and ``grace`` seconds passed with no more of it."""
        self._spawn(self._when_played(reply, grace))

    async def _when_played(self, reply: Speaking, grace: float) -> None:
        meter = self._host.meter
        while not reply.finished:
            await meter.drained()
            idle = self._idle_for(reply)
            if idle >= grace:
                self._finish(reply)
            else:
                await asyncio.sleep(grace - idle)  # no end-of-reply event: wait out the quiet

    def _idle_for(self, reply: Speaking) -> float:
        """Seconds since the reply's last audio arrived (engines without an end-of-reply event override)."""
        return float("inf")

    def _finish(self, reply: Speaking) -> None:
        """The reply is over (played, cut or failed): report it; the recorder keeps it as heard."""
        if reply.finished:
            return
        reply.finished = True
        self._finished(reply)  # its bill first: the recorder writes a turn's usage before counting the turn
        status: ReplyStatus = "interrupted" if reply.interrupted else "failed" if reply.failed else "complete"
        self._host.emit(
            ReplyDone(
                reply.key,
                status=status,
                played_samples=self._host.meter.played_samples(),
                text=reply.text,
                error=FAILED_REPLY if reply.failed else None,
            )
        )

    def _finished(self, reply: Speaking) -> None:
        """Hook: a reply is finished, just before it is reported (for per-reply billing)."""
