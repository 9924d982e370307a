"""What happens in a call, as typed immutable events: one vocabulary for every Talk engine.

Engines emit them on the session's event loop (``EngineHost.emit``); the recorder (``recorder``) stores
the turns they describe and the view (``view``) shows them. The recorder adds its own facts (what was heard,
a turn stored, the conversation opened) as events too, so the page's live view is built from events alone.

``key`` names a user utterance or a reply within a session (a provider's item id, or one the engine made up).
Times are on the session's clock (``time.monotonic`` unless injected).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from voicechat.models import ToolStep, TurnMetrics
from voicechat.usage import Usage

ReplyStatus = Literal["complete", "interrupted", "failed"]
ToolState = Literal["started", "finished", "failed"]


# The user's side ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class UserSpeechStarted:
    """The user started talking and the engine acted on it (a new turn, or talking over the reply)."""

    onset: float | None = None


@dataclass(frozen=True)
class UserSpeechStopped:
    """The user's turn ended: their utterance as 16 kHz mono PCM, and its transcript if already known."""

    key: str
    audio: bytes
    ended_at: float | None = None  # when the speech ended
    end_of_turn_ms: float | None = None  # end of speech -> the engine's end-of-turn decision
    transcript: str | None = None  # None: a ``UserTranscript`` follows


@dataclass(frozen=True)
class UserTranscript:
    """What the user said (``final``) or has said so far; ``text`` None: it could not be recognised."""

    key: str
    text: str | None
    final: bool = True
    error: str | None = None  # why there is no text, as stored with the message
    stt_ms: float | None = None


# The assistant's side -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReplyStarted:
    """A reply begins (a greeting is spoken but never stored)."""

    key: str
    greeting: bool = False


@dataclass(frozen=True)
class ReplyTextDelta:
    """More of the reply's text. ``spoken``: the audio that follows speaks exactly this text (a sentence), so
    what was heard can be cut at the sentence the user interrupted."""

    key: str
    delta: str
    spoken: bool = False


@dataclass(frozen=True)
class ReplyTextDone:
    """The reply's whole text is known while its audio may still be playing: the recorder keeps it now (a
    call that dies mid-reply loses no text) and settles it when the reply ends."""

    key: str
    text: str


@dataclass(frozen=True)
class ReplyAudio:
    """Reply audio (16-bit mono PCM at the engine's output rate) pushed to the browser at ``pushed_at``."""

    key: str
    pcm: bytes
    pushed_at: float


@dataclass(frozen=True)
class ReplyInterrupted:
    """The user talked over the reply: playback was cleared ``barge_in_ms`` after they started."""

    key: str
    barge_in_ms: float | None


@dataclass(frozen=True)
class ReplyDone:
    """The reply is over: played out, cut short or failed; ``played_samples`` of its audio were heard."""

    key: str
    status: ReplyStatus
    played_samples: int
    metrics: TurnMetrics = field(
        default_factory=TurnMetrics
    )  # what the engine measured (the recorder adds voice-to-voice)
    text: str | None = None  # the reply's full text, when the engine has it whole (replaces the deltas)
    error: str | None = None  # shown on the page
    stored_error: str | None = None  # kept with a failed reply


@dataclass(frozen=True)
class ReplyCorrected:
    """The provider's own account of what the user heard of the reply (replaces the recorder's estimate)."""

    key: str
    text: str


@dataclass(frozen=True)
class UsageMeasured:
    """A provider call to bill (priced by the engine, which knows the provider's tariff)."""

    usage: Usage


@dataclass(frozen=True)
class ToolActivity:
    """A tool the assistant called while preparing reply ``key``: shown as it runs; once it ended
    (``step``), stored with the reply and billed."""

    key: str
    name: str
    state: ToolState
    step: ToolStep | None = None


# The engine and the session -------------------------------------------------------------------------------


@dataclass(frozen=True)
class EngineError:
    """Something the user should know; the engine is listening again. ``message`` None clears what shows
    (only ``clears``, when given: a notice that is over, not an error shown since)."""

    message: str | None
    clears: str | None = None


@dataclass(frozen=True)
class ConnectionChanged:
    """A speech-to-speech engine's provider connection went up or down."""

    connected: bool


# Facts the recorder adds -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConversationOpened:
    """The session's turns are stored in this conversation from now on."""

    conversation_id: str


@dataclass(frozen=True)
class ReplyHeard:
    """What the user heard of a finished reply (worked out once, by the recorder)."""

    key: str
    text: str
    interrupted: bool


@dataclass(frozen=True)
class TurnStored:
    """A user turn's reply is stored (greetings are not): the page counts it with its latencies."""

    metrics: TurnMetrics
    error: str | None


TalkEvent = (
    UserSpeechStarted
    | UserSpeechStopped
    | UserTranscript
    | ReplyStarted
    | ReplyTextDelta
    | ReplyTextDone
    | ReplyAudio
    | ReplyInterrupted
    | ReplyDone
    | ReplyCorrected
    | UsageMeasured
    | ToolActivity
    | EngineError
    | ConnectionChanged
    | ConversationOpened
    | ReplyHeard
    | TurnStored
)
