"""A local server speaking the OpenAI wire protocol, for tests that drive the real SDK through ``base_url``.

Serves /v1/chat/completions (SSE with a usage chunk, or one JSON response), /v1/models,
/v1/audio/transcriptions, /v1/audio/speech (streamed 24 kHz PCM) and the /v1/realtime WebSocket (see
``realtime_fake``). Scripted per test: replies, error statuses with Retry-After, a stream cut mid-way, a slow
first token, failing speech and transcription. Every request is recorded.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from tests.fakes.asgi import AsgiServer
from tests.fakes.live_transcription_fake import FakeLiveTranscription
from tests.fakes.realtime_fake import FakeRealtime, tone

SPEECH_SAMPLE_RATE = 24_000


@dataclass
class ChatScript:
    """How the next chat completion behaves. ``reply`` None echoes the last user message."""

    reply: str | None = None
    status: int | None = None
    retry_after: float | None = None
    cut_after_tokens: int | None = None
    first_token_delay: float = 0.0
    token_delay: float = 0.0
    asked: str | None = None  # only for a request whose last user message is exactly this (else in order)
    repeat: bool = False  # stays queued: answers every such request
    # Calls these tools (name, arguments) instead of answering; the request that carries their results is
    # answered with what the tools returned ("From the tool: ...") after the same first-token delay.
    tool_calls: tuple[tuple[str, dict[str, Any]], ...] = ()
    after_tools: str | None = None  # the answer to the tools' results (None: what they returned)


DEFAULT_MODELS = ("gpt-6-luna", "gpt-6.1-terra", "gpt-6.1-sol")


@dataclass
class RecordedRequest:
    """A request the fake received."""

    path: str
    body: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    received_at: float = field(default_factory=time.time)  # wall clock, to order it against stored data


class FakeOpenAI:
    """The fake server: start it once, script it per test, read ``requests`` afterwards."""

    def __init__(self, *, host: str = "127.0.0.1", port: int | None = None) -> None:
        """``host``/``port``: where to serve (a container's network in the deployment test)."""
        self.requests: list[RecordedRequest] = []
        self._chat_scripts: deque[ChatScript] = deque()
        self._tool_round = ChatScript()  # the last script that called tools
        # Answer every tool result with another call (while tools are offered); refuse any request offering
        # tools with a 400 (a server whose model cannot call them).
        self.keep_calling_tools = self.refuse_tools = False
        self.transcript = "hello from the fake transcriber"
        self.models = list(DEFAULT_MODELS)
        self.shutdown_dates: dict[str, str] = {}  # model -> YYYY-MM-DD, reported in /v1/models
        self.speech_status: int | None = None  # answer /v1/audio/speech with this error status
        self.transcription_status: int | None = None  # answer transcriptions with this error status
        self.transcription_delay = 0.0
        self.speech_first_byte_delay = 0.0
        self.speech_realtime = False  # stream speech at real-time rate (benchmarks), not as fast as possible
        self.realtime = FakeRealtime()
        self.live_transcription = FakeLiveTranscription(lambda: self.transcript)  # the same words as files
        self._server = AsgiServer(
            Starlette(
                routes=[
                    Route("/v1/chat/completions", self._chat, methods=["POST"]),
                    Route("/v1/models", self._models, methods=["GET"]),
                    Route("/v1/audio/transcriptions", self._transcriptions, methods=["POST"]),
                    Route("/v1/audio/speech", self._speech, methods=["POST"]),
                    WebSocketRoute("/v1/realtime", self._realtime_socket),
                ]
            ),
            name="fake-openai",
            host=host,
            port=port,
        )
        self.port = self._server.port

    @property
    def base_url(self) -> str:
        """What to pass as ``OPENAI_BASE_URL``."""
        return f"http://127.0.0.1:{self.port}/v1"

    def script_chat(self, *scripts: ChatScript) -> None:
        """Queue behaviours for the next chat completions (then back to echoing)."""
        self._chat_scripts.extend(scripts)

    def reset(self) -> None:
        """Forget scripts and recorded requests."""
        self._chat_scripts.clear()
        self.keep_calling_tools = self.refuse_tools = False
        self.speech_status = None
        self.transcription_status = None
        self.transcription_delay = 0.0
        self.speech_first_byte_delay = 0.0
        self.speech_realtime = False
        self.transcript = "hello from the fake transcriber"
        self.realtime.reset()
        self.live_transcription.reset()
        self.shutdown_dates = {}
        self.models = list(DEFAULT_MODELS)
        self.requests.clear()

    def _next_script(self, messages: list[dict[str, Any]]) -> ChatScript:
        """The first queued script for this request: one ``asked`` its words, else the first unconditional."""
        words = _last_user_words(messages)
        matching = [s for s in self._chat_scripts if s.asked == words] or [
            s for s in self._chat_scripts if s.asked is None
        ]
        if not matching:
            return ChatScript()
        if not matching[0].repeat:
            self._chat_scripts.remove(matching[0])
        return matching[0]

    def reset_chat(self) -> None:
        """Forget chat scripts and recorded requests, keeping the latencies (between benchmark trials)."""
        self._chat_scripts.clear()
        self.keep_calling_tools = False
        self.requests.clear()
        self.live_transcription.texts.clear()

    def chat_requests(self) -> list[RecordedRequest]:
        """The recorded chat completion requests."""
        return [r for r in self.requests if r.path == "/v1/chat/completions"]

    # Server lifecycle --------------------------------------------------------------------------------

    def start(self) -> FakeOpenAI:
        """Serve on 127.0.0.1 in a background thread; returns when it accepts connections."""
        self._server.start()
        return self

    def stop(self) -> None:
        """Stop serving and join the thread."""
        self._server.stop()

    # Endpoints ---------------------------------------------------------------------------------------

    async def _realtime_socket(self, websocket: WebSocket) -> None:
        """A Realtime conversation, or (``?intent=transcription``) a transcription session."""
        if websocket.query_params.get("intent") == "transcription":
            await self.live_transcription.serve(websocket)
        else:
            await self.realtime.serve(websocket)

    async def _chat(self, request: Request) -> Response:
        body = await request.json()
        self.requests.append(RecordedRequest(request.url.path, body, dict(request.headers)))
        if self.refuse_tools and body.get("tools"):  # as Ollama answers for a model without tool support
            error = {"message": "model does not support tools", "type": "invalid_request_error", "code": None}
            return JSONResponse({"error": error}, status_code=400)
        if body["messages"][-1].get("role") == "tool" and self.keep_calling_tools and body.get("tools"):
            first_tool = body["tools"][0]["function"]["name"]
            script = replace(self._tool_round, tool_calls=((first_tool, {}),))
        elif body["messages"][-1].get("role") == "tool":
            answer = self._tool_round.after_tools or _from_tools(body["messages"])
            script = replace(self._tool_round, reply=answer, tool_calls=(), repeat=False, asked=None)
        else:
            script = self._next_script(body["messages"])
        if script.tool_calls and body.get("stream"):
            self._tool_round = script  # its results are answered at its pace
            return StreamingResponse(self._stream_calls(body, script), media_type="text/event-stream")
        if script.status is not None:
            headers = {"retry-after": str(script.retry_after)} if script.retry_after is not None else {}
            return JSONResponse(
                {"error": {"message": f"scripted {script.status}", "type": "scripted", "code": None}},
                status_code=script.status,
                headers=headers,
            )
        reply = script.reply if script.reply is not None else _echo(body["messages"])
        tokens = _tokens(reply)
        cap = body.get("max_completion_tokens") or body.get("max_tokens")
        finish_reason = "length" if cap is not None and len(tokens) > cap else "stop"
        tokens = tokens[:cap] if cap is not None else tokens  # as the real API stops at the cap
        prompt_tokens = sum(len(str(m.get("content", "")).split()) for m in body["messages"])
        if not body.get("stream"):
            return JSONResponse(_completion(body["model"], "".join(tokens), prompt_tokens, len(tokens)))
        return StreamingResponse(
            self._stream(body, script, tokens, prompt_tokens, finish_reason), media_type="text/event-stream"
        )

    async def _stream(
        self,
        body: dict[str, Any],
        script: ChatScript,
        tokens: list[str],
        prompt_tokens: int,
        finish_reason: str,
    ) -> AsyncIterator[bytes]:
        model = body["model"]
        await asyncio.sleep(script.first_token_delay)
        yield _sse(_chunk(model, {"role": "assistant", "content": ""}))
        for index, token in enumerate(tokens):
            if script.cut_after_tokens is not None and index >= script.cut_after_tokens:
                raise ConnectionResetError("scripted cut")  # uvicorn drops the connection mid-body
            yield _sse(_chunk(model, {"content": token}))
            if script.token_delay:
                await asyncio.sleep(script.token_delay)
        yield _sse(_chunk(model, {}, finish_reason=finish_reason))
        if (body.get("stream_options") or {}).get("include_usage"):
            usage = {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": len(tokens),
                "total_tokens": prompt_tokens + len(tokens),
            }
            yield _sse({**_chunk(model, {}), "choices": [], "usage": usage})
        yield b"data: [DONE]\n\n"

    async def _stream_calls(self, body: dict[str, Any], script: ChatScript) -> AsyncIterator[bytes]:
        """Tool calls as the API streams them: each call's id and name, then its arguments in two pieces."""
        model = body["model"]
        await asyncio.sleep(script.first_token_delay)
        yield _sse(_chunk(model, {"role": "assistant", "content": None}))
        for index, (name, arguments) in enumerate(script.tool_calls):
            text = json.dumps(arguments)
            head = {"index": index, "id": f"call_{index}_{name}", "type": "function"}
            yield _sse(_chunk(model, {"tool_calls": [{**head, "function": {"name": name, "arguments": ""}}]}))
            for piece in (text[: len(text) // 2], text[len(text) // 2 :]):
                yield _sse(
                    _chunk(model, {"tool_calls": [{"index": index, "function": {"arguments": piece}}]})
                )
        yield _sse(_chunk(model, {}, finish_reason="tool_calls"))
        if (body.get("stream_options") or {}).get("include_usage"):
            usage = {"prompt_tokens": 10, "completion_tokens": 5 * len(script.tool_calls), "total_tokens": 0}
            yield _sse({**_chunk(model, {}), "choices": [], "usage": usage})
        yield b"data: [DONE]\n\n"

    async def _models(self, request: Request) -> Response:
        self.requests.append(RecordedRequest(request.url.path))
        data = [
            {
                "id": m,
                "object": "model",
                "created": 0,
                "owned_by": "fake",
                "shutdown_date": self.shutdown_dates.get(m),
            }
            for m in self.models
        ]
        return JSONResponse({"object": "list", "data": data})

    async def _transcriptions(self, request: Request) -> Response:
        async with request.form() as form:
            fields = {k: v for k, v in form.items() if isinstance(v, str)}
            upload = form.get("file")
            fields["file_bytes"] = (
                str(len(await upload.read())) if upload is not None and not isinstance(upload, str) else "0"
            )
        self.requests.append(RecordedRequest(request.url.path, fields))
        await asyncio.sleep(self.transcription_delay)
        if self.transcription_status is not None:
            return JSONResponse(
                {"error": {"message": "scripted", "type": "scripted"}}, status_code=self.transcription_status
            )
        return JSONResponse({"text": self.transcript})

    async def _speech(self, request: Request) -> Response:
        body = await request.json()
        self.requests.append(RecordedRequest(request.url.path, body))
        if self.speech_status is not None:
            return JSONResponse(
                {"error": {"message": "scripted", "type": "scripted"}}, status_code=self.speech_status
            )
        seconds = max(0.2, 0.06 * len(str(body.get("input", ""))) / float(body.get("speed") or 1.0))

        first_byte_delay, realtime = self.speech_first_byte_delay, self.speech_realtime

        async def pcm() -> AsyncIterator[bytes]:
            chunk = SPEECH_SAMPLE_RATE // 10
            await asyncio.sleep(first_byte_delay)
            for start in range(0, int(seconds * SPEECH_SAMPLE_RATE), chunk):
                yield tone(start, chunk, SPEECH_SAMPLE_RATE)
                if realtime:
                    await asyncio.sleep(chunk / SPEECH_SAMPLE_RATE)

        return StreamingResponse(pcm(), media_type="audio/pcm")


def _last_user_words(messages: list[dict[str, Any]]) -> str:
    return str(next((m for m in reversed(messages) if m.get("role") == "user"), {}).get("content", ""))


def _from_tools(messages: list[dict[str, Any]]) -> str:
    """A reply that uses the tools' results: each result's data, in order."""
    results = []
    for message in reversed(messages):
        if message.get("role") != "tool":
            break
        try:
            results.append(str(json.loads(message["content"]).get("data")))
        except (ValueError, AttributeError):
            results.append(str(message["content"]))
    return "From the tool: " + " | ".join(reversed(results))


def _echo(messages: list[dict[str, Any]]) -> str:
    last = next((m for m in reversed(messages) if m.get("role") == "user"), {"content": ""})
    return f"You said: {last['content']}"


def _tokens(text: str) -> list[str]:
    words = text.split(" ")
    return [word if i == 0 else " " + word for i, word in enumerate(words)]


def _chunk(model: str, delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
    }


def _completion(model: str, reply: str, prompt_tokens: int, completion_tokens: int) -> dict[str, Any]:
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": reply}, "finish_reason": "stop"}
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


def _sse(payload: dict[str, Any]) -> bytes:
    return f"data: {json.dumps(payload)}\n\n".encode()


if __name__ == "__main__":  # serve it by hand: python -m tests.fakes.openai_server [host port]
    import sys

    fake = FakeOpenAI(host=sys.argv[1], port=int(sys.argv[2])) if len(sys.argv) == 3 else FakeOpenAI()
    fake.start()
    print(f"OPENAI_BASE_URL={fake.base_url}", flush=True)
    threading.Event().wait()
