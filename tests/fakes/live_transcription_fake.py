"""The realtime transcription socket of the fake OpenAI server (``/v1/realtime?intent=transcription``).

Standard behaviour (``../shared/BENCHMARKS.md``): while audio is appended, a ``...transcription.delta`` every
200 ms of audio (the next word of the item's text); after ``input_audio_buffer.commit``,
``input_audio_buffer.committed`` at once and ``...transcription.completed`` (the whole text, usage by
duration) ``completed_delay`` seconds later. Every client event is validated with the SDK's own types.
Scripted failures: refuse every handshake or the next N, or drop the connection at its Nth commit (every
connection, or the next N). ``handshakes`` counts every connection attempt, refused ones included.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from openai.types.realtime import (
    InputAudioBufferAppendEvent,
    InputAudioBufferClearEvent,
    InputAudioBufferCommitEvent,
    RealtimeTranscriptionSessionCreateRequest,
)
from starlette.websockets import WebSocket, WebSocketDisconnect

RATE = 24_000
DELTA_EVERY_SECONDS = 0.2
SILENT = 300  # peak sample value of an item with no speech in it
CLIENT_EVENTS = {
    "input_audio_buffer.append": InputAudioBufferAppendEvent,
    "input_audio_buffer.commit": InputAudioBufferCommitEvent,
    "input_audio_buffer.clear": InputAudioBufferClearEvent,
}


@dataclass
class TranscriptionSession:
    """What one connection asked for."""

    authorization: str | None
    sessions: list[dict[str, Any]] = field(default_factory=list)  # session.update payloads
    commits: int = 0
    clears: int = 0
    appended_seconds: float = 0.0
    committed_texts: list[str] = field(default_factory=list)
    committed_seconds: list[float] = field(default_factory=list)


class FakeLiveTranscription:
    """Scripted per test: ``texts`` (one per committed item, else ``default_text()``, so an utterance
    committed in several stretches repeats it: script ``texts`` for speech with pauses), delays, failures."""

    def __init__(self, default_text: Callable[[], str]) -> None:
        self.default_text = default_text
        self.texts: deque[str] = deque()
        self.completed_delay = 0.15
        self.reject = False
        self.refuse_handshakes = 0  # refuse this many handshakes, then accept
        self.drop_at_commit: int | None = None  # close the socket at this commit (1-based), answering nothing
        self.drops_left: int | None = None  # connections that drop at ``drop_at_commit`` (None: every one)
        self.empty_at_commit: int | None = None  # refuse this commit as empty (the error the service sends)
        self.handshakes = 0
        self.connections: list[TranscriptionSession] = []
        self._ids = itertools.count(1)

    def reset(self) -> None:
        """Forget scripts and recorded connections."""
        self.texts.clear()
        self.completed_delay = 0.15
        self.reject = False
        self.refuse_handshakes = 0
        self.drop_at_commit = None
        self.drops_left = None
        self.empty_at_commit = None
        self.handshakes = 0
        self.connections.clear()

    async def serve(self, websocket: WebSocket) -> None:
        """Handle one transcription connection."""
        self.handshakes += 1
        if self.reject or self.refuse_handshakes > 0:
            self.refuse_handshakes = max(0, self.refuse_handshakes - 1)
            await websocket.close(code=1008)
            return
        record = TranscriptionSession(authorization=websocket.headers.get("authorization"))
        self.connections.append(record)
        await websocket.accept()
        await self._send(websocket, "session.created", session={"type": "transcription"})
        item = _Buffer(f"item_{next(self._ids)}", self._next_text())
        pending: set[asyncio.Task[None]] = set()
        try:
            while True:
                event = await websocket.receive_json()
                kind = event.get("type")
                if kind == "session.update":
                    session = RealtimeTranscriptionSessionCreateRequest.model_validate(event["session"])
                    record.sessions.append(session.model_dump(exclude_unset=True))
                    await self._send(websocket, "session.updated", session=event["session"])
                    continue
                CLIENT_EVENTS[kind].model_validate(event)  # KeyError: an event this socket does not take
                if kind == "input_audio_buffer.append":
                    audio = base64.b64decode(event["audio"])
                    record.appended_seconds += len(audio) / 2 / RATE
                    for word in item.hear(audio):
                        await self._send(
                            websocket,
                            "conversation.item.input_audio_transcription.delta",
                            item_id=item.id,
                            content_index=0,
                            delta=word,
                        )
                elif kind == "input_audio_buffer.clear":
                    record.clears += 1
                    item = item.emptied()
                    await self._send(websocket, "input_audio_buffer.cleared")
                else:
                    after = await self._commit(websocket, record, item, pending)
                    if after is None:
                        return
                    item = after
        except WebSocketDisconnect:
            return
        finally:
            for task in pending:
                task.cancel()

    async def _commit(
        self,
        websocket: WebSocket,
        record: TranscriptionSession,
        item: _Buffer,
        pending: set[asyncio.Task[None]],
    ) -> _Buffer | None:
        """Answer ``input_audio_buffer.commit``: the next item's buffer, None once the socket is dropped."""
        if item.seconds < 0.1 or record.commits + 1 == self.empty_at_commit:
            if item.seconds >= 0.1:  # a scripted refusal: counted, and its audio dropped
                record.commits += 1
                item = _Buffer(f"item_{next(self._ids)}", self._next_text())
            error = {"type": "invalid_request_error", "code": "input_audio_buffer_commit_empty"}
            await self._send(websocket, "error", error=error)
            return item
        record.commits += 1
        if record.commits == self.drop_at_commit and self.drops_left != 0:
            if self.drops_left is not None:
                self.drops_left -= 1
            await websocket.close(code=1011)
            return None
        record.committed_texts.append(item.text)
        record.committed_seconds.append(item.seconds)
        await self._send(websocket, "input_audio_buffer.committed", item_id=item.id)
        task = asyncio.create_task(self._complete(websocket, item))
        pending.add(task)
        task.add_done_callback(pending.discard)
        return _Buffer(f"item_{next(self._ids)}", self._next_text())

    def _next_text(self) -> str:
        return self.texts.popleft() if self.texts else self.default_text()

    async def _complete(self, websocket: WebSocket, item: _Buffer) -> None:
        await asyncio.sleep(self.completed_delay)
        await self._send(
            websocket,
            "conversation.item.input_audio_transcription.completed",
            item_id=item.id,
            content_index=0,
            transcript=item.text,
            usage={"type": "duration", "seconds": round(item.seconds, 3)},
        )

    async def _send(self, websocket: WebSocket, kind: str, **payload: Any) -> None:
        await websocket.send_json({"type": kind, "event_id": f"event_{next(self._ids)}", **payload})


