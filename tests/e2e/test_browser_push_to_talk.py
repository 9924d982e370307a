"""Push-to-talk in real Chromium: the fake microphone plays an espeak-ng question, the recorder sends it, the
transcript and reply appear, the spoken reply plays by itself, and both clips replay after a reload."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.test_browser_chat import CHROMIUM, CHROMIUM_ARGS, browser_available
from tests.fakes.audio_samples import spoken_wav
from tests.fakes.openai_server import ChatScript, FakeOpenAI

pytestmark = pytest.mark.slow
QUESTION = "What is the capital of France?"
# Every <audio> on the page: loaded without error, with a duration, and whether it is playing.
AUDIO_STATE = """() => Array.from(document.querySelectorAll('audio')).map(a => ({
    ready: a.readyState, duration: a.duration, error: a.error ? a.error.code : null,
    playing: !a.paused && a.currentTime > 0}))"""


@pytest.fixture
def microphone_page(tmp_path: Path) -> Iterator[object]:
    browser_available()
    from playwright.sync_api import sync_playwright

    recording = tmp_path / "question.wav"
    recording.write_bytes(spoken_wav(QUESTION, pad_seconds=0.5))
    args = [
        *CHROMIUM_ARGS,
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-audio-capture={recording}",
        "--autoplay-policy=no-user-gesture-required",
    ]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=args)
        context = browser.new_context(permissions=["microphone"])
        yield context.new_page()
        browser.close()


def test_push_to_talk_end_to_end(app_url: str, microphone_page: object, fake_openai: FakeOpenAI) -> None:
    page = microphone_page
    fake_openai.transcript = QUESTION
    fake_openai.script_chat(ChatScript(reply="Paris is the capital of France.", token_delay=0.02))
    page.goto(app_url)  # type: ignore[attr-defined]
    recorder = page.get_by_test_id("stAudioInput")  # type: ignore[attr-defined]
    recorder.get_by_role("button", name="Record").click()
    page.wait_for_timeout(3000)  # type: ignore[attr-defined]
    recorder.get_by_role("button", name="Stop recording").click()

    messages = page.get_by_test_id("stChatMessage")  # type: ignore[attr-defined]
    messages.nth(1).get_by_text("Paris is the capital of France.").wait_for(timeout=60_000)
    assert QUESTION in messages.nth(0).inner_text()
    assert "voice message" in messages.nth(0).inner_text()
    [upload] = [r for r in fake_openai.requests if r.path == "/v1/audio/transcriptions"]
    assert int(upload.body["file_bytes"]) > 16_000 * 2 * 2  # more than two seconds of 16 kHz speech arrived

    page.wait_for_function(  # type: ignore[attr-defined]
        "() => document.querySelectorAll('audio').length === 2", timeout=30_000
    )
    page.wait_for_function(  # type: ignore[attr-defined]
        f"() => ({AUDIO_STATE})().every(a => a.ready >= 1 && a.duration > 0)", timeout=30_000
    )
    question_clip, reply_clip = page.evaluate(AUDIO_STATE)  # type: ignore[attr-defined]
    assert question_clip["error"] is None and reply_clip["error"] is None
    assert 2.0 < question_clip["duration"] < 4.5
    page.wait_for_function(  # the spoken reply starts by itself
        f"() => ({AUDIO_STATE})()[1].playing", timeout=10_000
    )

    page.wait_for_url("**?c=*", timeout=30_000)  # type: ignore[attr-defined]
    page.reload()  # type: ignore[attr-defined]
    messages.nth(1).get_by_text("Paris is the capital of France.").wait_for(timeout=30_000)
    loaded = f"(({AUDIO_STATE})().every(a => a.ready >= 1 && a.duration > 0))"
    page.wait_for_function(  # type: ignore[attr-defined]
        f"() => ({AUDIO_STATE})().length === 2 && {loaded}", timeout=30_000
    )
    assert not any(a["playing"] for a in page.evaluate(AUDIO_STATE))  # type: ignore[attr-defined]
