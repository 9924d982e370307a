"""What the hands-free engine tests share: a recording output, a fast clock, feeding and waiting."""

from __future__ import annotations

import time
from collections.abc import Callable

from tests.fakes.audio_samples import spoken_wav
from voicechat.audio.decode import decode_upload
from voicechat.models import Message, User
from voicechat.storage.store import Store
from voicechat.talk.session import TalkSession
from voicechat.talk.view import TalkSnapshot


class RecordingOutput:
    """Stands in for the browser's audio track: keeps what was pushed, counts clears."""

    def __init__(self) -> None:
        self.pushed: list[bytes] = []
        self.clears = 0

    def push(self, pcm: bytes) -> None:
        self.pushed.append(pcm)

    def clear(self) -> None:
        self.clears += 1


class FastClock:
    """Monotonic time running ``scale`` times faster than real time (for the playback meter)."""

    def __init__(self, scale: float) -> None:
        self._start, self._scale = time.monotonic(), scale
        self.speed = scale  # clock seconds per real second: the session waits for playback this much faster

    def __call__(self) -> float:
        return self._start + (time.monotonic() - self._start) * self._scale


def pcm16k(text: str) -> bytes:
    return decode_upload(spoken_wav(text)).pcm


def feed(session: TalkSession, pcm: bytes) -> None:
    for start in range(0, len(pcm), 640):  # 20 ms frames, as fast as the loop takes them
        session.push_pcm(pcm[start : start + 640])


def wait_for(
    session: TalkSession, check: Callable[[TalkSnapshot], bool], timeout: float = 20
) -> TalkSnapshot:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        snap = session.snapshot()
        if check(snap):
            return snap
        time.sleep(0.01)
    raise AssertionError(f"timed out; last snapshot {session.snapshot()}")


def stored(store: Store, user: User, conversation_id: str | None) -> list[Message]:
    assert conversation_id is not None
    return store.conversations.messages_page(
        owner_id=user.id, conversation_id=conversation_id, limit=100
    ).items


def wait_until(check: Callable[[], bool], timeout: float = 10) -> None:
    """Wait for a fact outside the session (a fake server's state, the output) to become true."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.01)
