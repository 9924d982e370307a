"""The seam between a call and whatever answers it.

A ``TalkSession`` owns the plumbing every engine shares: audio intake and resampling, the user-audio tape,
the playback meter over the browser's audio track, the recorder, the view, the stall watchdog and the loop.
An engine decides what happens to the user's audio (the cascaded one runs voice activity detection and
STT -> LLM -> TTS; the speech-to-speech ones stream it to a provider's WebSocket) and reports what happens
as events (``events``) through ``EngineHost.emit``; it never stores or shows anything itself.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Protocol, TypeVar

import numpy as np
import numpy.typing as npt

from voicechat.audio.vad import SileroVAD, SpeechProbability
from voicechat.config import Settings
from voicechat.models import User
from voicechat.talk.events import TalkEvent
from voicechat.talk.recorder import TurnRecorder
from voicechat.talk.runtime.loop_thread import LoopThread
from voicechat.talk.runtime.playback import PlaybackMeter
from voicechat.talk.runtime.user_audio import UserAudioTape
from voicechat.turns.text import TurnOptions

T = TypeVar("T")


@dataclass(frozen=True)
class EngineHost:
    """What a session lends its engine. Everything here is used on the session's loop."""

    settings: Settings
    user: User
    options: TurnOptions
    emit: Callable[[TalkEvent], None]  # report an event (on the loop)
    recorder: TurnRecorder  # what is stored (engines ask it for the conversation so far)
    meter: PlaybackMeter
    tape: UserAudioTape
    loop: LoopThread
    worker: Executor  # blocking work that must keep its order with storage (limits, history)
    clock: Callable[[], float]
    greeting: str
    barge_in: bool
    vad: SpeechProbability | None = None  # the cascaded engine's model (tests inject one)
    admit: Callable[[], None] | None = None  # counts a voice turn; raises Refused over a limit
    admissible: Callable[[], bool] | None = None  # whether the next one would be (counts nothing; blocks)

    async def in_order(self, work: Callable[[], T]) -> T:
        """Run blocking ``work`` on the worker, after every write queued so far."""
        return await asyncio.wrap_future(self.worker.submit(work))


class TalkEngine(ABC):
    """One session's engine. ``hear`` runs on the session's loop and must not block it."""

    vad_name = "provider"

    @abstractmethod
    def start(self) -> None:
        """Begin (connect, greet); called once, on the loop."""

    def vad_windows(self, pcm: bytes) -> tuple[SileroVAD, npt.NDArray[np.float32]] | None:
        """The windows of ``pcm`` this engine's Silero detector will score in ``hear`` (scored ahead, in a
        batch with the other calls' audio); None when it has no such detector."""
        return None

    @abstractmethod
    def hear(self, pcm: bytes, arrived: float) -> None:
        """16 kHz mono PCM that arrived at clock time ``arrived`` (already on the tape)."""

    @abstractmethod
    async def close(self) -> None:
        """Stop speaking, end the connection, report the current turn's end (on the loop; idempotent)."""

    def announce(self, text: str) -> None:
        """Say a notice about the call itself ("this call ends in a minute"), outside the conversation and
        without cutting a reply (on the loop). An engine that cannot only shows it (the session does)."""
        return  # the ElevenLabs agent has no "say this" message


class EngineSpec(Protocol):
    """How to build an engine for a session, and the audio rate it speaks at (chosen before the call)."""

    @property
    def name(self) -> str:
        """The engine's name in the registry (``talk.registry``)."""
        ...

    @property
    def output_rate(self) -> int:
        """Sample rate of the reply audio it pushes."""
        ...

    @property
    def model(self) -> str:
        """The model name its replies are stored with."""
        ...

    @property
    def label(self) -> str:
        """How the page names the engine and its model."""
        ...

    def build(self, host: EngineHost) -> TalkEngine:
        """A new engine for one session."""
        ...
