"""Take the README's screenshots: the app against the fake OpenAI server, driven in Debian's Chromium.

Usage: python docs/screenshots.py  (or make screenshots). Writes docs/screenshots/<page>.png.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).parents[1]
sys.path.insert(0, str(ROOT))

from playwright.sync_api import sync_playwright  # noqa: E402

from tests.e2e.test_browser_chat import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
from tests.fakes.audio_samples import spoken_wav  # noqa: E402
from tests.fakes.openai_server import ChatScript, FakeOpenAI  # noqa: E402
from tests.fakes.servers import StreamlitApp  # noqa: E402
from voicechat.config import Settings  # noqa: E402
from voicechat.demo import seed  # noqa: E402
from voicechat.storage.store import Store  # noqa: E402

OUT = ROOT / "docs" / "screenshots"


def demo_data(data_dir: Path) -> None:
    """Seed the embedded database under ``data_dir`` as ``make demo`` does (the server stops afterwards)."""
    store = Store.open(Settings.from_mapping({"VOICECHAT_DATA_DIR": str(data_dir)}))
    try:
        seed(store, days=90)
    finally:
        store.close()
        if store.embedded is not None:
            store.embedded.detach()


def call_in_progress(playwright: Any, app: StreamlitApp, fake: FakeOpenAI, data: Path) -> None:
    """A call: Chromium's fake microphone asks a question and the reply is being spoken."""
    fake.transcript = "How do I make the assistant wait longer before it answers?"
    fake.script_chat(
        ChatScript(
            reply="Choose Patient on Voice preferences: it waits up to two seconds of silence before it "
            "answers, so you can think aloud.",
            repeat=True,
        )
    )
    microphone = data / "question.wav"
    microphone.write_bytes(spoken_wav(fake.transcript, pad_seconds=8.0))
    browser = playwright.chromium.launch(
        executable_path=CHROMIUM,
        args=[
            *CHROMIUM_ARGS,
            "--use-fake-ui-for-media-stream",
            "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-audio-capture={microphone}",
            "--autoplay-policy=no-user-gesture-required",
        ],
    )
    context = browser.new_context(permissions=["microphone"], viewport={"width": 1280, "height": 820})
    page = context.new_page()
    page.goto(app.url)
    page.get_by_role("button", name="Start a call").click()
    page.locator(".st-key-call-screen").get_by_text("think aloud").first.wait_for(timeout=60_000)
    page.wait_for_timeout(500)
    page.screenshot(path=OUT / "call.png")
    browser.close()


def main() -> None:
    fake = FakeOpenAI().start()
    fake.script_chat(
        ChatScript(
            reply="It listens for when you have finished, answers in short sentences, and stops talking "
            "the moment you interrupt - like a person would."
        )
    )
    with tempfile.TemporaryDirectory() as data:
        demo_data(Path(data))  # the dashboard and history show ninety days of use, as after make demo
        app = StreamlitApp({"OPENAI_BASE_URL": fake.base_url, "VOICECHAT_DATA_DIR": data}).start()
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                page = browser.new_page(viewport={"width": 1280, "height": 820})
                page.goto(app.url)
                page.get_by_test_id("stChatInputTextArea").fill("What makes a voice assistant feel natural?")
                page.keyboard.press("Enter")
                page.get_by_text("like a person would").wait_for(timeout=30_000)
                page.wait_for_timeout(1000)
                page.screenshot(path=OUT / "chat.png")
                for path, marker, name in (
                    ("history", "Search your messages", "history"),
                    ("voice_preferences", "Talk mode", "voice_preferences"),
                    ("admin_usage", "Cost per day by kind", "admin_usage"),
                ):
                    page.goto(f"{app.url}/{path}")
                    page.get_by_text(marker).first.wait_for(timeout=30_000)
                    page.wait_for_timeout(5000 if name == "admin_usage" else 1500)  # charts draw late
                    page.screenshot(path=OUT / f"{name}.png", full_page=name == "admin_usage")
                browser.close()
                call_in_progress(playwright, app, fake, Path(data))
        finally:
            app.stop()
            fake.stop()
    print(f"screenshots written to {OUT}")


if __name__ == "__main__":
    main()
