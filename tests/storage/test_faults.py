"""Fault tests with real processes: Redis dies and returns, the embedded server dies and restarts, sharing."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes.servers import MongoServer, RedisServer, ServerUnavailable, free_port, unavailable
from voicechat.config import Settings
from voicechat.models import ContextMessage
from voicechat.storage.cache import RedisContextCache
from voicechat.storage.database import Database
from voicechat.storage.embedded import EmbeddedMongo, _pid_alive
from voicechat.storage.store import Store

pytestmark = pytest.mark.slow


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    server = RedisServer()
    try:
        server.start()
    except ServerUnavailable as exc:
        unavailable(str(exc))
    yield server
    server.stop()


def test_redis_dying_midway_loses_nothing_and_is_used_again(
    mongo_server: MongoServer, own_redis: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="voicechat.storage.cache")
    cache = RedisContextCache.from_url(own_redis.url, retry_after=0.0)  # retried on every call: no waiting
    db = Database.connect(mongo_server.uri + "faults_redis")
    db.ensure_indexes()
    store = Store.over(db, cache=cache, context_size=10)
    user = store.users.get_or_create(email="r@example.com", name="R")
    conv = store.conversations.create(owner_id=user.id, title="t")

    def say(text: str) -> list[str]:
        current = store.conversations.get(owner_id=user.id, conversation_id=conv.id)
        context = store.context.load(current)
        message = store.conversations.add_message(
            owner_id=user.id, conversation_id=conv.id, role="user", content=text
        )
        store.context.extend(conv.id, context, ContextMessage(id=message.id, role="user", content=text))
        return [
            m.content
            for m in store.context.load(store.conversations.get(owner_id=user.id, conversation_id=conv.id))
        ]

    assert say("one") == ["one"]
    assert cache.get(conv.id) is not None
    own_redis.kill()
    assert say("two") == ["one", "two"]  # served from MongoDB
    assert not cache.available
    assert "Redis unavailable" in caplog.text
    own_redis.start()  # same port, empty
    assert say("three") == ["one", "two", "three"]
    assert cache.available and cache.get(conv.id) is not None
    assert "reachable again" in caplog.text
    db.run(lambda raw: raw.client.drop_database("faults_redis"))
    store.close()


def test_embedded_server_is_restarted_after_it_dies(tmp_path: Path) -> None:
    settings = Settings.from_mapping({"VOICECHAT_DATA_DIR": str(tmp_path)})
    store = Store.open(settings)
    try:
        assert store.embedded is not None
        user = store.users.get_or_create(email="e@example.com", name="E")
        conv = store.conversations.create(owner_id=user.id, title="survives")
        first_pid = store.embedded.pid()
        assert first_pid is not None
        os.kill(first_pid, 9)
        # The next call notices, restarts the server on the same port, and finds the data intact.
        again = store.conversations.get(owner_id=user.id, conversation_id=conv.id)
        assert again.title == "survives"
        assert store.embedded.pid() not in (None, first_pid)
    finally:
        store.close()
    assert store.embedded is not None and store.embedded.pid() is None  # last user gone: stopped


CHILD = textwrap.dedent(
    """
    import sys
    from voicechat.config import Settings
    from voicechat.storage.store import Store
    store = Store.open(Settings.from_mapping({"VOICECHAT_DATA_DIR": sys.argv[1]}))
    user = store.users.get_or_create(email=sys.argv[2] + "@example.com", name=sys.argv[2])
    print(store.embedded.uri, store.embedded.pid(), flush=True)
    sys.stdin.readline()  # stay attached until told to exit
    store.close()
    """
)


def test_two_app_processes_share_one_embedded_server(tmp_path: Path) -> None:
    def spawn(name: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-c", CHILD, str(tmp_path), name],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=Path(__file__).parents[2],
        )

    first = spawn("one")
    assert first.stdout is not None and first.stdin is not None
    uri1, pid1 = first.stdout.readline().split()
    second = spawn("two")
    assert second.stdout is not None and second.stdin is not None
    uri2, pid2 = second.stdout.readline().split()
    assert (uri1, pid1) == (uri2, pid2)  # attached, not started twice
    first.communicate("\n", timeout=30)
    assert first.returncode == 0
    assert _pid_alive(int(pid1))  # still serving the second process
    db = Database.connect(uri2)
    assert db.run(lambda raw: raw.users.count_documents({})) == 2
    db.close()
    second.communicate("\n", timeout=30)
    assert second.returncode == 0
    assert EmbeddedMongo(tmp_path).pid() is None
    assert not _pid_alive(int(pid1))


def test_a_recorded_pid_that_is_now_another_process_is_never_signalled(tmp_path: Path) -> None:
    # After a crash or a reboot the recorded pid may belong to any process of the user's: it must survive.
    bystander = subprocess.Popen(["sleep", "120"])
    try:
        home = tmp_path / "embedded-mongo"
        home.mkdir()
        (home / "server.json").write_text(json.dumps({"pid": bystander.pid, "port": free_port()}))
        embedded = EmbeddedMongo(tmp_path)
        embedded.attach()  # the recorded server does not answer: a new one is started
        server_pid = embedded.pid()
        assert server_pid not in (None, bystander.pid)
        embedded.detach()  # the last user: our own server is stopped, recognised by its command line
        assert not _pid_alive(server_pid)
        assert bystander.poll() is None  # never signalled
    finally:
        bystander.kill()
        bystander.wait()
