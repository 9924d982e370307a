"""What a hands-free session shows: an immutable snapshot, and the thread-safe holder engines report into.

Every Talk-mode engine (cascaded, OpenAI Realtime, ElevenLabs Agents) updates the same ``LiveView``, so the
page, the tests and the benchmarks read one shape whatever the engine.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Literal

from voicechat.models import Role

LiveState = Literal["idle", "listening", "thinking", "speaking", "stopped"]
MAX_TRANSCRIPT_LINES = 50


@dataclass(frozen=True)
class TranscriptLine:
    """A line of the running transcript; ``key`` lets an engine fill the line in later (a late transcript)."""

    role: Role
    text: str
    interrupted: bool = False
    key: str | None = None


@dataclass(frozen=True)
class LiveMetrics:
    """Latencies of one live turn in milliseconds (None when not reached or not measurable by the engine)."""

    end_of_turn_ms: float | None = None  # end of speech -> end-of-turn decision
    stt_ms: float | None = None
    first_token_ms: float | None = None
    first_sentence_ms: float | None = None  # reply requested -> first sentence complete
    tts_first_byte_ms: float | None = None
    voice_to_voice_ms: float | None = None  # end of speech -> first reply audio pushed
    barge_in_ms: float | None = None  # user's speech onset -> playback cleared


@dataclass(frozen=True)
class LiveSnapshot:
    """What the page shows; never changes once made."""

    state: LiveState
    level_dbfs: float
    transcript: tuple[TranscriptLine, ...]
    last_turn: LiveMetrics | None
    error: str | None
    conversation_id: str | None
    turns: int
    vad: str
    engine: str = "cascaded"
    connected: bool = True  # the engine's provider connection is up (speech-to-speech engines may lose it)


class LiveView:
    """The session's current snapshot behind a lock; any thread may update it."""

    def __init__(
        self, *, engine: str, vad: str, conversation_id: str | None, level: Callable[[], float]
    ) -> None:
        self._lock = threading.Lock()
        self._level = level
        self._view = LiveSnapshot(
            state="listening",
            level_dbfs=float("-inf"),
            transcript=(),
            last_turn=None,
            error=None,
            conversation_id=conversation_id,
            turns=0,
            vad=vad,
            engine=engine,
        )

    def snapshot(self) -> LiveSnapshot:
        """The current state; the level is read on demand (it changes every frame)."""
        with self._lock:
            view = self._view
        return replace(view, level_dbfs=self._level())

    @property
    def state(self) -> LiveState:
        """The current state alone."""
        with self._lock:
            return self._view.state

    def update(self, *, state: LiveState | None = None, error: str | Literal[False] | None = False) -> None:
        """Change the state (never out of ``stopped``) and/or the error (None clears it; False keeps it)."""
        with self._lock:
            view = self._view
            if state is not None and view.state != "stopped":
                view = replace(view, state=state)
            if error is not False:
                view = replace(view, error=error)
            self._view = view

    def link(self, *, connected: bool) -> None:
        """Whether the engine's provider connection is up and taking the user's audio."""
        with self._lock:
            self._view = replace(self._view, connected=connected)

    def describe(self, *, vad: str) -> None:
        """Name the voice activity detection in use (known once the engine is built)."""
        with self._lock:
            self._view = replace(self._view, vad=vad)

    def stop(self) -> None:
        """The final state."""
        with self._lock:
            self._view = replace(self._view, state="stopped")

    def conversation(self, conversation_id: str) -> None:
        """The conversation the session's turns are stored in (once it exists)."""
        with self._lock:
            self._view = replace(self._view, conversation_id=conversation_id)

    def append(self, line: TranscriptLine, *, conversation_id: str | None = None) -> None:
        """Add a transcript line (the oldest fall off past ``MAX_TRANSCRIPT_LINES``)."""
        with self._lock:
            transcript = (*self._view.transcript, line)[-MAX_TRANSCRIPT_LINES:]
            self._view = replace(
                self._view,
                transcript=transcript,
                conversation_id=conversation_id or self._view.conversation_id,
            )

    def replace_last(self, line: TranscriptLine) -> None:
        """Rewrite the newest line (a reply growing as it is spoken)."""
        with self._lock:
            self._view = replace(self._view, transcript=(*self._view.transcript[:-1], line))

    def replace_keyed(self, key: str, line: TranscriptLine) -> None:
        """Rewrite the line added with ``key`` (ignored once it has fallen off)."""
        with self._lock:
            lines = tuple(line if old.key == key else old for old in self._view.transcript)
            self._view = replace(self._view, transcript=lines)

    def finish_turn(
        self, metrics: LiveMetrics, *, error: str | None, state: LiveState | None = "listening"
    ) -> None:
        """Count a finished turn with its latencies; ``state`` None leaves the state as it is."""
        with self._lock:
            view = replace(self._view, last_turn=metrics, turns=self._view.turns + 1, error=error)
            if state is not None and view.state != "stopped":
                view = replace(view, state=state)
            self._view = view
