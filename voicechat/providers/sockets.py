"""WebSocket helpers shared by the providers that talk over a socket."""

from __future__ import annotations

import base64
import json
from typing import Any


async def send_event(connection: Any, event: dict[str, Any]) -> None:
    """Send a client event already in its wire form on an OpenAI SDK realtime connection. The SDK's ``send``
    walks every event through its type transform first, which cost more than the audio handling itself when
    many calls stream a piece of audio each."""
    await connection.send_raw(json.dumps(event))


def audio_append(pcm: bytes) -> dict[str, Any]:
    """The ``input_audio_buffer.append`` event for PCM at the socket's rate."""
    return {"type": "input_audio_buffer.append", "audio": base64.b64encode(pcm).decode("ascii")}


def abort_transport(socket: object) -> None:
    """Make sure a WebSocket's TCP connection is gone once we are done with it (a close handshake cut short
    by a cancellation can leave it open)."""
    transport = getattr(socket, "transport", None)
    if transport is not None and not transport.is_closing():
        transport.abort()
