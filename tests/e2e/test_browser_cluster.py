"""``make cluster`` in real Chromium: three app processes behind HAProxy, sharing MongoDB and Redis.

Two people chat at once on different processes; the process serving one of them is killed mid-conversation;
after the reconnect another process serves them with the whole conversation, and the rate-limit count they
had reached carries over (it lives in Redis, not in the dead process).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from bson import ObjectId
from pymongo import MongoClient

from tests.e2e.test_browser_chat import CHROMIUM, CHROMIUM_ARGS, browser_available
from tests.e2e.test_browser_sign_in import CLIENT_SECRET, COOKIE_SECRET, sign_in
from tests.fakes.oidc import OIDCProvider, write_auth_secrets
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.servers import RedisServer, free_port, unavailable

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::DeprecationWarning")]
ROOT = Path(__file__).parents[2]
TEXT_LIMIT = 3  # turns per hour: Alice uses two before the failover, one after, and the fourth is refused


@pytest.fixture
def cluster(
    mongo_uri: str, redis_server: RedisServer, fake_openai: FakeOpenAI, provider: OIDCProvider, tmp_path: Path
) -> Iterator[dict[str, Any]]:
    """``scripts/cluster.py`` (what ``make cluster`` runs) with three processes; its state file's content."""
    if shutil.which("haproxy") is None:
        unavailable("haproxy is not installed (apt-get install haproxy)")
    browser_available()
    port = free_port()
    secrets = tmp_path / "secrets.toml"
    write_auth_secrets(
        secrets,
        app_url=f"http://127.0.0.1:{port}",
        cookie_secret=COOKIE_SECRET,
        client_secret=CLIENT_SECRET,
        server_metadata_url=provider.metadata_url,
    )
    env = {k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY",)} | {
        "MONGODB_URI": mongo_uri,
        "REDIS_URL": redis_server.url,
        "OPENAI_BASE_URL": fake_openai.base_url,
        "OPENAI_API_KEY": "sk-e2e",
        "VOICECHAT_ALLOWED_USERS": "@example.com",
        "VOICECHAT_ICE_SERVERS": "[]",
        "VOICECHAT_TEXT_RATE_LIMIT": f"{TEXT_LIMIT}/hour",
    }
    data = tmp_path / "data"
    command = [
        sys.executable, "scripts/cluster.py", "--processes", "3", "--port", str(port),
        "--data-dir", str(data), "--", "--secrets.files", str(secrets),
    ]  # fmt: skip
    process = subprocess.Popen(command, cwd=ROOT, env=env)
    state_file = data / "cluster" / "state.json"
    try:
        deadline = time.monotonic() + 120
        while not state_file.exists():
            assert process.poll() is None, "the cluster script exited"
            assert time.monotonic() < deadline, "the cluster did not start"
            time.sleep(0.5)
        yield json.loads(state_file.read_text()) | {"mongo_uri": mongo_uri}
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
        for log in sorted((data / "cluster").glob("app*.log")):
            print(f"--- {log.name}\n{log.read_text()[-3000:]}")


def wait_until_stored(mongo_uri: str, conversation_id: str, count: int) -> None:
    """Until the conversation has ``count`` messages in MongoDB."""
    client: MongoClient[dict[str, Any]] = MongoClient(mongo_uri)
    try:
        query = {"conversation_id": ObjectId(conversation_id)}
        deadline = time.monotonic() + 30
        while (stored := client.get_default_database().messages.count_documents(query)) < count:
            assert time.monotonic() < deadline, f"{stored} of {count} messages stored"
            time.sleep(0.2)
    finally:
        client.close()


def replica(page: Any, url: str) -> str:
    """The process serving this browser (its cookie), as the proxy names it."""
    response = page.request.get(f"{url}/_stcore/health")
    assert response.ok
    return str(response.headers["x-voicechat-replica"])


def replica_after_failover(page: Any, url: str) -> str | None:
    """Like ``replica``, None while the proxy still finds out that a process died (a reset request)."""
    from playwright.sync_api import Error

    try:
        return replica(page, url)
    except Error:
        return None


def send(page: Any, text: str) -> None:
    page.get_by_test_id("stChatInputTextArea").fill(text)
    page.keyboard.press("Enter")


def wait_for_messages(page: Any, count: int) -> None:
    messages = page.get_by_test_id("stChatMessage")
    deadline = time.monotonic() + 30
    while messages.count() < count:
        assert time.monotonic() < deadline, f"expected {count} messages, saw {messages.count()}"
        page.wait_for_timeout(200)


def test_two_people_on_different_processes_survive_a_killed_process(
    cluster: dict[str, Any], provider: OIDCProvider
) -> None:
    from playwright.sync_api import sync_playwright

    url = cluster["url"]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        alice = sign_in(browser, url, "alice@example.com")
        alice_home = replica(alice, url)
        # Bob's browser arrives already pinned to another process (as the proxy's round robin would send
        # him), so the two are on different processes by construction, not by luck.
        other = next(name for name in cluster["replicas"] if name != alice_home)
        bob_context = browser.new_context()
        bob_context.add_cookies([{"name": "VOICECHAT_REPLICA", "value": other, "url": url}])
        bob = bob_context.new_page()
        bob.goto(url)
        bob.get_by_role("button", name="Sign in").click()
        bob.get_by_role("button", name="bob@example.com").click()
        bob.get_by_text("Signed in as bob@example.com").wait_for(timeout=30_000)
        assert replica(bob, url) == other != alice_home

        # Both chat at once (the fake echoes each question).
        send(alice, "Alice asks about lilacs")
        send(bob, "Bob asks about teal")
        wait_for_messages(alice, 2)
        wait_for_messages(bob, 2)
        alice.wait_for_url("**?c=*", timeout=30_000)
        send(alice, "Alice asks about roses")
        wait_for_messages(alice, 4)
        assert replica(alice, url) == alice_home and replica(bob, url) == other

        # The process serving Alice dies, between two of her turns (once the last reply is stored: a reply
        # still streaming when its process dies keeps only the user's message, which is stored first).
        wait_until_stored(cluster["mongo_uri"], alice.url.split("?c=")[1], 4)
        os.kill(cluster["replicas"][alice_home]["pid"], signal.SIGKILL)
        deadline = time.monotonic() + 30
        while (now := replica_after_failover(alice, url)) in (alice_home, None):
            assert time.monotonic() < deadline, "the proxy kept sending Alice to the dead process"
            time.sleep(0.5)
        assert now != alice_home
        alice.reload()
        alice.get_by_text("Alice asks about roses").first.wait_for(timeout=30_000)
        wait_for_messages(alice, 4)  # the whole conversation, from MongoDB
        assert alice.get_by_text("lilacs").count() >= 1
        assert replica(alice, url) == now  # and she stays there

        # Her two turns still count: one more is admitted, the next is refused (counted in Redis).
        send(alice, "Alice asks about tulips")
        wait_for_messages(alice, 6)
        send(alice, "Alice asks about daisies")
        alice.get_by_text(f"You have reached the limit of {TEXT_LIMIT}").first.wait_for(timeout=30_000)

        # Bob, on a process that lived, went on undisturbed.
        send(bob, "Bob asks about navy")
        wait_for_messages(bob, 4)
        assert bob.get_by_text("lilacs").count() == 0
        browser.close()
