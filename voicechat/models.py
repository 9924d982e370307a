"""Domain records. Plain frozen dataclasses; the storage layer maps them to and from documents."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Generic, Literal, TypeVar

Role = Literal["user", "assistant"]
UserRole = Literal["user", "admin"]
# "replaced": a reply the user asked to regenerate (kept for the record, shown and sent as context no more).
MessageStatus = Literal["complete", "interrupted", "failed", "pending", "replaced"]
Rating = Literal["up", "down"]
UsageKind = Literal["chat", "stt", "tts", "realtime", "tool"]
# How a tool call ended: ran, failed (the model saw the error), ran out of time, was held for the user's
# confirmation (not run), was declined, or its server was unreachable.
ToolStatus = Literal["ok", "error", "timeout", "awaiting_confirmation", "declined", "unavailable"]
# How long the assistant lets a pause run: the turn model decides early, up to a longest silence (defaults);
# "exact" ends every turn after the user's own silence setting, with no turn model.
Patience = Literal["quick", "balanced", "patient", "exact"]
UsageStatus = Literal["ok", "error", "rate_limited", "interrupted"]
T = TypeVar("T")


@dataclass(frozen=True)
class User:
    """A person using the app; created on first sign-in (or the local user in single-user mode)."""

    id: str
    email: str
    name: str
    role: UserRole = "user"
    tier: str = "default"
    created_at: datetime | None = None
    email_verified: bool = False  # the identity provider vouched for ``email`` at the last sign-in

    @property
    def is_admin(self) -> bool:
        """Admins see the usage dashboard."""
        return self.role == "admin"


TalkEngine = Literal["cascaded", "openai-realtime", "elevenlabs-agent"]


@dataclass(frozen=True)
class VoicePreferences:
    """How a user wants to talk and be talked to; saved per user, applied on the next turn."""

    voice: str = "alloy"
    speed: float = 1.0
    language: str = "auto"
    stt_provider: str = "openai"
    tts_provider: str = "openai"
    talk_engine: TalkEngine = "cascaded"
    end_of_turn_silence_ms: int = 600
    patience: Patience = "balanced"
    vad_sensitivity: float = 0.5
    barge_in: bool = True
    autoplay: bool = True
    persona: str | None = None  # None: the deployment's default system prompt
    greeting: str = ""


@dataclass(frozen=True)
class Conversation:
    """One conversation; its messages live in their own collection."""

    id: str
    owner_id: str
    title: str
    created_at: datetime
    updated_at: datetime
    message_count: int = 0
    has_voice: bool = False
    model: str | None = None
    system_prompt: str | None = None
    last_message_id: str | None = None


@dataclass(frozen=True)
class TurnMetrics:
    """Latencies of one turn in milliseconds (absent when not measured)."""

    first_token_ms: float | None = None
    total_ms: float | None = None
    stt_ms: float | None = None
    tts_first_byte_ms: float | None = None
    voice_to_voice_ms: float | None = None  # end of the user's speech -> first reply audio pushed
    end_of_turn_ms: float | None = None  # end of the user's speech -> the end-of-turn decision (Talk mode)
    first_sentence_ms: float | None = None  # reply requested -> its first sentence complete (cascaded)
    barge_in_ms: float | None = None  # the user's speech onset -> playback cleared (an interrupted reply)


@dataclass(frozen=True)
class ToolStep:
    """One tool call made while answering: stored on the reply, shown under it, found by search."""

    name: str  # as the model called it ("current_time", "tickets__open_ticket")
    arguments: str  # the JSON the model sent, capped
    result: str  # a summary of what the tool returned (or why it did not run), capped
    status: ToolStatus
    duration_ms: float = 0.0
    source: str = "built-in"  # "built-in" or the MCP server's name


@dataclass(frozen=True)
class Message:
    """One message of a conversation."""

    id: str
    conversation_id: str
    owner_id: str
    role: Role
    content: str
    created_at: datetime
    status: MessageStatus = "complete"
    is_voice: bool = False
    audio_id: str | None = None
    interrupted: bool = False
    model: str | None = None
    error: str | None = None
    metrics: TurnMetrics = field(default_factory=TurnMetrics)
    tool_steps: tuple[ToolStep, ...] = ()
    rating: Rating | None = None  # the user's thumbs up or down on a reply
    rating_comment: str | None = None


@dataclass(frozen=True)
class ContextMessage:
    """What the model sees of a stored message (also what the hot cache holds): a reply's tool calls and
    their capped results too, so a later turn can use what a tool said without calling it again."""

    id: str
    role: Role
    content: str
    tool_steps: tuple[ToolStep, ...] = ()

    @staticmethod
    def of(message: Message) -> ContextMessage:
        """What the model sees of ``message``."""
        return ContextMessage(
            id=message.id, role=message.role, content=message.content, tool_steps=message.tool_steps
        )


@dataclass(frozen=True)
class UsageEvent:
    """One billable (or failed) call to a provider. ``cost_usd`` is fixed when the event is written."""

    user_id: str
    kind: UsageKind
    provider: str
    model: str
    status: UsageStatus = "ok"
    conversation_id: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    audio_seconds: float = 0.0
    characters: int = 0
    cost_usd: float = 0.0
    latency_ms: float | None = None
    created_at: datetime | None = None
    turn: bool = False  # a speech-to-speech reply to the user (every chat event is a turn already)
    follow_up: bool = False  # a chat call after a tool round, in the same turn (not counted as a turn)
    estimated: bool = False  # tokens counted by us: the provider never reported them (a reply cut short)


@dataclass(frozen=True)
class DailyUsage:
    """A row of a daily rollup: totals for one day and kind (and model, or user), with a latency histogram."""

    day: str
    kind: UsageKind
    provider: str = ""
    model: str = ""
    user_id: str | None = None
    cost_usd: float = 0.0
    estimated_cost_usd: float = 0.0  # the part of ``cost_usd`` priced from our own token counts
    events: int = 0
    errors: int = 0
    rate_limited: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    audio_seconds: float = 0.0
    characters: int = 0
    turns: int = 0
    latency_hist: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class SearchHit:
    """A message matching a search, with enough to show and open it."""

    message_id: str
    conversation_id: str
    role: Role
    snippet: str
    created_at: datetime


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a listing and the opaque cursor of the next one (None at the end)."""

    items: list[T]
    next_cursor: str | None
