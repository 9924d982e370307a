"""When a cascaded turn ends, and how early its words and reply are ready: the real Smart Turn model and
Silero, the fake OpenAI server's transcription socket and chat, storage on SecantusDB.

A turn ends at the pause when the turn model says the user has finished, else at the longest silence of their
patience; the words stream while they speak; a reply drafted in a pause is used when the words match and
cancelled (still billed, never stored) when the user goes on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.engine.conftest import TalkSessions
from tests.engine.live_helpers import RecordingOutput, feed, pcm16k, stored, wait_for, wait_until
from tests.fakes.audio_samples import silence_pcm
from tests.fakes.openai_server import ChatScript, FakeOpenAI
from voicechat import defaults
from voicechat.audio import smart_turn
from voicechat.audio.pcm import resample
from voicechat.audio.vad import SileroVAD
from voicechat.config import Settings
from voicechat.models import User, VoicePreferences
from voicechat.providers.base import SpeechRequest
from voicechat.providers.local.models import shared_models
from voicechat.providers.local.speech import LocalNeuralSpeech
from voicechat.storage.store import Store
from voicechat.talk.session import TalkSession
from voicechat.voices import TALK_RATE

QUESTION = "What is the capital of France?"
LONGEST_SILENCE = defaults.PATIENCE_PAUSES_MS["balanced"][1] / 1000
AFTER = LONGEST_SILENCE + 0.2  # ends a turn whatever the turn model says


@pytest.fixture(scope="module")
def question() -> bytes:
    """The question in the local neural voice (the turn model hears espeak's flat voice as unsure)."""
    voice = LocalNeuralSpeech(shared_models())
    with voice.synthesize(SpeechRequest(text=QUESTION, voice="default", model="hibari")) as stream:
        pcm = b"".join(stream)
    return resample(pcm, from_rate=voice.sample_rate, to_rate=TALK_RATE)


@pytest.fixture
def user(store: Store) -> User:
    return store.users.get_or_create(email="turns@example.com", name="Turns")


@pytest.fixture
def start(
    talk_sessions: TalkSessions, settings: Settings, user: User
) -> Callable[..., tuple[TalkSession, RecordingOutput]]:
    def make(**preferences: Any) -> tuple[TalkSession, RecordingOutput]:
        return talk_sessions.start(
            settings, user, VoicePreferences(**preferences), output_rate=24_000, vad=SileroVAD()
        )

    return make


def chat_usage(store: Store, user: User) -> list[str]:
    return [e.status for e in store.usage.events_for(user_id=user.id) if e.kind == "chat"]


def last_user_words(request: Any) -> str:
    return str([m for m in request.body["messages"] if m["role"] == "user"][-1]["content"])


def test_a_finished_question_ends_at_the_pause_and_its_drafted_reply_is_the_one_spoken(
    start: Callable[..., tuple[TalkSession, RecordingOutput]],
    fake_openai: FakeOpenAI,
    store: Store,
    user: User,
    question: bytes,
) -> None:
    fake_openai.transcript = QUESTION
    fake_openai.script_chat(ChatScript(reply="Paris."))
    session, _ = start()
    assert session.snapshot().vad == "silero + smart-turn-v3.2"
    # Half the longest silence: only the turn model can end this turn.
    feed(session, silence_pcm(0.3) + question + silence_pcm(LONGEST_SILENCE / 2))
    snap = wait_for(session, lambda s: s.turns == 1 and s.state == "listening")
    asked, answer = stored(store, user, snap.conversation_id)
    assert (asked.content, answer.content) == (QUESTION, "Paris.")
    [request] = fake_openai.chat_requests()  # the draft was the reply: no second request
    assert last_user_words(request) == QUESTION
    assert chat_usage(store, user) == ["ok"]
    assert snap.last_turn is not None and snap.last_turn.end_of_turn_ms is not None
    today = datetime.now(UTC).date()  # the dashboard charts the wait
    charted = store.turn_latency.daily(start=today, end=today, user_id=user.id)
    assert sum(charted[(today.isoformat(), "End of turn (Talk)")].values()) == 1


def test_a_pause_mid_clause_keeps_the_turn_and_the_draft_made_in_it_is_cancelled_billed_and_not_kept(
    start: Callable[..., tuple[TalkSession, RecordingOutput]],
    fake_openai: FakeOpenAI,
    store: Store,
    user: User,
) -> None:
    fake_openai.live_transcription.texts.extend(["I would like to know", "about penguins."])
    fake_openai.script_chat(
        ChatScript(reply="Penguins live in the south.", asked="I would like to know about penguins."),
        ChatScript(reply="Never spoken.", first_token_delay=1, repeat=True),  # drafts made in the pause
    )
    session, _ = start()
    feed(session, silence_pcm(0.3) + pcm16k("I would like to know") + silence_pcm(0.45))
    wait_until(lambda: bool(fake_openai.chat_requests()))  # a reply is drafted in the pause
    feed(session, pcm16k("about penguins.") + silence_pcm(AFTER))
    snap = wait_for(session, lambda s: s.turns == 1 and s.state == "listening")
    asked = [last_user_words(r) for r in fake_openai.chat_requests()]
    assert "I would like to know" in asked, asked
    messages = stored(store, user, snap.conversation_id)
    assert [(m.role, m.content) for m in messages] == [
        ("user", "I would like to know about penguins."),
        ("assistant", "Penguins live in the south."),
    ]
    requests = fake_openai.chat_requests()
    assert last_user_words(requests[-1]) == "I would like to know about penguins."
    drafts = len(requests) - 1
    assert drafts >= 1
    # A cancelled draft's call ends (and is billed) when the provider next sends something.
    wait_until(lambda: len(chat_usage(store, user)) == drafts + 1)
    assert sorted(chat_usage(store, user)) == ["interrupted"] * drafts + ["ok"]


def test_the_users_words_show_while_they_speak(
    start: Callable[..., tuple[TalkSession, RecordingOutput]], fake_openai: FakeOpenAI, question: bytes
) -> None:
    fake_openai.transcript = QUESTION
    session, _ = start()
    said = len(question) * 3 // 4 // 2 * 2
    feed(session, silence_pcm(0.3) + question[:said])  # still mid-sentence
    snap = wait_for(session, lambda s: any(line.role == "user" and line.text for line in s.transcript))
    [line] = snap.transcript
    assert QUESTION.startswith(line.text) and snap.state == "listening"
    feed(session, question[said:] + silence_pcm(AFTER))
    snap = wait_for(session, lambda s: s.turns == 1)
    assert [line.text for line in snap.transcript if line.role == "user"] == [QUESTION]


@pytest.mark.parametrize("failure", ["refused", "dropped at commit"])
def test_when_the_live_transcription_fails_the_turn_is_transcribed_from_its_recording(
    failure: str,
    start: Callable[..., tuple[TalkSession, RecordingOutput]],
    fake_openai: FakeOpenAI,
    store: Store,
    user: User,
    question: bytes,
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake_openai.transcript = QUESTION
    if failure == "refused":
        fake_openai.live_transcription.reject = True
    else:
        fake_openai.live_transcription.drop_at_commit = 1
    session, _ = start()
    with caplog.at_level(logging.WARNING, logger="voicechat"):
        feed(session, silence_pcm(0.3) + question + silence_pcm(AFTER))
        snap = wait_for(session, lambda s: s.turns == 1 and s.state == "listening")
    assert stored(store, user, snap.conversation_id)[0].content == QUESTION
    assert [r.path for r in fake_openai.requests].count("/v1/audio/transcriptions") == 1
    assert "transcribed from files" in caplog.text or "transcribing its recording" in caplog.text
    assert QUESTION not in caplog.text  # the log names the failure, never the words


@pytest.fixture
def no_turn_model(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> Iterator[None]:
    """An installation without the model file (as on a host that installs requirements.txt alone)."""
    monkeypatch.setattr(smart_turn, "smart_turn_path", lambda: tmp_path / "missing.onnx")
    smart_turn.load_turn_model.cache_clear()
    yield
    smart_turn.load_turn_model.cache_clear()


@pytest.mark.usefixtures("no_turn_model")
def test_without_the_turn_model_silence_ends_turns_and_the_panel_says_why(
    start: Callable[..., tuple[TalkSession, RecordingOutput]], fake_openai: FakeOpenAI, question: bytes
) -> None:
    session, _ = start(end_of_turn_silence_ms=400)
    assert session.snapshot().vad == "silero, silence only (the end-of-turn model is not installed)"
    feed(session, silence_pcm(0.3) + question + silence_pcm(0.6))  # the user's own silence setting
    wait_for(session, lambda s: s.turns == 1)


def test_exact_patience_waits_for_the_users_silence_with_no_turn_model(
    start: Callable[..., tuple[TalkSession, RecordingOutput]], fake_openai: FakeOpenAI, question: bytes
) -> None:
    session, _ = start(patience="exact", end_of_turn_silence_ms=1500)
    assert session.snapshot().vad == "silero, silence only"
    feed(session, silence_pcm(0.3) + question + silence_pcm(1.0))
    session.flush()  # every frame heard: the model would have ended it by now, exact patience does not
    assert session.snapshot().turns == 0 and session.snapshot().state == "listening"
    feed(session, silence_pcm(0.6))
    wait_for(session, lambda s: s.turns == 1)
