"""WebSocket helpers shared by the providers that talk over a socket."""

from __future__ import annotations


def abort_transport(socket: object) -> None:
    """Make sure a WebSocket's TCP connection is gone once we are done with it (a close handshake cut short
    by a cancellation can leave it open)."""
    transport = getattr(socket, "transport", None)
    if transport is not None and not transport.is_closing():
        transport.abort()
