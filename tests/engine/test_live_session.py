"""Hands-free sessions on the real engine (VAD, turn-taking, streaming reply, barge-in, storage).

Against the fake providers over HTTP, fed with espeak-ng speech. No browser: the output is a recording buffer,
and the playback clock runs 8x fast so long replies play quickly."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import numpy as np
import pytest

from tests.engine.conftest import TalkSessions
from tests.engine.live_helpers import RecordingOutput, feed, pcm16k, stored, wait_for, wait_until
from tests.fakes.audio_samples import silence_pcm
from tests.fakes.openai_server import ChatScript, FakeOpenAI
from voicechat import defaults
from voicechat.audio.vad import SileroVAD
from voicechat.config import Settings
from voicechat.models import Patience, User, VoicePreferences
from voicechat.storage.database import parse_id
from voicechat.storage.store import Store
from voicechat.talk.session import TalkSession
from voicechat.talk.view import TalkSnapshot

# Silence after a turn: longer than the longest silence of the default (balanced) patience, so a turn ends
# whether the turn model ends it at the pause or not.
AFTER = defaults.PATIENCE_PAUSES_MS["balanced"][1] / 1000 + 0.2
LONG_REPLY = " ".join(f"This is sentence number {n} of a long answer." for n in range(1, 13))


@pytest.fixture(scope="module")
def speech() -> dict[str, bytes]:
    return {
        "question": pcm16k("What is the capital of France?"),
        "first_half": pcm16k("Hello there."),
        "second_half": pcm16k("What is the weather like in Paris?"),
        "interruption": pcm16k("Wait, stop, tell me about Berlin instead."),
    }


@pytest.fixture
def user(store: Store) -> User:
    return store.users.get_or_create(email="live@example.com", name="Live")


@pytest.fixture
def session_factory(
    talk_sessions: TalkSessions, settings: Settings, user: User
) -> Callable[..., tuple[TalkSession, RecordingOutput]]:
    def make(
        *,
        barge_in: bool = True,
        stall_timeout: float | None = None,
        greeting: str = "",
        patience: Patience = "balanced",
    ) -> tuple[TalkSession, RecordingOutput]:
        preferences = VoicePreferences(barge_in=barge_in, greeting=greeting, patience=patience)
        return talk_sessions.start(
            settings, user, preferences, output_rate=24_000, vad=SileroVAD(), stall_timeout=stall_timeout
        )

    return make


def transcription_seconds(fake: FakeOpenAI) -> list[float]:
    """Seconds of audio transcribed: each file sent, and each stretch committed on the live socket."""
    files = [
        (int(r.body["file_bytes"]) - 44) / 32_000
        for r in fake.requests
        if r.path == "/v1/audio/transcriptions"
    ]
    return files + [s for c in fake.live_transcription.connections for s in c.committed_seconds]


def voiced_seconds(pcm: bytes) -> float:
    """From the first to the last audible sample of a recording (its silence around it left out)."""
    loud = np.nonzero(np.abs(np.frombuffer(pcm, "<i2")) > 300)[0]
    return float(loud[-1] - loud[0]) / 16_000


def test_a_normal_turn_is_heard_answered_spoken_and_stored(
    session_factory,
    store: Store,
    user: User,
    fake_openai: FakeOpenAI,
    speech: dict[str, bytes],  # type: ignore[no-untyped-def]
) -> None:
    fake_openai.transcript = "What is the capital of France?"
    fake_openai.script_chat(ChatScript(reply="Paris. It is on the Seine."))
    session, output = session_factory()
    states: list[str] = []
    watcher = threading.Thread(
        target=lambda: _watch(session, states, until=lambda s: s.turns == 1), daemon=True
    )
    watcher.start()
    feed(session, silence_pcm(0.3) + speech["question"] + silence_pcm(AFTER))
    snap = wait_for(session, lambda s: s.turns == 1 and s.state == "listening")
    watcher.join(5)
    assert _collapsed(states)[:3] == ["listening", "thinking", "speaking"] and states[-1] == "listening"
    assert [(line.role, line.text) for line in snap.transcript] == [
        ("user", "What is the capital of France?"),
        ("assistant", "Paris. It is on the Seine."),
    ]
    metrics = snap.last_turn
    assert metrics is not None and metrics.voice_to_voice_ms is not None and metrics.stt_ms is not None
    assert metrics.end_of_turn_ms is not None and metrics.barge_in_ms is None
    [spoken] = transcription_seconds(fake_openai)
    assert abs(spoken - len(speech["question"]) / 32_000) < 0.5  # the whole utterance, pre-roll included
    question, answer = stored(store, user, snap.conversation_id)
    assert (question.role, question.is_voice, question.audio_id is not None) == ("user", True, True)
    assert (answer.content, answer.status, answer.interrupted) == (
        "Paris. It is on the Seine.",
        "complete",
        False,
    )
    assert answer.audio_id is not None and answer.metrics.voice_to_voice_ms is not None
    assert sum(len(p) for p in output.pushed) > 0 and output.clears == 0
    kinds = sorted(e.kind for e in store.usage.events_for(user_id=user.id))
    assert kinds == ["chat", "stt", "tts"]


def test_with_exact_patience_a_pause_shorter_than_the_silence_does_not_end_the_turn(
    session_factory,
    store: Store,
    user: User,
    fake_openai: FakeOpenAI,
    speech: dict[str, bytes],  # type: ignore[no-untyped-def]
) -> None:
    fake_openai.live_transcription.texts.extend(["Hello there.", "What is the weather like in Paris?"])
    session, _ = session_factory(patience="exact")  # silence alone: 600 ms ends a turn, no turn model
    assert session.snapshot().vad == "silero, silence only"
    feed(session, speech["first_half"] + silence_pcm(0.3) + speech["second_half"] + silence_pcm(0.8))
    snap = wait_for(session, lambda s: s.turns == 1 and s.state == "listening")
    heard = sum(transcription_seconds(fake_openai))  # one turn holding both halves
    assert heard > (len(speech["first_half"]) + len(speech["second_half"])) / 32_000
    question = stored(store, user, snap.conversation_id)[0]
    assert question.content == "Hello there. What is the weather like in Paris?"


def test_deleting_the_conversation_while_the_reply_plays_leaves_no_recording_and_no_message(
    session_factory,
    store: Store,
    user: User,
    fake_openai: FakeOpenAI,
    speech: dict[str, bytes],  # type: ignore[no-untyped-def]
) -> None:
    fake_openai.script_chat(ChatScript(reply=LONG_REPLY))
    session, _ = session_factory()
    feed(session, speech["question"] + silence_pcm(AFTER))
    snap = wait_for(session, lambda s: s.state == "speaking")
    conversation_id = snap.conversation_id
    assert conversation_id is not None
    deadline = time.monotonic() + 20  # the reply is stored once generated, while it still plays
    while len(stored(store, user, conversation_id)) < 2:
        assert time.monotonic() < deadline, "the reply was never stored"
        time.sleep(0.01)
    store.delete_conversation(owner_id=user.id, conversation_id=conversation_id)
    snap = wait_for(session, lambda s: s.state == "listening")  # the turn ends: played out, then stored
    oid = parse_id(conversation_id)
    assert store.db.run(lambda db: db.messages.count_documents({"conversation_id": oid})) == 0
    assert store.db.run(lambda db: db["audio.files"].count_documents({})) == 0  # not one orphan recording
    assert store.db.run(lambda db: db.conversations.count_documents({"_id": oid})) == 0


def test_a_call_ended_before_the_transcript_came_keeps_the_recording_on_the_message(
    session_factory,
    store: Store,
    user: User,
    fake_openai: FakeOpenAI,
    speech: dict[str, bytes],  # type: ignore[no-untyped-def]
) -> None:
    # A recording is attached together with its transcript (one write); one whose transcript never comes is
    # attached as the call ends.
    fake_openai.live_transcription.completed_delay = fake_openai.transcription_delay = 60.0
    session, _ = session_factory()
    feed(session, silence_pcm(0.3) + speech["question"] + silence_pcm(AFTER))
    snap = wait_for(session, lambda s: s.conversation_id is not None)
    wait_until(lambda: store.db.run(lambda db: db["audio.files"].count_documents({})) == 1)
    [said] = stored(store, user, snap.conversation_id)
    assert (said.status, said.audio_id) == ("pending", None)  # held for the transcript
    session.stop()  # waits for the turn (its transcript) up to the engine's limit, then ends without it
    [said] = stored(store, user, snap.conversation_id)
    assert (said.status, said.audio_id is not None) == ("pending", True)
    assert len(store.audio.get(owner_id=user.id, audio_id=str(said.audio_id)).data) > 1000


def test_a_cough_does_not_start_a_turn(session_factory, fake_openai: FakeOpenAI) -> None:  # type: ignore[no-untyped-def]
    session, _ = session_factory()
    rng = np.random.default_rng(7)
    cough = (rng.normal(0, 0.4, 1_600) * 32767).clip(-32768, 32767).astype("<i2").tobytes()  # 100 ms burst
    feed(session, silence_pcm(0.3) + cough + silence_pcm(1.5))
    session.flush()  # every frame was heard: a turn it had ended would show as "thinking" now
    assert session.snapshot().state == "listening" and session.snapshot().turns == 0
    assert not transcription_seconds(fake_openai)


def test_barge_in_stops_the_reply_stores_what_was_heard_and_captures_the_new_turn(
    session_factory,
    store: Store,
    user: User,
    fake_openai: FakeOpenAI,
    speech: dict[str, bytes],  # type: ignore[no-untyped-def]
) -> None:
    fake_openai.script_chat(
        ChatScript(reply=LONG_REPLY), ChatScript(reply="Berlin is the capital of Germany.")
    )
    session, output = session_factory()
    feed(session, speech["question"] + silence_pcm(AFTER))
    wait_for(session, lambda s: s.state == "speaking")
    time.sleep(0.2)  # the user talks over the reply a moment after it starts (1.6 s of its audio at 8x)
    feed(session, speech["interruption"])
    snap = wait_for(session, lambda s: s.turns == 1)
    assert output.clears == 1
    assert snap.last_turn is not None and snap.last_turn.barge_in_ms is not None
    assert [line for line in snap.transcript if line.role == "assistant"][-1].interrupted
    feed(session, silence_pcm(AFTER))
    snap = wait_for(session, lambda s: s.turns == 2 and s.state == "listening")
    first_reply, berlin = (
        stored(store, user, snap.conversation_id)[1],
        stored(store, user, snap.conversation_id)[3],
    )
    assert (first_reply.status, first_reply.interrupted) == ("interrupted", True)
    assert first_reply.content and LONG_REPLY.startswith(first_reply.content.rstrip("."))
    assert len(first_reply.content) < len(LONG_REPLY)
    assert berlin.content == "Berlin is the capital of Germany." and berlin.status == "complete"
    interrupting = sum(transcription_seconds(fake_openai)[1:])
    assert interrupting >= voiced_seconds(speech["interruption"])  # from its first syllable to its last
    assert ("tts", "interrupted") in [(e.kind, e.status) for e in store.usage.events_for(user_id=user.id)]


def test_a_provider_failure_mid_reply_keeps_the_text_and_the_session(
    session_factory,
    store: Store,
    user: User,
    fake_openai: FakeOpenAI,
    speech: dict[str, bytes],  # type: ignore[no-untyped-def]
) -> None:
    fake_openai.script_chat(
        ChatScript(reply="One two three four five six.", cut_after_tokens=3), ChatScript(reply="Fine.")
    )
    session, _ = session_factory()
    feed(session, speech["question"] + silence_pcm(AFTER))
    snap = wait_for(session, lambda s: s.turns == 1 and s.state == "listening")
    assert snap.error is not None
    feed(session, speech["question"] + silence_pcm(AFTER))
    snap = wait_for(session, lambda s: s.turns == 2 and s.state == "listening")
    messages = stored(store, user, snap.conversation_id)
    assert [(m.role, m.status) for m in messages] == [
        ("user", "complete"),
        ("assistant", "failed"),
        ("user", "complete"),
        ("assistant", "complete"),
    ]
    assert messages[1].content == "One two three"


def test_ten_turns_in_a_row_without_drift_or_leaks(
    session_factory,
    store: Store,
    user: User,
    fake_openai: FakeOpenAI,
    speech: dict[str, bytes],  # type: ignore[no-untyped-def]
) -> None:
    threads_before = threading.active_count()
    session, _ = session_factory()
    for turn in range(1, 11):
        fake_openai.script_chat(ChatScript(reply=f"Answer {turn}."))
        feed(session, speech["question"] + silence_pcm(AFTER))
        wait_for(session, lambda s, n=turn: s.turns == n and s.state == "listening")
    snap = session.snapshot()
    assert [line.text for line in snap.transcript if line.role == "assistant"] == [
        f"Answer {n}." for n in range(1, 11)
    ]
    assert len(stored(store, user, snap.conversation_id)) == 20
    session.stop()
    assert session.snapshot().state == "stopped"
    deadline = time.monotonic() + 5
    while threading.active_count() > threads_before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert threading.active_count() <= threads_before


def _watch(session: TalkSession, states: list[str], until: Callable[[TalkSnapshot], bool]) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        snap = session.snapshot()
        states.append(snap.state)
        if until(snap) and snap.state == "listening":
            return
        time.sleep(0.002)


def _collapsed(states: list[str]) -> list[str]:
    return [s for i, s in enumerate(states) if i == 0 or states[i - 1] != s]


def test_a_session_whose_audio_stops_ends_by_itself(session_factory) -> None:  # type: ignore[no-untyped-def]
    session, _ = session_factory(stall_timeout=0.5)
    session.push_pcm(silence_pcm(0.2))
    assert wait_for(session, lambda s: s.state == "stopped", timeout=5).state == "stopped"
    session.stop()  # idempotent


def test_the_greeting_is_spoken_first_and_not_stored(
    session_factory,
    store: Store,
    user: User,
    speech: dict[str, bytes],  # type: ignore[no-untyped-def]
) -> None:
    session, output = session_factory(greeting="Hi! What shall we talk about?")
    wait_for(session, lambda s: s.state == "speaking")
    snap = wait_for(session, lambda s: s.state == "listening")
    assert [(line.role, line.text) for line in snap.transcript] == [
        ("assistant", "Hi! What shall we talk about?")
    ]
    assert output.pushed and snap.conversation_id is None
    # Billed within the recorder's gathering time (BILL_GATHER_SECONDS), not necessarily by now.
    wait_until(
        lambda: [(e.kind, e.status) for e in store.usage.events_for(user_id=user.id)] == [("tts", "ok")]
    )


def test_a_muted_call_hears_nothing_and_hears_again_once_unmuted(
    session_factory,
    fake_openai: FakeOpenAI,
    speech: dict[str, bytes],  # type: ignore[no-untyped-def]
) -> None:
    fake_openai.transcript = "What is the capital of France?"
    fake_openai.script_chat(ChatScript(reply="Paris.", repeat=True))
    session, _ = session_factory()
    session.mute(True)
    feed(session, silence_pcm(0.3) + speech["question"] + silence_pcm(AFTER))
    session.flush()
    snap = session.snapshot()
    assert snap.muted and snap.state == "listening" and snap.turns == 0 and not snap.transcript
    assert snap.level_dbfs == float("-inf")  # the level meter reads silence too
    assert not transcription_seconds(fake_openai)
    session.mute(False)
    feed(session, silence_pcm(0.3) + speech["question"] + silence_pcm(AFTER))
    snap = wait_for(session, lambda s: s.turns == 1)
    assert not snap.muted and snap.transcript[0].text == "What is the capital of France?"
    assert snap.elapsed_s > 0
