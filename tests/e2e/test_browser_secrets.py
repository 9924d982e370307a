"""No API key or TURN secret reaches the browser, and no key or user content reaches the app's log.

Real Chromium records every HTTP response body (HTML, JavaScript, JSON) and every WebSocket frame while a user
chats, opens every page, and opens Talk mode; none of them may contain a configured key or the TURN secret,
only TURN credentials minted from it for this call.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time
from typing import Any

import pytest

from tests.fakes.elevenlabs_server import API_KEY as ELEVENLABS_KEY
from tests.fakes.openai_server import ChatScript, FakeOpenAI
from tests.fakes.servers import StreamlitApp

pytestmark = pytest.mark.slow
OPENAI_KEY = "sk-e2e"
PRIVATE_WORDS = "my passport number is P-4471-zebra"
TURN_SECRET = "turn-static-auth-secret-e2e-51c0"
TURN_SETTINGS = {"VOICECHAT_TURN_URLS": "turn:127.0.0.1:3478", "VOICECHAT_TURN_SECRET": TURN_SECRET}


class Recorder:
    """Everything the server sent to the page: response bodies and WebSocket frames."""

    def __init__(self, page: Any) -> None:
        self.bodies: list[bytes] = []
        self.frames: list[bytes] = []
        page.on("response", self._response)
        page.on("websocket", self._websocket)

    def _response(self, response: Any) -> None:
        try:
            self.bodies.append(response.body())
        except Exception:  # redirects and aborted requests have no body
            return

    def _websocket(self, socket: Any) -> None:
        socket.on("framereceived", self._frame)

    def _frame(self, payload: str | bytes) -> None:
        self.frames.append(payload.encode() if isinstance(payload, str) else payload)

    def containing(self, secret: str) -> int:
        needle = secret.encode()
        return sum(needle in blob for blob in self.bodies + self.frames)


@pytest.mark.parametrize("served_app", [TURN_SETTINGS], indirect=True)
def test_keys_never_reach_the_browser_or_the_log(
    served_app: StreamlitApp, fake_openai: FakeOpenAI, browser: Any
) -> None:
    fake_openai.script_chat(ChatScript(reply="I will not repeat that."))
    page = browser.new_page()
    recorder = Recorder(page)
    page.goto(served_app.url)
    page.get_by_test_id("stChatInputTextArea").fill(PRIVATE_WORDS)
    page.keyboard.press("Enter")
    page.get_by_text("I will not repeat that.").first.wait_for(timeout=30_000)  # a stale copy may show
    page.get_by_role("button", name="Start a call").click()  # the call's TURN credentials reach the page
    page.get_by_role("button", name="End call").wait_for(timeout=30_000)
    for path, heading in (
        ("voice_preferences", "Voice preferences"),
        ("history", "History"),
        ("admin_usage", "Usage"),
    ):
        page.goto(f"{served_app.url}/{path}")
        page.get_by_role("heading", name=heading).first.wait_for(timeout=30_000)
    page.close()  # every frame the page sent or received is recorded before the checks

    assert recorder.frames and recorder.bodies  # the recording saw the traffic
    assert recorder.containing(PRIVATE_WORDS) > 0  # ... including the user's own words, shown back to them
    assert recorder.containing(OPENAI_KEY) == 0
    assert recorder.containing(ELEVENLABS_KEY) == 0
    assert recorder.containing(TURN_SECRET) == 0
    # What the browser got instead: credentials minted from the secret, expiring (TURN REST scheme).
    minted = [m for blob in recorder.frames for m in re.finditer(rb"(\d{10}):([0-9a-f]{24})", blob)]
    assert minted, "Talk mode was offered no TURN server"
    username = minted[0].group(0)
    password = base64.b64encode(hmac.new(TURN_SECRET.encode(), username, hashlib.sha1).digest())
    assert recorder.containing(password.decode()) > 0
    assert int(minted[0].group(1)) > time.time()
    assert fake_openai.chat_requests()[-1].headers["authorization"] == f"Bearer {OPENAI_KEY}"

    log = served_app.output()
    assert "voicechat" in log  # the app did log its events
    for secret in (OPENAI_KEY, ELEVENLABS_KEY, TURN_SECRET, PRIVATE_WORDS, "I will not repeat that."):
        assert secret not in log
