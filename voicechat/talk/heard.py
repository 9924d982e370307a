"""What the user heard of a reply: its text and audio as they grew, and its words up to where it was cut."""

from __future__ import annotations

from dataclasses import dataclass, field

from voicechat.models import ToolStep
from voicechat.talk.events import ReplyAudio, ReplyInterrupted, ReplyTextDelta


@dataclass
class Piece:
    """Text of a reply and the stretch of its audio that speaks it (samples)."""

    text: str
    start: int
    end: int


@dataclass
class Reply:
    """A reply in progress (on the loop)."""

    key: str
    greeting: bool
    ended_at: float | None  # when the user's turn it answers ended
    end_of_turn_ms: float | None
    text: str = ""
    pieces: list[Piece] = field(default_factory=list)
    pcm: list[bytes] = field(default_factory=list)
    pushed: int = 0
    first_audio_at: float | None = None
    barge_in_ms: float | None = None
    corrected: str | None = None
    stored_early: bool = False
    tool_steps: list[ToolStep] = field(default_factory=list)


def heard(
    text: str,
    pieces: list[Piece],
    *,
    played: int,
    pushed: int,
    interrupted: bool,
    corrected: str | None = None,
) -> str:
    """What the user heard of a reply: the provider's own account when it gave one; all of it when it played
    to the end; else the pieces played in full and the played share of the words of the one cut off (a
    reply without pieces is one piece over all its ``pushed`` audio)."""
    if corrected is not None:
        return corrected
    if not interrupted:
        return text
    words: list[str] = []
    for piece in pieces or [Piece(text, 0, pushed)]:
        if played >= piece.end:
            words.extend(piece.text.split())
        elif played > piece.start:
            share = (played - piece.start) / max(1, piece.end - piece.start)
            parts = piece.text.split()
            words.extend(parts[: int(len(parts) * share)])
    return " ".join(words)


def grow(reply: Reply, event: ReplyTextDelta | ReplyAudio | ReplyInterrupted) -> None:
    """Follow a reply's text, audio and interruption."""
    if isinstance(event, ReplyTextDelta):
        if event.spoken:
            reply.text = f"{reply.text} {event.delta}".strip()
            reply.pieces.append(Piece(event.delta, reply.pushed, reply.pushed))
        else:
            reply.text += event.delta
    elif isinstance(event, ReplyAudio):
        reply.pcm.append(event.pcm)
        reply.pushed += len(event.pcm) // 2
        if reply.pieces:
            reply.pieces[-1].end = reply.pushed
        if reply.first_audio_at is None:
            reply.first_audio_at = event.pushed_at
    else:
        reply.barge_in_ms = event.barge_in_ms
