"""A call's limits, on real sessions against the fake providers: admitted at its start (a refused call greets
nobody and bills nothing), a call billed by the minute is ended when the budget is spent, a call warns a
minute before its longest length and ends there, and browser audio faster than real time is dropped.

The session runs on a clock the test moves by hand, so an hour-long call takes no time."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime

import av
import numpy as np
import pytest

from tests.engine.conftest import TODAY
from tests.engine.live_helpers import RecordingOutput, wait_for, wait_until
from tests.fakes.audio_samples import silence_pcm
from tests.fakes.elevenlabs_server import FakeElevenLabs
from tests.fakes.openai_server import FakeOpenAI
from voicechat.audio.vad import SileroVAD
from voicechat.config import Settings
from voicechat.errors import Refused
from voicechat.models import UsageEvent, User, VoicePreferences
from voicechat.quotas import CallSlots, Quotas
from voicechat.storage.store import Store
from voicechat.talk.session import ENDED_AT_LIMIT, TalkSession
from voicechat.talk.setup import talk_setup
from voicechat.turns.text import TurnOptions

GREETING = "Hello! What shall we talk about?"
FRAME_PCM = silence_pcm(0.02)  # one 20 ms frame of 16 kHz audio


class HandClock:
    """Monotonic time that moves only when the test says so."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Calls:
    """Starts calls as the page does (``talk_setup`` with the call's quota, then a ``TalkSession``)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.started: list[TalkSession] = []

    def start(
        self, settings: Settings, user: User, quotas: Quotas, clock: HandClock, **preferences: object
    ) -> tuple[TalkSession, RecordingOutput]:
        setup = talk_setup(
            settings,
            user=user,
            preferences=VoicePreferences(**preferences),  # type: ignore[arg-type]
            options=TurnOptions(model=settings.chat_model, system_prompt="Be brief."),
            today=TODAY,
            quota=quotas.for_call(user),
        )
        output = RecordingOutput()
        session = TalkSession(
            store=self.store,
            settings=settings,
            setup=setup,
            output=output,
            clock=clock,
            vad=SileroVAD() if setup.engine.name == "cascaded" else None,
        )
        self.started.append(session)
        return session, output


@pytest.fixture
def calls(store: Store) -> Iterator[Calls]:
    made = Calls(store)
    yield made
    for session in made.started:
        session.stop()


@pytest.fixture
def user(store: Store) -> User:
    return store.users.get_or_create(email="caller@example.com", name="Caller")


def spent(store: Store, user: User, usd: float) -> None:
    store.usage.record(
        UsageEvent(
            user_id=user.id,
            kind="chat",
            provider="openai",
            model="m",
            cost_usd=usd,
            created_at=datetime.now(UTC),
        )
    )


def speech_requests(fake: FakeOpenAI) -> int:
    return sum(r.path == "/v1/audio/speech" for r in fake.requests)


def test_a_call_over_the_voice_limit_is_refused_before_the_greeting(
    calls: Calls, store: Store, settings: Settings, user: User, fake_openai: FakeOpenAI
) -> None:
    limited = replace(settings, voice_rate_limit="1/minute")
    slots = CallSlots(None)
    quotas = Quotas(limited, store, calls=slots)
    quotas.admit(user, "voice")  # the last voice turn of this minute was a push-to-talk one
    with pytest.raises(Refused) as refused:
        calls.start(limited, user, quotas, HandClock(), greeting=GREETING)
    assert refused.value.reason == "voice" and "1 voice turns per minute" in refused.value.user_message
    assert not calls.started and speech_requests(fake_openai) == 0  # no greeting was asked for
    assert not store.usage.events_for(user_id=user.id)  # nothing billed
    assert slots.take(user.id, "another call", limit=1)  # the refused call holds no slot either


def test_a_call_over_the_budget_is_refused_before_the_greeting(
    calls: Calls, store: Store, settings: Settings, user: User, fake_openai: FakeOpenAI
) -> None:
    budgeted = replace(settings, monthly_budgets=(("default", 1.0),))
    spent(store, user, 1.0)
    with pytest.raises(Refused) as refused:
        calls.start(budgeted, user, Quotas(budgeted, store), HandClock(), greeting=GREETING)
    assert refused.value.reason == "budget" and "budget" in refused.value.user_message
    assert not calls.started and speech_requests(fake_openai) == 0
    assert [e.cost_usd for e in store.usage.events_for(user_id=user.id)] == [1.0]  # only what was spent


def test_a_call_warns_a_minute_before_its_longest_length_then_ends(
    calls: Calls, store: Store, settings: Settings, user: User, fake_openai: FakeOpenAI
) -> None:
    short = replace(settings, max_call_minutes=2)
    quotas, clock = Quotas(short, store), HandClock()
    session, _ = calls.start(short, user, quotas, clock)
    session.push_pcm(FRAME_PCM)
    clock.advance(59)
    session.push_pcm(FRAME_PCM)
    session.flush()
    assert session.snapshot().error is None
    clock.advance(1)  # a minute before the end
    session.push_pcm(FRAME_PCM)
    session.flush()
    warned = session.snapshot()
    assert warned.error == "This call ends in a minute: calls last at most 2 minutes."
    assert warned.state != "stopped"
    spoken = lambda: [r.body["input"] for r in fake_openai.requests if r.path == "/v1/audio/speech"]  # noqa: E731
    wait_until(lambda: " ".join(spoken()) == warned.error, timeout=10)  # said too, clause by clause
    assert not [
        m
        for c in store.conversations.list_page(owner_id=user.id).items
        for m in store.conversations.messages_page(owner_id=user.id, conversation_id=c.id).items
    ]  # not stored
    clock.advance(60)
    session.push_pcm(FRAME_PCM)
    ended = wait_for(session, lambda s: s.state == "stopped")
    assert ended.error == ENDED_AT_LIMIT.format(minutes=2)
    for _ in range(2):  # its slot among the person's open calls is free again
        quotas.for_call(user).begin()


def test_a_call_billed_by_the_minute_ends_when_the_budget_is_spent(
    calls: Calls, store: Store, settings: Settings, user: User, fake_elevenlabs: FakeElevenLabs
) -> None:
    agent = replace(
        settings,
        elevenlabs_agent_id="agent_test",
        elevenlabs_agent_price_per_minute=0.12,
        monthly_budgets=(("default", 1.0),),
    )
    spent(store, user, 0.85)  # 0.15 left: a minute of silence and a bit
    quotas, clock = Quotas(agent, store), HandClock()
    session, _ = calls.start(agent, user, quotas, clock, talk_engine="elevenlabs-agent")
    wait_until(lambda: bool(fake_elevenlabs.agent.connections) and session.snapshot().connected)
    clock.advance(60)
    session.push_pcm(FRAME_PCM)  # the first minute: 0.12 of 0.15
    session.flush()
    assert session.snapshot().state != "stopped"
    clock.advance(60)
    session.push_pcm(FRAME_PCM)  # the second would pass the budget
    ended = wait_for(session, lambda s: s.state == "stopped")
    assert ended.error is not None and ended.error.startswith("The call ended. This month's usage budget")


def browser_frame() -> av.AudioFrame:
    """20 ms of 48 kHz stereo silence, as aiortc delivers a browser's audio."""
    frame = av.AudioFrame.from_ndarray(np.zeros((1, 960 * 2), dtype=np.int16), format="s16", layout="stereo")
    frame.sample_rate = 48_000
    return frame


