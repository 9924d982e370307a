"""The seam between a hands-free session and whatever answers it.

A ``LiveSession`` owns the plumbing every engine shares: audio intake and resampling, the user-audio tape,
the playback meter over the browser's audio track, the snapshot the page reads, the stall watchdog, and the
threads. An engine decides what happens to the user's audio: the cascaded one runs voice activity detection
and STT -> LLM -> TTS; the speech-to-speech ones stream it to a provider's WebSocket. All of them store turns,
audio and usage the same way and report into the same ``LiveView``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Protocol

from voicechat.audio.vad import SpeechProbability
from voicechat.config import Settings
from voicechat.models import User
from voicechat.storage.store import Store
from voicechat.talk.runtime.loop_thread import LoopThread
from voicechat.talk.runtime.playback import PlaybackMeter
from voicechat.talk.runtime.user_audio import UserAudioTape
from voicechat.talk.view import LiveView
from voicechat.turns.text import TurnOptions


@dataclass(frozen=True)
class EngineHost:
    """What a live session lends its engine. ``worker`` runs blocking work (SDK calls, storage) in order."""

    store: Store
    settings: Settings
    user: User
    options: TurnOptions
    view: LiveView
    meter: PlaybackMeter
    tape: UserAudioTape
    loop: LoopThread
    worker: ThreadPoolExecutor
    clock: Callable[[], float]
    conversation_id: str | None
    greeting: str
    barge_in: bool
    vad: SpeechProbability | None = None  # the cascaded engine's model (tests inject one)
    admit: Callable[[], None] | None = None  # counts a voice turn; raises Refused over a limit


class TalkEngine(ABC):
    """One session's engine. ``hear`` runs on the session's loop and must not block it."""

    vad_name = "provider"

    @abstractmethod
    def start(self) -> None:
        """Begin (connect, greet); called once, from any thread."""

    @abstractmethod
    def hear(self, pcm: bytes, arrived: float) -> None:
        """16 kHz mono PCM that arrived at clock time ``arrived`` (already on the tape)."""

    @abstractmethod
    def close(self) -> None:
        """Stop speaking, end the connection, hand the current turn's storage to the worker (idempotent).

        Called from a thread other than the loop, before the loop and the worker are stopped."""


class EngineSpec(Protocol):
    """How to build an engine for a session, and the audio rate it speaks at (chosen before the call)."""

    @property
    def name(self) -> str:
        """The engine's name, as in preferences (``cascaded``, ``openai-realtime``, ``elevenlabs-agent``)."""
        ...

    @property
    def output_rate(self) -> int:
        """Sample rate of the reply audio it pushes."""
        ...

    @property
    def label(self) -> str:
        """How the page names the engine and its model."""
        ...

    def build(self, host: EngineHost) -> TalkEngine:
        """A new engine for one session."""
        ...
