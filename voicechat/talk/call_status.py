"""How a call's state reads on the call screen: always words and an icon, with a colour on top (never colour
alone), and the call's running time."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from voicechat.talk.view import TalkSnapshot

Colour = Literal["red", "orange", "yellow", "blue", "green", "violet", "gray"]


@dataclass(frozen=True)
class CallStatus:
    """What the call is doing, for people: ``words`` say it, ``icon`` (a Material icon name) and ``colour``
    repeat it."""

    words: str
    icon: str
    colour: Colour


CONNECTING = CallStatus("Connecting…", "sync", "gray")
RECONNECTING = CallStatus("Reconnecting…", "sync_problem", "red")
_BY_STATE = {
    "idle": CallStatus("Waiting", "hourglass_empty", "gray"),
    "listening": CallStatus("Listening", "hearing", "green"),
    "thinking": CallStatus("Thinking", "psychology", "orange"),
    "speaking": CallStatus("Speaking", "record_voice_over", "blue"),
    "stopped": CallStatus("Call ended", "call_end", "gray"),
}


def call_status(snap: TalkSnapshot | None) -> CallStatus:
    """The status to show: connecting until the call's audio flows (``None``), reconnecting while the
    engine's provider connection is down, else the conversation's state."""
    if snap is None:
        return CONNECTING
    if not snap.connected and snap.state != "stopped":
        return RECONNECTING
    return _BY_STATE[snap.state]


def call_time(seconds: float) -> str:
    """A call's running time as a phone shows it: ``0:07``, ``12:34``, ``1:02:03``."""
    whole = int(max(0.0, seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
