"""A call whose process dies, in real Chromium through ``make cluster``: what the user sees and keeps.

Alice talks on one of three processes behind HAProxy; once her turn is answered and stored, that process
is killed. The call is gone with it (its WebRTC peer lived there), but the page comes back on another
process with the conversation's turn in it (MongoDB), ready to start a new call, which is answered there.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pymongo import MongoClient

from tests.e2e.test_browser_chat import CHROMIUM, CHROMIUM_ARGS
from tests.e2e.test_browser_cluster import cluster, replica, replica_after_failover  # noqa: F401
from tests.e2e.webrtc import (
    KEEP_PEER_CONNECTIONS,
    QUESTION,
    Microphone,
    inbound_audio_stats,
    microphone_args,
    start_call,
)
from tests.fakes.openai_server import ChatScript, FakeOpenAI

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::DeprecationWarning")]
REPLY = "Paris is the capital of France. It is a lovely city."


@pytest.fixture
def microphone_browser(tmp_path: Path) -> Iterator[Any]:
    """Chromium whose microphone asks the question, then waits 10 s (long enough to hear the reply)."""
    from playwright.sync_api import sync_playwright

    microphone = tmp_path / "question.wav"
    mic = Microphone(pause=10.0)
    microphone.write_bytes(mic.speak(QUESTION, pad_seconds=mic.pause))
    args = [*CHROMIUM_ARGS, *microphone_args(microphone)]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=args)
        yield browser
        browser.close()


def replies_stored(mongo_uri: str, email: str) -> list[str]:
    """The texts of every reply stored for ``email``, oldest first."""
    client: MongoClient[dict[str, Any]] = MongoClient(mongo_uri)
    try:
        db = client.get_default_database()
        user = db.users.find_one({"email": email})
        if user is None:
            return []
        query = {"owner_id": user["_id"], "role": "assistant"}
        return [m["content"] for m in db.messages.find(query).sort("created_at", 1)]
    finally:
        client.close()


def wait_for_replies(mongo_uri: str, email: str, count: int) -> list[str]:
    deadline = time.monotonic() + 60
    while len(stored := replies_stored(mongo_uri, email)) < count:
        assert time.monotonic() < deadline, f"{len(stored)} of {count} replies stored"
        time.sleep(0.3)
    return stored


def wait_for_reply_text(page: Any, console: list[str]) -> None:
    """The reply's first sentence on the page; if it never shows, what the page, the call and the browser's
    console said (a component frame the server does not serve shows there as a 404)."""
    try:
        page.get_by_text("Paris is the capital of France.").first.wait_for(timeout=60_000)
    except Exception:
        print("page:", page.inner_text("body")[-2000:])
        print("call audio:", inbound_audio_stats(page))
        print("frames:", [f.url for f in page.frames])
        print("console:", "\n".join(console[-40:]))
        raise


def test_a_call_whose_process_dies_keeps_its_turns_and_the_next_call_works_elsewhere(
    cluster: dict[str, Any],  # noqa: F811
    microphone_browser: Any,
    fake_openai: FakeOpenAI,
) -> None:
    url, mongo_uri = cluster["url"], cluster["mongo_uri"]
    fake_openai.transcript = QUESTION
    fake_openai.script_chat(ChatScript(reply=REPLY, repeat=True))
    context = microphone_browser.new_context(permissions=["microphone"])
    context.add_init_script(KEEP_PEER_CONNECTIONS)
    alice = context.new_page()
    logs: list[str] = []
    alice.on("console", lambda m: logs.append(f"{m.type}: {m.text}"[:300]))
    alice.goto(url)
    alice.get_by_role("button", name="Sign in").click()
    alice.get_by_role("button", name="alice@example.com").click()
    alice.get_by_text("Signed in as alice@example.com").wait_for(timeout=30_000)
    home = replica(alice, url)

    start_call(alice)
    wait_for_reply_text(alice, logs)
    assert wait_for_replies(mongo_uri, "alice@example.com", 1) == [REPLY]  # stored before the crash

    os.kill(cluster["replicas"][home]["pid"], signal.SIGKILL)
    deadline = time.monotonic() + 30
    while (now := replica_after_failover(alice, url)) in (home, None):
        assert time.monotonic() < deadline, "the proxy kept sending Alice to the dead process"
        time.sleep(0.5)

    # She reloads (or the page reconnects): another process serves her, the call is over, her turn is kept.
    alice.reload()
    alice.get_by_role("button", name="Start a call").wait_for(timeout=60_000)
    alice.get_by_text(QUESTION).first.wait_for(timeout=30_000)
    alice.get_by_text("Paris is the capital of France.").first.wait_for(timeout=30_000)
    assert replica(alice, url) == now

    # A new call works on the process that serves her now.
    start_call(alice)
    wait_for_replies(mongo_uri, "alice@example.com", 2)
    assert replica(alice, url) == now