@pytest.mark.parametrize(("speed", "dropped"), [(1.0, False), (3.0, True)])
def test_browser_audio_faster_than_real_time_is_dropped_and_counted_in_the_log(
    calls: Calls,
    store: Store,
    settings: Settings,
    user: User,
    caplog: pytest.LogCaptureFixture,
    speed: float,
    dropped: bool,
) -> None:
    clock = HandClock()
    session, _ = calls.start(settings, user, Quotas(settings, store), clock)
    frames = 1_500  # 30 s of audio
    for n in range(frames):
        session.push_frame(browser_frame())
        clock.advance(0.02 / speed)
        if n % 100 == 0:
            session.flush()  # the loop keeps up, as it does with a browser: only the gate drops frames
    session.flush()
    if not dropped:
        assert session.dropped_frames == 0
        return
    elapsed = frames * 0.02 / speed
    kept = frames - session.dropped_frames
    assert 1.5 * elapsed <= kept * 0.02 <= 1.5 * elapsed + 1.0 + 0.02  # 1.5x real time, plus the burst
    with caplog.at_level(logging.INFO, logger="voicechat.talk.session"):
        session.stop()
    [line] = [r.getMessage() for r in caplog.records if "talk session stopped" in r.getMessage()]
    assert f"dropped_frames={session.dropped_frames}" in line
