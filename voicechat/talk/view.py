"""What a call shows: an immutable snapshot, built from the session's events alone.

The view applies every ``TalkEvent`` on the session's loop; the page, the tests and the benchmarks read
``snapshot()`` from any thread, in one shape whatever the engine.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Literal

from voicechat.models import Role, ToolStep, TurnMetrics
from voicechat.talk import events

TalkState = Literal["idle", "listening", "thinking", "speaking", "stopped"]
MAX_TRANSCRIPT_LINES = 50
PENDING_TEXT = "…"
NOT_TRANSCRIBED = "(not transcribed)"


@dataclass(frozen=True)
class TranscriptLine:
    """A line of the running transcript; ``key`` is the utterance or reply it shows (filled in later)."""

    role: Role
    text: str
    interrupted: bool = False
    key: str | None = None


@dataclass(frozen=True)
class TalkSnapshot:
    """What the page shows; never changes once made."""

    state: TalkState
    level_dbfs: float
    transcript: tuple[TranscriptLine, ...]
    last_turn: TurnMetrics | None
    error: str | None
    conversation_id: str | None
    turns: int
    vad: str
    engine: str = "cascaded"
    connected: bool = True  # the engine's provider connection is up (speech-to-speech engines may lose it)
    tool: str | None = None  # the tool the assistant is using right now
    held: ToolStep | None = None  # the call waiting for the user's yes, exactly as it would run
    muted: bool = False  # the user muted their microphone: the engine hears silence
    elapsed_s: float = 0.0  # since the call started


class TalkView:
    """The session's current snapshot behind a lock: ``apply`` on the loop, ``snapshot`` from anywhere."""

    def __init__(
        self,
        *,
        engine: str,
        vad: str,
        conversation_id: str | None,
        level: Callable[[], float],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._lock = threading.Lock()
        self._level = level
        self._clock = clock
        self._started = clock()
        self._ended: float | None = None
        self._view = TalkSnapshot(
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
        self._reply_text: dict[str, str] = {}  # replies still growing, by key
        self._whole: set[str] = set()  # replies whose whole text is known (and shown) while they still play
        self._speaking: str | None = None  # the reply whose audio plays (until it is cut or heard)
        self._waiting = False  # a user turn ended and its reply has not started

    def snapshot(self) -> TalkSnapshot:
        """The current state; the level and the call's time are read on demand (they change all the time)."""
        with self._lock:
            view, ended = self._view, self._ended
        elapsed = (ended if ended is not None else self._clock()) - self._started
        return replace(view, level_dbfs=self._level(), elapsed_s=max(0.0, elapsed))

    @property
    def muted(self) -> bool:
        """Whether the user muted their microphone."""
        return self._view.muted

    def mute(self, muted: bool) -> None:
        """Mute or unmute (any thread)."""
        self._set(muted=muted)

    @property
    def state(self) -> TalkState:
        """The current state alone."""
        with self._lock:
            return self._view.state

    def describe(self, *, vad: str) -> None:
        """Name the voice activity detection in use (known once the engine is built)."""
        self._set(vad=vad)

    def stop(self) -> None:
        """The final state."""
        with self._lock:
            self._view = replace(self._view, state="stopped")
            self._ended = self._ended if self._ended is not None else self._clock()

    def apply(self, event: events.TalkEvent) -> None:  # noqa: PLR0912 - one branch per event type
        """Show what ``event`` says (called on the session's loop, in order)."""
        if isinstance(event, events.UserSpeechStarted):
            self._set(state="listening")
        elif isinstance(event, events.UserSpeechStopped):
            self._waiting = True
            if event.transcript is not None or not self._shows(event.key):
                self._caption(event.key, event.transcript or PENDING_TEXT)
            self._set(state="thinking", error=None, held=None)  # the user answered (or moved on)
        elif isinstance(event, events.UserTranscript) and not event.final:
            self._caption(event.key, event.text or "")  # live words while the user speaks ("" takes it away)
        elif isinstance(event, events.UserTranscript):
            self._rewrite(event.key, "user", event.text if event.text is not None else NOT_TRANSCRIBED)
        elif isinstance(event, events.ReplyStarted):
            self._waiting = False
            self._reply_text[event.key] = ""
            self._append(TranscriptLine("assistant", "", key=event.key))
        elif isinstance(event, events.ReplyTextDelta):
            self._grow(event)
        elif isinstance(event, events.ReplyTextDone) and event.key in self._reply_text:
            self._whole.add(event.key)  # shown whole now: the sentences still to be spoken add nothing
            self._rewrite(event.key, "assistant", event.text)
        elif isinstance(event, events.ReplyAudio):
            if self._speaking != event.key and event.key in self._reply_text:
                self._speaking = event.key
                self._set(state="speaking")
        elif isinstance(event, events.ReplyInterrupted):
            self._speaking = None
            self._set(state="listening")
        elif isinstance(event, events.ReplyHeard):
            self._set(tool=None)
            self._heard(event)
        elif isinstance(event, events.ReplyCorrected):
            self._rewrite(event.key, "assistant", event.text, interrupted=self._interrupted(event.key))
        elif isinstance(event, events.TurnStored):
            with self._lock:
                view = self._view
                self._view = replace(view, last_turn=event.metrics, turns=view.turns + 1, error=event.error)
        elif isinstance(event, events.EngineError):
            self._error(event)
        elif isinstance(event, events.ConnectionChanged):
            self._set(connected=event.connected)
        elif isinstance(event, events.ConversationOpened):
            self._set(conversation_id=event.conversation_id)
        elif isinstance(event, events.ToolActivity):
            step = event.step
            waiting = step if step is not None and step.status == "awaiting_confirmation" else None
            if event.state == "started":
                self._set(tool=event.name)
            else:
                self._set(tool=None, held=waiting)

    def _error(self, event: events.EngineError) -> None:
        if event.message is not None:
            self._set(state="listening", error=event.message)
        else:
            with self._lock:
                if event.clears is None or self._view.error == event.clears:
                    self._view = replace(self._view, error=None)

    def _grow(self, event: events.ReplyTextDelta) -> None:
        if event.key not in self._reply_text:
            return  # a reply already finished
        text = self._reply_text[event.key]
        text = f"{text} {event.delta}".strip() if event.spoken else text + event.delta
        self._reply_text[event.key] = text
        if event.key not in self._whole:
            self._rewrite(event.key, "assistant", text)

    def _heard(self, event: events.ReplyHeard) -> None:
        self._reply_text.pop(event.key, None)
        self._whole.discard(event.key)
        self._rewrite(event.key, "assistant", event.text, interrupted=event.interrupted)
        if not self._waiting:
            self._speaking = None
            self._set(state="listening")

    def _shows(self, key: str) -> bool:
        with self._lock:
            return any(line.key == key for line in self._view.transcript)

    def _caption(self, key: str, text: str) -> None:
        """Show the user's words so far on their line (added at the first words, removed when empty)."""
        if not text:
            with self._lock:
                lines = tuple(line for line in self._view.transcript if line.key != key)
                self._view = replace(self._view, transcript=lines)
        elif self._shows(key):
            self._rewrite(key, "user", text)
        else:
            self._append(TranscriptLine("user", text, key=key))

    def _interrupted(self, key: str) -> bool:
        with self._lock:
            return any(line.interrupted for line in self._view.transcript if line.key == key)

    def _set(self, *, state: TalkState | None = None, **changes: object) -> None:
        """Change fields; the state never leaves ``stopped``."""
        with self._lock:
            view = replace(self._view, **changes)  # type: ignore[arg-type]
            if state is not None and view.state != "stopped":
                view = replace(view, state=state)
            self._view = view

    def _append(self, line: TranscriptLine) -> None:
        """Add a transcript line (the oldest fall off past ``MAX_TRANSCRIPT_LINES``)."""
        with self._lock:
            transcript = (*self._view.transcript, line)[-MAX_TRANSCRIPT_LINES:]
            self._view = replace(self._view, transcript=transcript)

    def _rewrite(self, key: str, role: Role, text: str, *, interrupted: bool = False) -> None:
        """Rewrite the line shown for ``key`` (ignored once it has fallen off)."""
        line = TranscriptLine(role, text, interrupted, key=key)
        with self._lock:
            lines = tuple(line if old.key == key else old for old in self._view.transcript)
            self._view = replace(self._view, transcript=lines)
