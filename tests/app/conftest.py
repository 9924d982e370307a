"""Fixtures for the page tests: the app script and the test's database as the app sees it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.fakes.openai_server import FakeOpenAI
from voicechat.storage.cache import MemoryContextCache
from voicechat.storage.database import Database
from voicechat.storage.store import Store

APP = str(Path(__file__).parents[2] / "streamlit_app.py")
APP_ENVIRONMENT = (
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "MONGODB_URI",
    "REDIS_URL",
    "ELEVENLABS_API_KEY",
    "VOICECHAT_ADMINS",
)


def online_app(mongo_uri: str, fake_openai: FakeOpenAI, **secrets: str) -> AppTest:
    """The app (not yet run) on the test's database with the fake OpenAI as its provider, plus ``secrets``."""
    at = AppTest.from_file(APP, default_timeout=30)
    at.secrets["MONGODB_URI"] = mongo_uri
    at.secrets["OPENAI_API_KEY"] = "sk-test"
    at.secrets["OPENAI_BASE_URL"] = fake_openai.base_url
    for name, value in secrets.items():
        at.secrets[name] = value
    return at


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pages read settings from the environment too: only what each test puts in ``secrets`` counts."""
    for name in APP_ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def store(mongo_uri: str) -> Iterator[Store]:
    """The test's database, read and seeded independently of the app's own cached Store."""
    db = Database.connect(mongo_uri)
    db.ensure_indexes()
    yield Store.over(db, cache=MemoryContextCache(), context_size=10)
    db.close()
