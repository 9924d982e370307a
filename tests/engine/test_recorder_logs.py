"""A call's recorder logs which write failed and where, never what the failure said: an exception's text
(and a traceback, which ends with it) can quote the user's words, as a driver's or provider's error may."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from voicechat.config import Settings
from voicechat.storage.store import Store
from voicechat.talk.events import TalkEvent, UserSpeechStopped
from voicechat.talk.recorder import TurnRecorder
from voicechat.turns.text import ChatService, TurnOptions

SAID = "my bank PIN is 4921 and my password is swordfish"  # no user content in any log line


@pytest.fixture
def worker() -> Iterator[ThreadPoolExecutor]:
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="test-recorder")
    yield pool
    pool.shutdown(wait=True)


def test_a_failing_write_is_logged_by_kind_and_place_without_content(
    store: Store, settings: Settings, worker: ThreadPoolExecutor, caplog: pytest.LogCaptureFixture
) -> None:
    user = store.users.get_or_create(email="caller@example.com", name="Caller")
    events: list[TalkEvent] = []

    def emit_soon(event: TalkEvent) -> None:  # the session is gone: the failure quotes what was said
        raise ConnectionError(f"could not deliver {type(event).__name__} after the user said {SAID!r}")

    recorder = TurnRecorder(
        store=store,
        chat=ChatService(store=store, settings=settings),
        user=user,
        options=TurnOptions(model="gpt-6-luna", system_prompt="Be brief."),
        conversation_id=None,
        model="gpt-6-luna",
        reply_rate=24_000,
        worker=worker,
        emit=events.append,
        emit_soon=emit_soon,
    )
    caplog.set_level(logging.DEBUG, logger="voicechat")  # our own lines (log_safety caps the drivers')
    recorder.record(UserSpeechStopped(key="u1", audio=b"", transcript=SAID))

    with pytest.raises(ConnectionError):
        recorder.stored("u1").result(timeout=30)
    logged = caplog.text  # messages and any traceback
    assert "swordfish" not in logged and "4921" not in logged
    [failure] = [r for r in caplog.records if r.name == "voicechat.talk.recorder"]
    assert failure.levelno == logging.ERROR and failure.exc_info is None
    # What failed, in which job and where: enough to find it.
    assert "ConnectionError in _user_said at test_recorder_logs.py:" in failure.getMessage()
