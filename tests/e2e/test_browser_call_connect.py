"""Starting a call opens exactly one WebRTC connection, and it connects on its first try, call after call.

streamlit-webrtc 0.79's frame opened up to three connections per start (each render while its start awaited
an import started another); the server answered one offer and the answer often went to another connection,
so ICE failed after about 15 s and the frame retried: calls took 19-50 s to connect, or timed out in CI.
``ui/webrtc_frontend.py`` serves the frame with a single-flight start.
"""

from __future__ import annotations

import re

import pytest

from tests.e2e.webrtc import QUESTION, end_call, start_call
from tests.fakes.openai_server import ChatScript, FakeOpenAI
from tests.fakes.servers import StreamlitApp

pytestmark = pytest.mark.slow
CALLS = 3
# Each RTCPeerConnection the call's frame made (kept by KEEP_PEER_CONNECTIONS), with its state.
PEER_STATES = "() => (window.__peers || []).map(pc => pc.connectionState)"


def test_each_call_opens_one_connection_that_connects_first_time(
    served_app: StreamlitApp, talking_page: object, fake_openai: FakeOpenAI
) -> None:
    page = talking_page
    fake_openai.transcript = QUESTION
    fake_openai.script_chat(ChatScript(reply="Paris is the capital of France.", repeat=True))
    failed: list[str] = []
    page.on("console", lambda m: failed.append(m.text) if "connectionstatechange failed" in m.text else None)  # type: ignore[attr-defined]
    page.goto(served_app.url)  # type: ignore[attr-defined]
    for call in range(CALLS):
        start_call(page)
        screen = page.locator(".st-key-call-screen")  # type: ignore[attr-defined]
        screen.get_by_text(re.compile("Listening|Thinking|Speaking")).first.wait_for(timeout=60_000)
        [frame] = [f for f in page.frames if "webrtc_streamer" in f.url]  # type: ignore[attr-defined]
        assert frame.evaluate(PEER_STATES) == ["connected"], f"call {call + 1}"
        end_call(page)
    assert failed == []  # no connection gave up and retried
