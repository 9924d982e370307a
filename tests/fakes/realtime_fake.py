"""The /v1/realtime WebSocket of the fake OpenAI server: enough of the GA Realtime protocol for the reader.

On connect it sends ``session.created``; ``session.update`` is answered with ``session.updated``; each
``response.create`` is answered with ``response.created``, then base64 24 kHz PCM (as long as the text) in
``response.output_audio.delta`` events, ``response.output_audio.done``, and ``response.done`` with usage.
Scripted failures: reject the handshake (403), an ``error`` event, a failed response, or a dropped connection.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import math
import struct
from dataclasses import dataclass, field
from typing import Any, Literal

from starlette.websockets import WebSocket, WebSocketDisconnect

from tests.fakes.realtime_conversation import RealtimeConversation

SAMPLE_RATE = 24_000
Failure = Literal["reject", "error_event", "failed_response", "drop"]


def tone(start: int, count: int, sample_rate: int, frequency: float = 440.0) -> bytes:
    """``count`` samples of a sine tone from sample ``start``, as 16-bit mono PCM."""
    return b"".join(
        struct.pack("<h", int(8000 * math.sin(2 * math.pi * frequency * (start + i) / sample_rate)))
        for i in range(count)
    )


@dataclass
class RealtimeSession:
    """What one connection asked for."""

    model: str | None
    authorization: str | None
    session_updates: list[dict[str, Any]] = field(default_factory=list)
    responses: list[dict[str, Any]] = field(default_factory=list)
    items_created: list[dict[str, Any]] = field(default_factory=list)  # seeded history
    truncations: list[dict[str, Any]] = field(default_factory=list)
    user_items: list[str] = field(default_factory=list)
    turn_detection: dict[str, Any] = field(default_factory=dict)
    audio_bytes: int = 0


class FakeRealtime:
    """Scripted per test through ``failure``; ``sessions`` records every connection."""

    def __init__(self) -> None:
        self.sessions: list[RealtimeSession] = []
        self.failure: Failure | None = None
        self.fail_on_response = 1  # which response.create (1-based) of a connection fails
        self._ids = itertools.count(1)
        # Conversations (see realtime_conversation): consumed one per user turn, in order.
        self.transcripts: list[str] = []
        self.replies: list[str] = []
        self.conversation_failures: list[Failure | None] = []
        self.reject_connections = 0  # refuse this many handshakes, then accept
        self.tool_calls: list[list[tuple[str, dict[str, Any]]]] = []  # a turn answered by calling these

    def reset(self) -> None:
        """Forget scripts and recorded sessions."""
        self.sessions.clear()
        self.failure = None
        self.fail_on_response = 1
        self.transcripts.clear()
        self.replies.clear()
        self.conversation_failures.clear()
        self.reject_connections = 0
        self.tool_calls.clear()

    async def serve(self, websocket: WebSocket) -> None:
        """Handle one WebSocket connection."""
        if self.failure == "reject" or self.reject_connections > 0:
            self.reject_connections = max(0, self.reject_connections - 1)
            await websocket.close(code=1008)  # before accept: the client sees HTTP 403
            return
        session = RealtimeSession(
            model=websocket.query_params.get("model"), authorization=websocket.headers.get("authorization")
        )
        self.sessions.append(session)
        await websocket.accept()
        await self._send(websocket, "session.created", session={"type": "realtime", "model": session.model})
        conversation = RealtimeConversation(self, session, self._send)
        try:
            while True:
                event = await websocket.receive_json()
                kind = event.get("type")
                if kind == "input_audio_buffer.append":
                    if not await conversation.append(websocket, event["audio"]):
                        return
                elif kind == "conversation.item.create":
                    session.items_created.append(event["item"])
                    if event["item"].get("type") == "function_call_output":
                        conversation.tool_outputs.append(event["item"])
                elif kind == "conversation.item.truncate":
                    session.truncations.append(event)
                    fields = {k: event[k] for k in ("item_id", "content_index", "audio_end_ms")}
                    await self._send(websocket, "conversation.item.truncated", **fields)
                elif event.get("type") == "session.update":
                    session.session_updates.append(event["session"])
                    await self._send(websocket, "session.updated", session=event["session"])
                elif event.get("type") == "response.create" and conversation.tool_outputs:
                    session.responses.append(event.get("response", {}))
                    await conversation.answer_tool_outputs(websocket)
                elif event.get("type") == "response.create":
                    session.responses.append(event.get("response", {}))
                    if not await self._respond(websocket, event.get("response", {}), len(session.responses)):
                        return
        except WebSocketDisconnect:
            return

    async def _respond(self, websocket: WebSocket, response: dict[str, Any], number: int) -> bool:
        """Answer one response.create; False when the connection was dropped on purpose."""
        failing = self.failure if number == self.fail_on_response else None
        if failing == "error_event":
            error = {"type": "invalid_request_error", "code": "scripted", "message": "scripted failure"}
            await self._send(websocket, "error", error=error)
            return True
        response_id = f"resp_{next(self._ids)}"
        await self._send(websocket, "response.created", response={"id": response_id, "status": "in_progress"})
        text = "".join(
            part.get("text", "") for item in response.get("input", []) for part in item.get("content", [])
        )
        if not text and ": " in response.get("instructions", ""):  # a greeting: "Say exactly ...: <words>"
            text = response["instructions"].split(": ", 1)[1]
        samples = int(max(0.2, 0.06 * len(text)) * SAMPLE_RATE)
        chunk = SAMPLE_RATE // 10
        for start in range(0, samples, chunk):
            delta = base64.b64encode(tone(start, min(chunk, samples - start), SAMPLE_RATE)).decode()
            await self._send(websocket, "response.output_audio.delta", response_id=response_id, delta=delta)
            if failing == "drop":
                await websocket.close(code=1011)
                return False
            await asyncio.sleep(0)
        await self._send(websocket, "response.output_audio.done", response_id=response_id)
        await self._send(
            websocket, "response.output_audio_transcript.done", response_id=response_id, transcript=text
        )
        status = "failed" if failing == "failed_response" else "completed"
        details = (
            {"type": "failed", "error": {"type": "server_error", "code": "scripted"}} if failing else None
        )
        usage = {
            "input_tokens": len(text.split()) + 20,
            "output_tokens": samples // 2400,
            "total_tokens": len(text.split()) + 20 + samples // 2400,
        }
        await self._send(
            websocket,
            "response.done",
            response={"id": response_id, "status": status, "status_details": details, "usage": usage},
        )
        return True

    async def _send(self, websocket: WebSocket, kind: str, **payload: Any) -> None:
        await websocket.send_json({"type": kind, "event_id": f"event_{next(self._ids)}", **payload})
