"""A local ElevenLabs Agents conversation WebSocket (``/v1/convai/conversation``) and its signed-URL endpoint.

Protocol as in the Agents Platform WebSocket reference: the client opens with
``conversation_initiation_client_data``; the server answers ``conversation_initiation_metadata`` (PCM 16 kHz
both ways), sends a ``ping`` (expects a ``pong`` with its ``event_id``), says the ``first_message`` if one is
given, and then, for each user turn found by an energy gate over the ``user_audio_chunk`` stream:
``user_transcript``, ``agent_response`` and ``audio`` events (numbered ``event_id``s). Speech that starts
while the agent is still talking (by the wall clock: the client plays in real time) gets ``interruption``
and an ``agent_response_correction`` with the words said so far. Scripted: transcripts, replies, a dropped
connection mid-reply, refused handshakes.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import time
from dataclasses import dataclass, field
from typing import Any, Literal

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.websockets import WebSocket, WebSocketDisconnect

from tests.fakes.energy_turns import EnergyTurns
from tests.fakes.realtime_fake import tone

RATE = 16_000
AgentFailure = Literal["drop"]


@dataclass
class AgentConnection:
    """What one connection sent."""

    agent_id: str | None
    signature: str | None
    initiation: dict[str, Any] | None = None
    pongs: list[int] = field(default_factory=list)
    audio_bytes: int = 0
    interruptions: int = 0


class FakeAgent:
    """Scripted per test; ``connections`` records each one."""

    def __init__(self, api_key: str) -> None:
        self.api_key = api_key
        self.port = 0  # set by the server that mounts it
        self.connections: list[AgentConnection] = []
        self.transcripts: list[str] = []
        self.replies: list[str] = []
        self.failures: list[AgentFailure | None] = []
        self.tool_calls: list[tuple[str, dict[str, Any]]] = []  # a turn answered by calling this client tool
        self.tool_results: list[dict[str, Any]] = []  # the client_tool_result messages received
        self.reject_connections = 0
        self.signed_urls = 0
        self._ids = itertools.count(1)

    def reset(self) -> None:
        """Forget scripts and recordings."""
        self.connections.clear()
        self.transcripts.clear()
        self.replies.clear()
        self.failures.clear()
        self.tool_calls.clear()
        self.tool_results.clear()
        self.reject_connections = self.signed_urls = 0

    async def signed_url(self, request: Request) -> Response:
        """``GET /v1/convai/conversation/get-signed-url?agent_id=...`` with ``xi-api-key``."""
        if request.headers.get("xi-api-key") != self.api_key:
            return JSONResponse({"detail": {"status": "invalid_api_key"}}, status_code=401)
        self.signed_urls += 1
        agent = request.query_params.get("agent_id", "")
        url = f"ws://127.0.0.1:{self.port}/v1/convai/conversation?agent_id={agent}&conversation_signature=sig{self.signed_urls}"
        return JSONResponse({"signed_url": url})

    async def serve(self, websocket: WebSocket) -> None:
        """One conversation."""
        if self.reject_connections > 0:
            self.reject_connections -= 1
            await websocket.close(code=1008)
            return
        params = websocket.query_params
        connection = AgentConnection(params.get("agent_id"), params.get("conversation_signature"))
        self.connections.append(connection)
        await websocket.accept()
        try:
            await _Conversation(self, connection, websocket).run()
        except WebSocketDisconnect:
            return


class _Conversation:
    def __init__(self, fake: FakeAgent, connection: AgentConnection, websocket: WebSocket) -> None:
        self.fake, self.connection, self.websocket = fake, connection, websocket
        self.turns = EnergyTurns(sample_rate=RATE, silence_ms=500)
        self.speaking_until = 0.0
        self.speaking_since = 0.0
        self.saying = ""
        self.last_audio_id = 0

    async def send(self, kind: str, **payload: Any) -> None:
        await self.websocket.send_json({"type": kind, **payload})

    async def run(self) -> None:
        first = await self.websocket.receive_json()
        assert first.get("type") == "conversation_initiation_client_data", first
        self.connection.initiation = first
        meta = {
            "conversation_id": f"conv_{next(self.fake._ids)}",
            "agent_output_audio_format": "pcm_16000",
            "user_input_audio_format": "pcm_16000",
        }
        await self.send("conversation_initiation_metadata", conversation_initiation_metadata_event=meta)
        await self.send("ping", ping_event={"event_id": next(self.fake._ids), "ping_ms": 20})
        greeting = first.get("conversation_config_override", {}).get("agent", {}).get("first_message")
        if greeting:
            await self.say(greeting, failure=None)
        while True:
            message = await self.websocket.receive_json()
            if message.get("type") == "pong":
                self.connection.pongs.append(int(message["event_id"]))
            elif "user_audio_chunk" in message and not await self.hear(
                base64.b64decode(message["user_audio_chunk"])
            ):
                return

    async def hear(self, pcm: bytes) -> bool:
        self.connection.audio_bytes += len(pcm)
        for mark in self.turns.feed(pcm):
            now = time.monotonic()
            if mark.type == "started" and now < self.speaking_until:
                self.connection.interruptions += 1
                share = (now - self.speaking_since) / max(0.001, self.speaking_until - self.speaking_since)
                words = self.saying.split()
                corrected = " ".join(words[: int(len(words) * share)]) + "..."
                self.speaking_until = 0.0
                await self.send("interruption", interruption_event={"event_id": self.last_audio_id})
                await self.send(
                    "agent_response_correction",
                    agent_response_correction_event={
                        "original_agent_response": self.saying,
                        "corrected_agent_response": corrected,
                    },
                )
            elif mark.type == "stopped":
                fake = self.fake
                transcript = fake.transcripts.pop(0) if fake.transcripts else f"({mark.ms} ms of speech)"
                await self.send("user_transcript", user_transcription_event={"user_transcript": transcript})
                reply = fake.replies.pop(0) if fake.replies else f"You said: {transcript}"
                if fake.tool_calls:
                    reply = await self.call_tool(*fake.tool_calls.pop(0))
                failure = fake.failures.pop(0) if fake.failures else None
                if not await self.say(reply, failure=failure):
                    return False
        return True

    async def call_tool(self, name: str, parameters: dict[str, Any]) -> str:
        """Ask the client to run one of its tools; the reply says what it answered."""
        call_id = f"toolu_{next(self.fake._ids)}"
        call = {"tool_name": name, "tool_call_id": call_id, "parameters": parameters}
        await self.send("client_tool_call", client_tool_call=call)
        while True:
            message = await self.websocket.receive_json()
            if "user_audio_chunk" in message:
                self.connection.audio_bytes += len(base64.b64decode(message["user_audio_chunk"]))
            elif message.get("type") == "client_tool_result":
                assert message["tool_call_id"] == call_id, message
                self.fake.tool_results.append(message)
                return f"From the tool: {message['result']}"

    async def say(self, text: str, *, failure: AgentFailure | None) -> bool:
        await self.send("agent_response", agent_response_event={"agent_response": text})
        samples = int(max(0.3, 0.06 * len(text)) * RATE)
        self.saying, self.speaking_since = text, time.monotonic()
        self.speaking_until = self.speaking_since + samples / RATE
        for number, start in enumerate(range(0, samples, RATE // 10)):
            self.last_audio_id = next(self.fake._ids)
            pcm = tone(start, min(RATE // 10, samples - start), RATE, frequency=330.0)
            await self.send(
                "audio",
                audio_event={"audio_base_64": base64.b64encode(pcm).decode(), "event_id": self.last_audio_id},
            )
            if failure == "drop" and number == 1:
                await self.websocket.close(code=1011)
                return False
            await asyncio.sleep(0)
        return True
