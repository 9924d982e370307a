"""A new conversation's first reply is drawn once: streamed where the rerun (which lists the conversation in
the sidebar) draws it from storage. The element that streamed it is the one that shows the stored reply
(drawn elsewhere, the old copy stayed on the page, stale, while the rerun ran: seen under load), and a DOM
sampled every 10 ms and at every change never holds two copies."""

from __future__ import annotations

import pytest

from tests.fakes.openai_server import ChatScript, FakeOpenAI

pytestmark = pytest.mark.slow
REPLY = "Paris is the capital of France, and it sits on the Seine."
SETTLED = """() => {
  clearInterval(window.__sampler);
  window.__observer.disconnect();
  const shown = [...document.querySelectorAll('[data-testid="stChatMessage"]')]
    .filter(m => m.innerText.includes('Paris is'));
  return [window.__most, shown.length === 1 && shown[0] === window.__streamed];
}"""
NO_STALE = "() => document.querySelectorAll('[data-stale=true]').length === 0"
SAMPLE = """() => {
  window.__most = 0;
  const count = () => {
    const copies = [...document.querySelectorAll('[data-testid="stChatMessage"]')]
      .filter(m => m.innerText.includes('Paris is'));
    if (copies.length && !window.__streamed) { window.__streamed = copies[0]; }
    window.__most = Math.max(window.__most, copies.length);
  };
  window.__sampler = setInterval(count, 10);
  window.__observer = new MutationObserver(count);
  window.__observer.observe(document.body, {subtree: true, childList: true, characterData: true});
}"""


def test_the_first_reply_of_a_new_conversation_is_never_on_the_page_twice(
    app_url: str, browser: object, fake_openai: FakeOpenAI
) -> None:
    fake_openai.script_chat(ChatScript(reply=REPLY, token_delay=0.05))
    page = browser.new_page()  # type: ignore[attr-defined]
    page.goto(app_url)
    page.get_by_test_id("stChatInputTextArea").wait_for(timeout=30_000)
    page.evaluate(SAMPLE)
    page.get_by_test_id("stChatInputTextArea").fill("What is the capital of France?")
    page.keyboard.press("Enter")
    sidebar = page.get_by_test_id("stSidebar")
    sidebar.get_by_role("button", name="What is the capital").wait_for(timeout=30_000)
    page.get_by_role("button", name="Regenerate").wait_for(timeout=30_000)
    page.wait_for_function(NO_STALE)
    most, same = page.evaluate(SETTLED)
    assert (most, same) == (1, True)
