"""TURN credentials are minted per call in coturn's use-auth-secret scheme; no TURN password is configured
for browsers."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from voicechat.config import Settings, SettingsError
from voicechat.turn_credentials import TurnCredentials, mint_turn_credentials


def test_credentials_follow_the_turn_rest_scheme_and_expire() -> None:
    minted = mint_turn_credentials(
        urls=("turn:127.0.0.1:3478",), secret="s3cret", user_id="abc123", ttl_seconds=600, now=1_000_000
    )
    assert minted.username == "1000600:abc123" and minted.expires_at == 1_000_600
    # What coturn computes from the username and its static-auth-secret:
    expected = base64.b64encode(hmac.new(b"s3cret", b"1000600:abc123", hashlib.sha1).digest()).decode()
    assert minted.credential == expected
    assert minted.ice_server() == {
        "urls": ["turn:127.0.0.1:3478"],
        "username": "1000600:abc123",
        "credential": expected,
    }
    other = mint_turn_credentials(urls=(), secret="s3cret", user_id="abc123", ttl_seconds=600, now=1_000_001)
    assert other.credential != minted.credential


def test_static_turn_passwords_are_refused_and_turn_needs_its_secret() -> None:
    with pytest.raises(SettingsError, match="VOICECHAT_TURN_SECRET"):
        Settings.from_mapping(
            {"VOICECHAT_ICE_SERVERS": '[{"urls": "turn:t.example:3478", "username": "u", "credential": "p"}]'}
        )
    with pytest.raises(SettingsError, match="VOICECHAT_TURN_SECRET"):
        Settings.from_mapping({"VOICECHAT_TURN_URLS": "turn:t.example:3478"})
    with pytest.raises(SettingsError, match="turn:"):
        Settings.from_mapping({"VOICECHAT_TURN_URLS": "http://t.example", "VOICECHAT_TURN_SECRET": "x"})
    settings = Settings.from_mapping(
        {
            "VOICECHAT_ICE_SERVERS": '[{"urls": "stun:stun.example:3478"}]',
            "VOICECHAT_TURN_URLS": "turn:t.example:3478,turns:t.example:5349",
            "VOICECHAT_TURN_SECRET": "turn-shared-secret-7f3a",
        }
    )
    assert settings.turn_urls == ("turn:t.example:3478", "turns:t.example:5349")
    assert "turn-shared-secret-7f3a" not in repr(settings)


def test_every_call_gets_its_own_credentials_and_keeps_them_while_it_runs() -> None:
    from ui.talk_panel import SessionHolder

    holder = SessionHolder()
    minted: list[int] = []

    def mint() -> TurnCredentials:
        minted.append(len(minted))
        return mint_turn_credentials(urls=("turn:t",), secret="s", user_id=f"u{len(minted)}", ttl_seconds=600)

    def ask() -> TurnCredentials:
        return holder.turn_credentials(mint, renew_within=300)

    class Session:
        def stop(self) -> None:
            pass

    first = ask()
    assert ask() == first  # page reruns before the call starts: the same
    holder.attach(Session())  # type: ignore[arg-type]
    assert ask() == first  # kept while the call runs
    holder.end()
    second = ask()
    assert second != first and ask() == second and len(minted) == 2  # the next call has its own
