"""Time-limited TURN credentials, minted per call from a secret shared with the TURN server.

The TURN REST scheme (coturn's ``use-auth-secret`` / ``static-auth-secret``): the username is
``<expiry unix time>:<user id>`` and the password is base64(HMAC-SHA1(secret, username)). The TURN server
recomputes the password from the username, and refuses it once the expiry has passed, so what reaches the
browser is worth one call's length at most and the secret itself never leaves the server.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class TurnCredentials:
    """One call's TURN credentials and when they stop working (unix seconds)."""

    urls: tuple[str, ...]
    username: str
    credential: str
    expires_at: int

    def ice_server(self) -> dict[str, Any]:
        """As an RTCIceServer for the browser's ``iceServers``."""
        return {"urls": list(self.urls), "username": self.username, "credential": self.credential}


def mint_turn_credentials(
    *, urls: tuple[str, ...], secret: str, user_id: str, ttl_seconds: int, now: float | None = None
) -> TurnCredentials:
    """Credentials for ``user_id`` valid for ``ttl_seconds`` from ``now``."""
    expires_at = int((time.time() if now is None else now) + ttl_seconds)
    username = f"{expires_at}:{user_id}"
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return TurnCredentials(
        urls=urls, username=username, credential=base64.b64encode(digest).decode(), expires_at=expires_at
    )
