"""What every voice benchmark stands on: SecantusDB in its own process, a Store over it, and settings that
point the real SDKs at a fake provider (in this process, or in its own one for load tests)."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1]))

from tests.fakes.servers import MongoServer
from voicechat.config import Settings
from voicechat.storage.cache import MemoryContextCache
from voicechat.storage.database import Database
from voicechat.storage.embedded import CLIENT_OPTIONS
from voicechat.storage.store import Store

ROOT = Path(__file__).parents[1]


@contextmanager
def bench_store(name: str) -> Iterator[Store]:
    """A Store on a fresh SecantusDB database, stopped afterwards."""
    with tempfile.TemporaryDirectory() as tmp:
        mongo = MongoServer(Path(tmp) / "db")
        mongo.start()
        db = Database.connect(f"{mongo.uri}{name}?{CLIENT_OPTIONS}")  # as the app's embedded server
        db.ensure_indexes()
        store = Store.over(db, cache=MemoryContextCache(), context_size=30)
        try:
            yield store
        finally:
            store.close()
            mongo.stop()


def bench_settings(base_url: str) -> Settings:
    """Settings for the fake provider at ``base_url`` (the speech endpoint route, whatever today's date)."""
    return Settings.from_mapping(
        {
            "OPENAI_API_KEY": "sk-bench",
            "OPENAI_BASE_URL": base_url,
            "VOICECHAT_SPEECH_ROUTE": "speech-endpoint",
        }
    )


@contextmanager
def fake_provider_process() -> Iterator[str]:
    """The fake OpenAI server in its own process (as a remote API would be); yields its base URL."""
    fake = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.openai_server"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert fake.stdout is not None
        yield fake.stdout.readline().strip().split("=", 1)[1]
    finally:
        fake.terminate()
        fake.wait(10)
