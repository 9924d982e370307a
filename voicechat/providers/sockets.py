"""WebSocket helpers shared by the providers that talk over a socket."""

from __future__ import annotations

import base64
import json
from types import SimpleNamespace
from typing import Any


async def send_event(connection: Any, event: dict[str, Any]) -> None:
    """Send a client event already in its wire form on an OpenAI SDK realtime connection. The SDK's ``send``
    walks every event through its type transform first, which cost more than the audio handling itself when
    many calls stream a piece of audio each."""
    await connection.send_raw(json.dumps(event))


def parse_lightly(connection: Any, typed: frozenset[str]) -> None:
    """Have an OpenAI SDK realtime connection build its typed event objects only for the server events whose
    type is in ``typed`` (those whose handlers read nested fields), and read every other event as a plain
    view of its fields: the flat ones that come many times a second per call (audio and transcript deltas)
    and the ones nobody handles. The SDK resolves each event against the union of every server event type:
    ~90 us an event on a slow 2-core machine, against ~10 us for the view; with dozens of calls receiving
    audio that was a tenth of the audio loop's time. The connection's receiving, closing and reconnecting
    are the SDK's own; only its ``parse_event`` is wrapped."""
    parse_typed = connection.parse_event

    def parse_event(data: str | bytes) -> Any:
        fields = json.loads(data)
        if isinstance(fields, dict) and fields.get("type") not in typed:
            return SimpleNamespace(**fields)
        return parse_typed(data)

    connection.parse_event = parse_event


def audio_append(pcm: bytes) -> dict[str, Any]:
    """The ``input_audio_buffer.append`` event for PCM at the socket's rate."""
    return {"type": "input_audio_buffer.append", "audio": base64.b64encode(pcm).decode("ascii")}


def abort_transport(socket: object) -> None:
    """Make sure a WebSocket's TCP connection is gone once we are done with it (a close handshake cut short
    by a cancellation can leave it open)."""
    transport = getattr(socket, "transport", None)
    if transport is not None and not transport.is_closing():
        transport.abort()
