"""A local server speaking ElevenLabs' streaming text-to-speech protocol (tests set ``ELEVENLABS_BASE_URL``).

``POST /v1/text-to-speech/{voice_id}/stream?output_format=pcm_24000`` with the key in ``xi-api-key`` streams
16-bit mono PCM (length proportional to the text). Scripted: an error status (with Retry-After), a wrong key,
a stream cut mid-way. Every request is recorded.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route, WebSocketRoute

from tests.fakes.asgi import AsgiServer
from tests.fakes.elevenlabs_agent_fake import FakeAgent
from tests.fakes.openai_server import RecordedRequest
from tests.fakes.realtime_fake import tone

API_KEY = "xi-test-key"


class FakeElevenLabs:
    """Start once, script per test (``status``, ``retry_after``, ``cut_after_chunks``), read ``requests``."""

    def __init__(self) -> None:
        self.requests: list[RecordedRequest] = []
        self.status: int | None = None
        self.retry_after: float | None = None
        self.cut_after_chunks: int | None = None
        self.agent = FakeAgent(API_KEY)
        routes = [
            Route("/v1/text-to-speech/{voice_id}/stream", self._stream, methods=["POST"]),
            Route("/v1/voices", self._voices, methods=["GET"]),
            Route("/v1/convai/conversation/get-signed-url", self.agent.signed_url, methods=["GET"]),
            WebSocketRoute("/v1/convai/conversation", self.agent.serve),
        ]
        self._server = AsgiServer(Starlette(routes=routes), name="fake-elevenlabs")

    @property
    def base_url(self) -> str:
        """What to pass as ``ELEVENLABS_BASE_URL``."""
        return f"http://127.0.0.1:{self._server.port}"

    def reset(self) -> None:
        """Forget scripts and recorded requests."""
        self.requests.clear()
        self.status = self.retry_after = self.cut_after_chunks = None
        self.agent.reset()

    def start(self) -> FakeElevenLabs:
        """Serve on 127.0.0.1 in a background thread."""
        self._server.start()
        self.agent.port = self._server.port
        return self

    def stop(self) -> None:
        """Stop serving."""
        self._server.stop()

    async def _voices(self, request: Request) -> Response:
        """The account's voices, as ``GET /v1/voices`` lists them."""
        self.requests.append(RecordedRequest(request.url.path, {}, dict(request.headers)))
        if request.headers.get("xi-api-key") != API_KEY:
            return JSONResponse({"detail": {"status": "invalid_api_key"}}, status_code=401)
        voices = [
            {"voice_id": "voice_el_1", "name": "Rachel", "category": "premade"},
            {"voice_id": "voice_el_2", "name": "Adam", "category": "premade"},
        ]
        return JSONResponse({"voices": voices})

    async def _stream(self, request: Request) -> Response:
        body: dict[str, Any] = await request.json()
        body["voice_id"] = request.path_params["voice_id"]
        body["output_format"] = request.query_params.get("output_format")
        self.requests.append(RecordedRequest(request.url.path, body, dict(request.headers)))
        if request.headers.get("xi-api-key") != API_KEY:
            return JSONResponse({"detail": {"status": "invalid_api_key"}}, status_code=401)
        if self.status is not None:
            headers = {"retry-after": str(self.retry_after)} if self.retry_after is not None else {}
            return JSONResponse({"detail": {"status": "scripted"}}, status_code=self.status, headers=headers)
        rate = int(str(body["output_format"]).removeprefix("pcm_"))
        samples = int(max(0.2, 0.06 * len(body["text"])) * rate)
        cut = self.cut_after_chunks

        async def pcm() -> AsyncIterator[bytes]:
            chunk = rate // 10
            for index, start in enumerate(range(0, samples, chunk)):
                if cut is not None and index >= cut:
                    raise ConnectionResetError("scripted cut")
                yield tone(start, min(chunk, samples - start), rate, frequency=330.0)

        return StreamingResponse(pcm(), media_type="audio/pcm")
