"""Choosing a voice in real Chromium: the Voice list follows the provider (ElevenLabs' voices come from its
API), and Preview voice plays a sample of the chosen voice before anything is saved."""

from __future__ import annotations

import pytest

from tests.fakes.elevenlabs_server import FakeElevenLabs
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.servers import StreamlitApp

pytestmark = pytest.mark.slow
# The sample's audio element: loaded (a duration) and playing or played.
SAMPLE_PLAYED = """() => [...document.querySelectorAll('audio')].some(
  a => a.duration > 0 && (!a.paused || a.currentTime > 0))"""


def _choose(page: object, label: str, option: str) -> None:
    """Pick ``option`` in the ``label`` list as a keyboard user would: focus it, type, Enter."""
    box = page.get_by_role("combobox", name=label)  # type: ignore[attr-defined]
    box.click()
    box.fill(option)
    page.get_by_role("option", name=option).first.wait_for(timeout=10_000)  # type: ignore[attr-defined]
    box.press("Enter")


def _preview(page: object) -> None:
    page.get_by_role("button", name="Preview voice").click()  # type: ignore[attr-defined]
    page.wait_for_function(SAMPLE_PLAYED, timeout=30_000)  # type: ignore[attr-defined]


def test_each_provider_lists_its_voices_and_plays_a_sample_before_saving(
    browser: object, served_app: StreamlitApp, fake_openai: FakeOpenAI, fake_elevenlabs: FakeElevenLabs
) -> None:
    page = browser.new_page()  # type: ignore[attr-defined]
    page.goto(f"{served_app.url}/voice_preferences")
    page.get_by_role("heading", name="Voice preferences").wait_for(timeout=30_000)
    # Opened by its address, the page still has the app's own navigation (not one made from a folder).
    nav = page.get_by_test_id("stSidebarNav").inner_text()
    assert "Chat" in nav and "streamlit app" not in nav, nav

    _choose(page, "Voice", "Verse")
    _preview(page)
    [speech] = [r for r in fake_openai.requests if r.path == "/v1/audio/speech"]
    assert speech.body["voice"] == "verse"

    _choose(page, "Text-to-speech provider", "elevenlabs")
    voice = page.get_by_role("combobox", name="Voice")
    for _ in range(50):  # the Voice list is the account's voices now
        if voice.input_value() == "Rachel":
            break
        page.wait_for_timeout(200)
    _choose(page, "Voice", "Adam")
    page.get_by_role("button", name="Preview voice").click()
    page.wait_for_function(  # a second sample: a new clip replaces the first
        "() => document.querySelectorAll('audio').length > 0", timeout=30_000
    )
    spoken = []
    for _ in range(150):
        spoken = [r for r in fake_elevenlabs.requests if r.path.startswith("/v1/text-to-speech/")]
        if spoken:
            break
        page.wait_for_timeout(200)
    assert [r.body["voice_id"] for r in spoken] == ["voice_el_2"]
    page.wait_for_function(SAMPLE_PLAYED, timeout=30_000)
    assert any(r.path == "/v1/voices" for r in fake_elevenlabs.requests)
    page.close()
