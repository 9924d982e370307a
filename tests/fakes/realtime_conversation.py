"""The conversational side of the fake Realtime WebSocket: server-side turn detection and spoken replies.

A connection that appends input audio gets GA Realtime events back: ``input_audio_buffer.speech_started`` /
``speech_stopped`` (from an energy gate, with ``audio_*_ms`` in the stream's own time), ``committed``, then a
response: ``response.created``, ``response.output_item.added``, the user's transcript
(``conversation.item.input_audio_transcription.completed``, late, as the real service sends it), audio and
transcript deltas interleaved, ``response.output_audio.done``, ``response.output_audio_transcript.done`` and
``response.done`` with usage. Scripted per reply through the ``FakeRealtime``: transcripts, reply texts, and
failures (``error_event``, ``failed_response``, ``drop`` mid-reply).
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from starlette.websockets import WebSocket

from tests.fakes.energy_turns import EnergyTurns

if TYPE_CHECKING:
    from tests.fakes.realtime_fake import Failure, FakeRealtime, RealtimeSession

RATE = 24_000
PREFIX_PADDING_MS = 300
Send = Callable[..., Awaitable[None]]


class RealtimeConversation:
    """One connection's conversation state."""

    def __init__(self, fake: FakeRealtime, session: RealtimeSession, send: Send) -> None:
        self._fake, self._session, self._send = fake, session, send
        self._turns: EnergyTurns | None = None
        self._item: str | None = None
        self._count = 0
        self.tool_outputs: list[dict[str, Any]] = []  # function_call_output items waiting for response.create

    def _detector(self) -> EnergyTurns:
        if self._turns is None:
            detection = {}
            for update in self._session.session_updates:
                detection = update.get("audio", {}).get("input", {}).get("turn_detection") or detection
            self._session.turn_detection = detection
            self._turns = EnergyTurns(
                sample_rate=RATE, silence_ms=int(detection.get("silence_duration_ms", 500))
            )
        return self._turns

    def _next_id(self, prefix: str) -> str:
        self._count += 1
        return f"{prefix}_{self._count}"

    async def append(self, websocket: WebSocket, audio: str) -> bool:
        """Take appended audio; False when the connection was dropped on purpose."""
        pcm = base64.b64decode(audio)
        self._session.audio_bytes += len(pcm)
        for mark in self._detector().feed(pcm):
            if mark.type == "started":
                self._item = self._next_id("item_user")
                start = max(0, mark.ms - PREFIX_PADDING_MS)
                await self._send(
                    websocket, "input_audio_buffer.speech_started", audio_start_ms=start, item_id=self._item
                )
            elif self._item is not None:
                item, self._item = self._item, None
                await self._send(
                    websocket, "input_audio_buffer.speech_stopped", audio_end_ms=mark.ms, item_id=item
                )
                await self._send(
                    websocket, "input_audio_buffer.committed", item_id=item, previous_item_id=None
                )
                if not await self._respond(websocket, item, mark.ms):
                    return False
        return True

    async def _respond(self, websocket: WebSocket, user_item: str, heard_ms: int) -> bool:
        fake, send = self._fake, self._send
        transcript = fake.transcripts.pop(0) if fake.transcripts else f"({heard_ms} ms of speech)"
        reply = fake.replies.pop(0) if fake.replies else f"You said: {transcript}"
        failure = fake.conversation_failures.pop(0) if fake.conversation_failures else None
        self._session.user_items.append(user_item)
        if failure == "error_event":
            error = {"type": "server_error", "code": "scripted", "message": "scripted failure"}
            await send(websocket, "error", error=error)
            await self._transcribed(websocket, user_item, transcript)
            return True
        if fake.tool_calls:
            await self._call_tools(websocket, fake.tool_calls.pop(0), user_item, transcript)
            return True
        return await self._speak(
            websocket, reply, heard_ms, failure, user_item=user_item, transcript=transcript
        )

    async def answer_tool_outputs(self, websocket: WebSocket) -> bool:
        """A ``response.create`` after the client sent its ``function_call_output`` items: a spoken reply that
        uses them ("From the tool: ...")."""
        outputs, self.tool_outputs = self.tool_outputs, []
        data = []
        for output in outputs:
            try:
                data.append(str(json.loads(output["output"]).get("data")))
            except (ValueError, AttributeError):
                data.append(str(output["output"]))
        return await self._speak(websocket, "From the tool: " + " | ".join(data), 0, None)

    async def _call_tools(
        self, websocket: WebSocket, calls: list[tuple[str, dict[str, Any]]], user_item: str, transcript: str
    ) -> None:
        """A response that only calls functions, as the GA API streams it."""
        send = self._send
        response_id = self._next_id("resp")
        await self._created(websocket, response_id)
        await self._transcribed(websocket, user_item, transcript)
        items = []
        for index, (name, arguments) in enumerate(calls):
            item_id, call_id = self._next_id("item_call"), self._next_id("call")
            text = json.dumps(arguments)
            item = {
                "id": item_id,
                "type": "function_call",
                "status": "in_progress",
                "call_id": call_id,
                "name": name,
                "arguments": "",
            }
            await send(
                websocket,
                "response.output_item.added",
                response_id=response_id,
                output_index=index,
                item=item,
            )
            where = {
                "response_id": response_id,
                "item_id": item_id,
                "output_index": index,
                "call_id": call_id,
            }
            await send(websocket, "response.function_call_arguments.delta", delta=text, **where)
            await send(websocket, "response.function_call_arguments.done", arguments=text, name=name, **where)
            done = {**item, "status": "completed", "arguments": text}
            await send(
                websocket, "response.output_item.done", response_id=response_id, output_index=index, item=done
            )
            items.append(done)
        usage = {"input_tokens": 50, "output_tokens": 10 * len(calls), "total_tokens": 0}
        response = {
            "id": response_id,
            "object": "realtime.response",
            "status": "completed",
            "output": items,
            "usage": usage,
        }
        await send(websocket, "response.done", response=response)

    async def _speak(
        self,
        websocket: WebSocket,
        reply: str,
        heard_ms: int,
        failure: Failure | None,
        *,
        user_item: str | None = None,
        transcript: str = "",
    ) -> bool:
        """A spoken reply: its audio and transcript, then ``response.done`` with usage."""
        send = self._send
        response_id, item_id = self._next_id("resp"), self._next_id("item_assistant")
        await self._created(websocket, response_id)
        item = {"id": item_id, "type": "message", "role": "assistant", "status": "in_progress", "content": []}
        await send(
            websocket, "response.output_item.added", response_id=response_id, output_index=0, item=item
        )
        if user_item is not None:
            await self._transcribed(websocket, user_item, transcript)
        where = {"response_id": response_id, "item_id": item_id, "output_index": 0, "content_index": 0}
        words = reply.split(" ")
        samples = int(max(0.3, 0.06 * len(reply)) * RATE)
        chunks = list(range(0, samples, RATE // 10))
        per_chunk = max(1, -(-len(words) // len(chunks)))
        from tests.fakes.realtime_fake import tone

        for number, start in enumerate(chunks):
            said = words[number * per_chunk : (number + 1) * per_chunk]
            if said:
                delta = " ".join(said) + (" " if (number + 1) * per_chunk < len(words) else "")
                await send(websocket, "response.output_audio_transcript.delta", delta=delta, **where)
            pcm = tone(start, min(RATE // 10, samples - start), RATE)
            await send(
                websocket, "response.output_audio.delta", delta=base64.b64encode(pcm).decode(), **where
            )
            if failure == "drop" and number == 1:
                await websocket.close(code=1011)
                return False
            await asyncio.sleep(0)
        await send(websocket, "response.output_audio.done", **where)
        await send(websocket, "response.output_audio_transcript.done", transcript=reply, **where)
        failed = failure == "failed_response"
        usage = {
            "input_tokens": 100 + heard_ms // 100,
            "output_tokens": samples // 2400 * 10,
            "total_tokens": 0,
        }
        response: dict[str, Any] = {
            "id": response_id,
            "object": "realtime.response",
            "status": "failed" if failed else "completed",
            "usage": usage,
        }
        if failed:
            response["status_details"] = {
                "type": "failed",
                "error": {"type": "server_error", "code": "scripted"},
            }
        await send(websocket, "response.done", response=response)
        return True

    async def _created(self, websocket: WebSocket, response_id: str) -> None:
        response = {"id": response_id, "object": "realtime.response", "status": "in_progress", "output": []}
        await self._send(websocket, "response.created", response=response)

    async def _transcribed(self, websocket: WebSocket, item_id: str, transcript: str) -> None:
        await self._send(
            websocket,
            "conversation.item.input_audio_transcription.completed",
            item_id=item_id,
            content_index=0,
            transcript=transcript,
            usage={"type": "duration", "seconds": 1.0},
        )
