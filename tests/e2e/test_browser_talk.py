"""Talk mode in real Chromium over WebRTC: the fake microphone asks a question, the live panel shows the
transcript and the reply, the reply's audio reaches the browser (inbound audio energy > 0), and both messages
are stored."""

from __future__ import annotations

import time

import pytest

from tests.e2e.test_browser_offline_talk import local_voice_wav
from tests.e2e.webrtc import (
    QUESTION,
    Microphone,
    inbound_audio_stats,
    reply_audio_energy,
    start_call,
    wait_for_reply,
)
from tests.fakes.audio_samples import silence_pcm, wav_bytes
from tests.fakes.openai_server import ChatScript, FakeOpenAI
from tests.fakes.servers import StreamlitApp
from voicechat import defaults
from voicechat.audio.decode import decode_upload
from voicechat.storage.cache import MemoryContextCache
from voicechat.storage.database import Database
from voicechat.storage.store import Store

pytestmark = pytest.mark.slow


# The fake microphone loops its file: with a short pause the question comes round again while the 3 s reply
# still plays, which is a barge-in (the stored reply is then the heard part, "Paris is the capital of"). It
# happened whenever a turn took 0.3 s longer than usual, so the user here waits long enough to hear it all.
@pytest.mark.parametrize("talking_page", [Microphone(pause=10.0)], indirect=True)
def test_talk_mode_over_webrtc(
    served_app: StreamlitApp, talking_page: object, fake_openai: FakeOpenAI, mongo_uri: str
) -> None:
    page, app = talking_page, served_app
    fake_openai.transcript = QUESTION
    # Every chat request gets the reply: a draft made at a pause takes one too, and when the user goes on it
    # is cancelled, so a one-shot script would leave the real reply to the fake's default echo.
    fake_openai.script_chat(
        ChatScript(reply="Paris is the capital of France. It is a lovely city.", repeat=True)
    )
    page.goto(app.url)  # type: ignore[attr-defined]
    start_call(page)
    wait_for_reply(page, app, "Paris is the capital of France.")
    page.get_by_text(QUESTION).first.wait_for(timeout=10_000)  # type: ignore[attr-defined]
    energy = reply_audio_energy(page)
    assert energy > 0, inbound_audio_stats(page)  # the reply's audio arrived in the browser
    db = Database.connect(mongo_uri)
    store = Store.over(db, cache=MemoryContextCache(), context_size=10)
    try:
        user = store.users.get_or_create(email="local@localhost", name="Local user", admin=True)
        [conversation] = store.conversations.list_page(owner_id=user.id).items
        messages = store.conversations.messages_page(owner_id=user.id, conversation_id=conversation.id).items
    finally:
        db.close()
    assert [(m.role, m.content) for m in messages[:2]] == [
        ("user", QUESTION),
        ("assistant", "Paris is the capital of France. It is a lovely city."),
    ]
    assert messages[0].is_voice and messages[0].audio_id
    # Closing the tab ends the call, and the session stops (its threads joined) without waiting for a restart.
    page.close()  # type: ignore[attr-defined]
    deadline = time.monotonic() + 30
    while "talk session stopped" not in app.output() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert "talk session stopped" in app.output(), app.output()[-3000:]


def after_the_call_starts(text: str, *, pad_seconds: float) -> bytes:
    """The question in the local voice after 3 s of silence, so it usually starts once the call is up."""
    spoken = decode_upload(local_voice_wav(text, pad_seconds=pad_seconds))
    return wav_bytes(
        silence_pcm(3.0, sample_rate=spoken.sample_rate) + spoken.pcm, sample_rate=spoken.sample_rate
    )


def stored_turns(mongo_uri: str) -> int:
    """Replies stored so far (for the signed-in local user)."""
    db = Database.connect(mongo_uri)
    try:
        store = Store.over(db, cache=MemoryContextCache(), context_size=10)
        user = store.users.get_or_create(email="local@localhost", name="Local user", admin=True)
        return sum(
            sum(
                1
                for m in store.conversations.messages_page(owner_id=user.id, conversation_id=c.id).items
                if m.role == "assistant"
            )
            for c in store.conversations.list_page(owner_id=user.id).items
        )
    finally:
        db.close()


def panel_latencies(text: str) -> dict[str, float]:
    """'Last turn (ms): end of turn 229 · transcription 2 · ...' as figures by name."""
    parts = (part.strip().rsplit(" ", 1) for part in text.split(":", 1)[1].split("·"))
    return {name.strip(): float(value) for name, value in parts}


@pytest.mark.parametrize("talking_page", [Microphone(pause=8.0, speak=after_the_call_starts)], indirect=True)
def test_a_finished_question_is_answered_at_the_pause_and_the_panel_shows_how_turns_end(
    served_app: StreamlitApp, talking_page: object, fake_openai: FakeOpenAI, mongo_uri: str
) -> None:
    """Against an instant provider, the turn model ends the turn at the pause (well before the longest
    silence); the panel names it and prints the turn's latencies (the figure the latency issue asks for).

    The second turn is the one judged: the microphone loops its file from when Chromium opens it, and audio
    captured while the call still connects arrives in a burst, so a busy machine can clip the first one."""
    page, app = talking_page, served_app
    fake_openai.transcript = QUESTION
    fake_openai.script_chat(ChatScript(reply="Paris.", repeat=True))
    page.goto(app.url)  # type: ignore[attr-defined]
    start_call(page)
    page.get_by_text("End of turn: silero + smart-turn-v3.2").wait_for(timeout=60_000)  # type: ignore[attr-defined]
    latencies = page.get_by_text("Last turn (ms):").first  # type: ignore[attr-defined]
    latencies.wait_for(timeout=60_000)
    first = latencies.inner_text()
    deadline = time.monotonic() + 60
    while stored_turns(mongo_uri) < 2:
        assert time.monotonic() < deadline, "the second question was never answered"
        time.sleep(0.2)
    page.wait_for_function(  # type: ignore[attr-defined]
        "first => [...document.querySelectorAll('p')].some(p => p.innerText.startsWith('Last turn (ms):')"
        " && p.innerText !== first)",
        arg=first,
        timeout=10_000,
    )
    shown = latencies.inner_text()
    print(f"live panel, local voice question, instant provider: {shown}")
    figures = panel_latencies(shown)
    longest = defaults.PATIENCE_PAUSES_MS["balanced"][1]
    assert figures["end of turn"] < longest  # ended by the turn model at the pause, not by the silence
    assert "voice to voice" in figures
