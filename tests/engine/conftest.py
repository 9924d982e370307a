"""The Talk-session fixture every engine test uses: start sessions on any engine, stop them all afterwards."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date
from typing import Any

import pytest

from tests.engine.live_helpers import FastClock, RecordingOutput
from voicechat.config import Settings
from voicechat.models import User, VoicePreferences
from voicechat.quotas import CallQuota
from voicechat.storage.store import Store
from voicechat.talk.session import TalkSession
from voicechat.talk.setup import talk_setup
from voicechat.turns.text import TurnOptions

TODAY = date(2026, 11, 24)


class TalkSessions:
    """Starts Talk sessions as a page would (``talk_setup``, then a ``TalkSession``), recording what they
    push to the browser; sessions run on a clock ``speed`` times faster than real time (playback too)."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self.started: list[TalkSession] = []

    def start(
        self,
        settings: Settings,
        user: User,
        preferences: VoicePreferences,
        *,
        model: str | None = None,
        system_prompt: str = "Be brief.",
        conversation_id: str | None = None,
        admit: Callable[[], None] | None = None,
        quota: CallQuota | None = None,
        speed: float = 8,
        **session: Any,
    ) -> tuple[TalkSession, RecordingOutput]:
        """A started session and its recording output; ``session``: more ``TalkSession`` arguments."""
        setup = talk_setup(
            settings,
            user=user,
            preferences=preferences,
            options=TurnOptions(model=model or settings.chat_model, system_prompt=system_prompt),
            today=TODAY,
            conversation_id=conversation_id,
            admit=admit,
            quota=quota,
        )
        output = RecordingOutput()
        clock = FastClock(speed)
        talk = TalkSession(
            store=self._store, settings=settings, setup=setup, output=output, clock=clock, **session
        )
        self.started.append(talk)
        return talk, output


@pytest.fixture
def talk_sessions(store: Store) -> Iterator[TalkSessions]:
    """Talk sessions for one test; every one is stopped (its threads joined) when the test ends."""
    sessions = TalkSessions(store)
    yield sessions
    for session in sessions.started:
        session.stop()
