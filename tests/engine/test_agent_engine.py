"""Talk mode on the ElevenLabs Agents engine, against the fake conversation WebSocket.

Turn (initiation overrides, signed URL, ping/pong, storage and per-minute usage), a public agent without a
key, barge-in with the agent's correction, a dropped connection (reconnect with the history in the prompt),
a refused connection, and the greeting as the agent's first message. The playback clock is real time here:
the fake agent, like the real one, judges interruptions by the wall clock."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from tests.engine.conftest import TalkSessions
from tests.engine.live_helpers import RecordingOutput, feed, pcm16k, stored, wait_for, wait_until
from tests.fakes.audio_samples import silence_pcm
from tests.fakes.elevenlabs_server import FakeElevenLabs
from voicechat.config import Settings
from voicechat.models import User, VoicePreferences
from voicechat.storage.store import Store
from voicechat.talk.session import TalkSession
from voicechat.talk.speech_to_speech.connected import LOST
from voicechat.tools.runner import DATA_NOTE

LONG_REPLY = " ".join(f"This is sentence number {n} of a long spoken answer." for n in range(1, 13))
Factory = Callable[..., tuple[TalkSession, RecordingOutput]]


@pytest.fixture(scope="module")
def question() -> bytes:
    return silence_pcm(0.2) + pcm16k("What is the capital of France?") + silence_pcm(0.8)


@pytest.fixture
def user(store: Store) -> User:
    return store.users.get_or_create(email="agent@example.com", name="Alex")


@pytest.fixture
def agent_settings(settings: Settings) -> Settings:
    return replace(settings, elevenlabs_agent_id="agent_test", elevenlabs_agent_price_per_minute=0.12)


@pytest.fixture
def session_factory(talk_sessions: TalkSessions, agent_settings: Settings, user: User) -> Factory:
    def make(*, settings_: Settings | None = None, **prefs: Any) -> tuple[TalkSession, RecordingOutput]:
        preferences = VoicePreferences(talk_engine="elevenlabs-agent", **prefs)
        return talk_sessions.start(settings_ or agent_settings, user, preferences, speed=1)

    return make


def connected(session: TalkSession, fake: FakeElevenLabs, count: int = 1) -> None:
    """Wait until connection ``count`` is set up on both sides: the agent has its initiation data and the
    engine, having read the agent's metadata, takes the user's audio."""
    wait_until(
        lambda: (
            len(fake.agent.connections) >= count
            and fake.agent.connections[count - 1].initiation is not None
            and session.snapshot().connected
        )
    )


def test_a_turn_with_overrides_signed_url_ping_storage_and_usage(
    session_factory: Factory,
    store: Store,
    user: User,
    fake_elevenlabs: FakeElevenLabs,
    question: bytes,
) -> None:
    fake_elevenlabs.agent.transcripts = ["What is the capital of France?"]
    fake_elevenlabs.agent.replies = ["Paris. It is on the Seine."]
    session, output = session_factory(language="fr", voice="voice_el_1")
    connected(session, fake_elevenlabs)
    feed(session, question)
    snap = wait_for(session, lambda s: s.turns == 1 and s.state == "listening")
    assert snap.engine == "elevenlabs-agent"
    assert [(line.role, line.text) for line in snap.transcript] == [
        ("user", "What is the capital of France?"),
        ("assistant", "Paris. It is on the Seine."),
    ]
    [connection] = fake_elevenlabs.agent.connections
    assert (connection.agent_id, connection.signature) == ("agent_test", "sig1")
    assert connection.initiation == {
        "type": "conversation_initiation_client_data",
        "conversation_config_override": {
            # The persona, then (tools being on) the rule that tool results are data.
            "agent": {"prompt": {"prompt": f"Be brief.\n\n{DATA_NOTE}"}, "language": "fr"},
            "tts": {"voice_id": "voice_el_1"},
        },
        "dynamic_variables": {"user_name": "Alex"},
    }
    assert len(connection.pongs) == 1
    assert connection.audio_bytes >= len(question) - 640  # 16 kHz in, as the agent asked
    asked, answer = stored(store, user, snap.conversation_id)
    assert (asked.content, asked.is_voice, asked.audio_id is not None) == (
        "What is the capital of France?",
        True,
        True,
    )
    assert (answer.content, answer.status, answer.audio_id is not None) == (
        "Paris. It is on the Seine.",
        "complete",
        True,
    )
    assert answer.metrics.voice_to_voice_ms is not None
    [usage] = [e for e in store.usage.events_for(user_id=user.id) if e.kind == "realtime"]
    assert (usage.provider, usage.model, usage.conversation_id) == (
        "elevenlabs",
        "elevenlabs-agent",
        snap.conversation_id,
    )
    # Priced per minute of call (which lasted at least as long as the reply played), not per character.
    assert 0.12 * usage.audio_seconds / 60 <= usage.cost_usd < 0.12 * 60 / 60
    assert usage.audio_seconds > 0 and usage.turn and sum(len(p) for p in output.pushed) > 0


def test_a_public_agent_is_reached_by_id_without_a_key(
    session_factory: Factory, agent_settings: Settings, fake_elevenlabs: FakeElevenLabs
) -> None:
    session, _ = session_factory(settings_=replace(agent_settings, elevenlabs_api_key=None))
    connected(session, fake_elevenlabs)
    [connection] = fake_elevenlabs.agent.connections
    assert (connection.agent_id, connection.signature, fake_elevenlabs.agent.signed_urls) == (
        "agent_test",
        None,
        0,
    )


def test_barge_in_clears_playback_and_keeps_the_agents_correction(
    session_factory: Factory,
    store: Store,
    user: User,
    fake_elevenlabs: FakeElevenLabs,
    question: bytes,
) -> None:
    fake_elevenlabs.agent.replies = [LONG_REPLY, "Berlin is the capital of Germany."]
    session, output = session_factory()
    connected(session, fake_elevenlabs)
    feed(session, question)
    wait_for(session, lambda s: s.state == "speaking")
    time.sleep(0.5)  # the user talks half a second into the reply (the fake agent keeps wall-clock time)
    feed(session, pcm16k("Wait, stop, tell me about Berlin.") + silence_pcm(0.8))
    snap = wait_for(session, lambda s: s.turns == 2 and s.state == "listening")
    assert output.clears == 1 and fake_elevenlabs.agent.connections[0].interruptions == 1
    cut = snap.transcript[1]
    assert cut.interrupted and cut.text.endswith("...") and len(cut.text) < len(LONG_REPLY)
    messages = stored(store, user, snap.conversation_id)
    assert [(m.role, m.status) for m in messages] == [
        ("user", "complete"),
        ("assistant", "interrupted"),
        ("user", "complete"),
        ("assistant", "complete"),
    ]
    assert messages[1].content == cut.text and messages[1].interrupted
    assert snap.last_turn is not None


def test_a_dropped_connection_reconnects_with_the_history_in_the_prompt(
    session_factory: Factory,
    store: Store,
    user: User,
    fake_elevenlabs: FakeElevenLabs,
    question: bytes,
) -> None:
    fake_elevenlabs.agent.transcripts = ["My name is Alex.", "What is my name?"]
    fake_elevenlabs.agent.failures = ["drop", None]
    fake_elevenlabs.agent.replies = ["A reply that is cut off by a dropped line.", "You are Alex."]
    session, _ = session_factory(greeting="Hi!")
    connected(session, fake_elevenlabs)
    wait_for(session, lambda s: s.state == "listening" and len(s.transcript) == 1)
    feed(session, question)
    wait_for(session, lambda s: s.turns == 1)
    connected(session, fake_elevenlabs, 2)
    second = fake_elevenlabs.agent.connections[1].initiation
    assert second is not None
    agent = second["conversation_config_override"]["agent"]
    assert agent["first_message"] == ""  # no second greeting
    assert "user: My name is Alex." in agent["prompt"]["prompt"]
    feed(session, question)
    snap = wait_for(session, lambda s: s.turns == 2 and s.state == "listening")
    messages = stored(store, user, snap.conversation_id)
    assert [(m.role, m.status) for m in messages] == [
        ("user", "complete"),
        ("assistant", "failed"),
        ("user", "complete"),
        ("assistant", "complete"),
    ]
    assert messages[-1].content == "You are Alex."


def test_a_refused_connection_ends_with_a_way_out(
    session_factory: Factory, fake_elevenlabs: FakeElevenLabs
) -> None:
    fake_elevenlabs.agent.reject_connections = 100
    session, _ = session_factory()
    snap = wait_for(session, lambda s: s.error == LOST, timeout=20)
    assert snap.turns == 0


def test_the_greeting_is_the_agents_first_message_and_not_stored(
    session_factory: Factory, store: Store, user: User, fake_elevenlabs: FakeElevenLabs
) -> None:
    session, output = session_factory(greeting="Hello Alex!")
    snap = wait_for(session, lambda s: bool(s.transcript) and bool(output.pushed))
    initiation = fake_elevenlabs.agent.connections[0].initiation
    assert initiation is not None
    assert initiation["conversation_config_override"]["agent"]["first_message"] == "Hello Alex!"
    snap = wait_for(session, lambda s: s.state == "listening" and s.transcript[0].text == "Hello Alex!")
    assert snap.conversation_id is None and snap.turns == 0
    assert not store.conversations.list_page(owner_id=user.id).items


def test_a_client_tool_call_is_run_here_and_answered(
    session_factory: Factory, store: Store, user: User, fake_elevenlabs: FakeElevenLabs, question: bytes
) -> None:
    store.users.remember(user.id, "My desk is on the third floor")
    fake_elevenlabs.agent.transcripts = ["Search for the zebra plan"]
    fake_elevenlabs.agent.tool_calls = [("current_time", {}), ("no_such_tool", {})]
    session, _ = session_factory()
    connected(session, fake_elevenlabs)
    assert '- "My desk is on the third floor"' in str(fake_elevenlabs.agent.connections[0].initiation)
    feed(session, question)
    snap = wait_for(session, lambda s: s.turns == 1 and s.state == "listening")

    [result] = fake_elevenlabs.agent.tool_results
    assert result["is_error"] is False and json.loads(result["result"])["status"] == "ok"
    _, answer = stored(store, user, snap.conversation_id)
    assert answer.content.startswith("From the tool: ") and [s.name for s in answer.tool_steps] == [
        "current_time"
    ]

    # A tool the agent declares but this deployment does not provide is answered as an error.
    feed(session, question)
    wait_for(session, lambda s: s.turns == 2 and s.state == "listening")
    assert fake_elevenlabs.agent.tool_results[-1]["is_error"] is True
