"""Shared fixtures: real servers (Redis, SecantusDB, a fake OpenAI) and a Store on a fresh database."""

from __future__ import annotations

import gc
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes.elevenlabs_server import API_KEY as ELEVENLABS_KEY
from tests.fakes.elevenlabs_server import FakeElevenLabs
from tests.fakes.mcp_server import McpBoard
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.servers import MongoServer, RedisServer, ServerUnavailable, unavailable
from voicechat.config import Settings
from voicechat.storage.cache import ContextCache, MemoryContextCache, RedisContextCache
from voicechat.storage.database import Database
from voicechat.storage.store import Store


@pytest.fixture(autouse=True)
def _unclosed_resources_fail_their_own_test() -> Iterator[None]:
    """Collect garbage after each test, so a socket or file left open fails the test that left it."""
    yield
    gc.collect()


@pytest.fixture(scope="session")
def openai_server() -> Iterator[FakeOpenAI]:
    fake = FakeOpenAI().start()
    yield fake
    fake.stop()


@pytest.fixture
def fake_openai(openai_server: FakeOpenAI) -> FakeOpenAI:
    openai_server.reset()
    return openai_server


@pytest.fixture(scope="session")
def elevenlabs_server() -> Iterator[FakeElevenLabs]:
    fake = FakeElevenLabs().start()
    yield fake
    fake.stop()


@pytest.fixture
def fake_elevenlabs(elevenlabs_server: FakeElevenLabs) -> FakeElevenLabs:
    elevenlabs_server.reset()
    return elevenlabs_server


@pytest.fixture(scope="session")
def mcp_board() -> Iterator[McpBoard]:
    """A real MCP server (the SDK's, over streamable HTTP) shared by the tool tests; compare what it opened
    against its state before the test."""
    board = McpBoard().start()
    yield board
    board.stop()


@pytest.fixture(scope="session")
def mongo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MongoServer]:
    server = MongoServer(tmp_path_factory.mktemp("secantus"))
    try:
        server.start()
    except ServerUnavailable as exc:
        unavailable(str(exc))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer()
    try:
        server.start()
    except ServerUnavailable as exc:
        unavailable(str(exc))
    yield server
    server.stop()


def _mongo_targets() -> list[str]:
    # The contract suite runs on the embedded-type server always, and also on a real MongoDB if one is given.
    return ["secantus", "external"] if os.environ.get("MONGODB_URI") else ["secantus"]


@pytest.fixture(params=_mongo_targets())
def mongo_uri(request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh, empty database on the server under test; dropped afterwards."""
    name = f"test_{uuid.uuid4().hex[:12]}"
    if request.param == "external":
        # Same hosts and options as the given URI, with this test's own database name.
        scheme, rest = os.environ["MONGODB_URI"].split("://", 1)
        hosts = rest.split("/", 1)[0].split("?", 1)[0]
        options = rest.split("?", 1)[1] if "?" in rest else ""
        uri = f"{scheme}://{hosts}/{name}" + (f"?{options}" if options else "")
    else:
        uri = request.getfixturevalue("mongo_server").uri + name
    yield uri
    db = Database.connect(uri)
    db.run(lambda raw: raw.client.drop_database(name))
    db.close()


@pytest.fixture(params=["memory", "redis"])
def cache(request: pytest.FixtureRequest) -> ContextCache:
    if request.param == "memory":
        return MemoryContextCache()
    server: RedisServer = request.getfixturevalue("redis_server")
    return RedisContextCache.from_url(server.url)


@pytest.fixture
def store(mongo_uri: str, cache: ContextCache) -> Iterator[Store]:
    db = Database.connect(mongo_uri)
    db.ensure_indexes()
    store = Store.over(db, cache=cache, context_size=10)
    yield store
    store.close()


@pytest.fixture
def settings(fake_openai: FakeOpenAI, fake_elevenlabs: FakeElevenLabs, tmp_path: Path) -> Settings:
    return Settings.from_mapping(
        {
            "OPENAI_API_KEY": "sk-test",
            "OPENAI_BASE_URL": fake_openai.base_url,
            "ELEVENLABS_API_KEY": ELEVENLABS_KEY,
            "ELEVENLABS_BASE_URL": fake_elevenlabs.base_url,
            "VOICECHAT_DATA_DIR": str(tmp_path),
        }
    )