class _Buffer:
    """The audio appended since the last commit, and the words of its text released so far (an item of
    silence, with no sample louder than ``SILENT``, is transcribed as nothing, as the real service does)."""

    def __init__(self, item_id: str, text: str) -> None:
        self.id, self._text = item_id, text
        self.seconds = 0.0
        self._quiet = 0.0
        self.loud = False
        self._words = text.split(" ")
        self._released = 0

    def emptied(self) -> _Buffer:
        """The same item with its audio dropped (``input_audio_buffer.clear``)."""
        return _Buffer(self.id, self._text)

    @property
    def text(self) -> str:
        """The item's transcript."""
        return self._text if self.loud else ""

    def hear(self, audio: bytes) -> list[str]:
        """Add 24 kHz PCM; the words it releases (one per 200 ms of audio once anything was heard)."""
        self.seconds += len(audio) / 2 / RATE
        self.loud = self.loud or (bool(audio) and int(np.abs(np.frombuffer(audio, "<i2")).max()) > SILENT)
        if not self.loud:
            self._quiet = self.seconds  # words come with speech, not with the silence before it
            return []
        due = min(len(self._words), int((self.seconds - self._quiet) / DELTA_EVERY_SECONDS))
        words = [w if i == 0 else " " + w for i, w in enumerate(self._words)][self._released : due]
        self._released = max(self._released, due)
        return words
