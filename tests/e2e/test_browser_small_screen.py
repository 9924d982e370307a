"""Every page on a phone-sized screen (390x844): no horizontal scrolling, with demo data on the dashboard."""

from __future__ import annotations

import pytest

from tests.fakes.servers import StreamlitApp
from voicechat.demo import seed
from voicechat.storage.cache import MemoryContextCache
from voicechat.storage.database import Database
from voicechat.storage.store import Store

pytestmark = pytest.mark.slow
PAGES = (
    ("", None),  # the chat: its message box
    ("history", "Search your messages"),
    ("voice_preferences", "Voice preferences"),
    ("admin_usage", "Cost per day by kind"),
)
NO_SIDEWAYS_SCROLL = "() => document.documentElement.scrollWidth <= window.innerWidth"


def test_every_page_fits_a_phone_screen(browser: object, served_app: StreamlitApp, mongo_uri: str) -> None:
    db = Database.connect(mongo_uri)
    try:
        seed(Store.over(db, cache=MemoryContextCache(), context_size=10), days=20)  # a full dashboard
    finally:
        db.close()
    page = browser.new_page(viewport={"width": 390, "height": 844})  # type: ignore[attr-defined]
    for path, marker in PAGES:
        page.goto(f"{served_app.url}/{path}")
        shown = page.get_by_text(marker).first if marker else page.get_by_test_id("stChatInputTextArea")
        shown.wait_for(timeout=30_000)
        page.wait_for_timeout(1_000)  # charts and tables lay themselves out
        width = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
        assert page.evaluate(NO_SIDEWAYS_SCROLL), f"/{path} scrolls sideways: {width}"
