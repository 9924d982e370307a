"""Who may use the app: verified identities, the allow-list, listed admins, and local mode's loopback door."""

from __future__ import annotations

import pytest

from voicechat.access import (
    SignInRefused,
    check_allowed,
    identity_from_claims,
    is_listed_admin,
    is_local_request,
)
from voicechat.config import Settings, SettingsError

CLAIMS = {"iss": "https://id.corp", "sub": "u-1", "email": "Boss@Corp.example", "email_verified": True}


def test_an_identity_is_the_issuer_and_subject_with_a_verified_email() -> None:
    identity = identity_from_claims(CLAIMS)
    assert (identity.key, identity.email, identity.email_verified) == (
        "https://id.corp|u-1",
        "boss@corp.example",
        True,
    )


def test_an_unverified_email_is_refused_and_an_unstated_one_counts_as_unverified() -> None:
    with pytest.raises(SignInRefused, match="not verified"):
        identity_from_claims({**CLAIMS, "email_verified": False})
    unstated = identity_from_claims({k: v for k, v in CLAIMS.items() if k != "email_verified"})
    assert not unstated.email_verified
    settings = Settings.from_mapping({"VOICECHAT_ADMINS": "boss@corp.example"})
    assert is_listed_admin(identity_from_claims(CLAIMS), settings)
    assert not is_listed_admin(unstated, settings)  # the list grants nothing to an unconfirmed address


def test_claims_without_a_subject_or_email_are_refused() -> None:
    for missing in ("sub", "email"):
        with pytest.raises(SignInRefused):
            identity_from_claims({k: v for k, v in CLAIMS.items() if k != missing})


def test_the_allow_list_takes_emails_and_domains() -> None:
    settings = Settings.from_mapping({"VOICECHAT_ALLOWED_USERS": "@corp.example, Guest@X.org"})
    check_allowed(identity_from_claims(CLAIMS), settings)
    check_allowed(identity_from_claims({**CLAIMS, "email": "guest@x.org"}), settings)
    for email in ("boss@corp.example.evil.org", "someone@x.org", "boss@evilcorp.example"):
        with pytest.raises(SignInRefused, match="invited people only"):
            check_allowed(identity_from_claims({**CLAIMS, "email": email}), settings)
    unstated = identity_from_claims({k: v for k, v in CLAIMS.items() if k != "email_verified"})
    with pytest.raises(SignInRefused):
        check_allowed(unstated, settings)
    check_allowed(unstated, Settings())  # no list: anyone who signs in
    with pytest.raises(SettingsError):
        Settings.from_mapping({"VOICECHAT_ALLOWED_USERS": "corp"})


@pytest.mark.parametrize(
    ("host", "address", "page", "local"),
    [
        ("127.0.0.1:8501", None, "127.0.0.1", True),
        ("localhost:8501", "127.0.0.1", "localhost", True),
        ("[::1]:8501", "::1", None, True),
        (None, None, None, True),  # a test harness: nothing known
        ("rebound.example:8501", "127.0.0.1", "rebound.example", False),  # DNS rebinding
        ("127.0.0.1.evil.example:8501", None, None, False),
        ("127.0.0.1:8501", "10.1.2.3", None, False),  # another machine, Host header forged
        ("10.1.2.3:8501", "10.9.9.9", "10.1.2.3", False),
        (None, None, "voicechat.streamlit.app", False),
    ],
)
def test_local_mode_answers_this_machine_only(
    host: str | None, address: str | None, page: str | None, local: bool
) -> None:
    assert is_local_request(host=host, client_address=address, page_host=page) is local


@pytest.mark.parametrize(
    ("forwarded", "local"),
    [
        (["127.0.0.1"], True),  # make cluster's proxy, for a browser on this machine
        (["10.1.2.3"], False),  # the proxy forwarded for another machine
        (["127.0.0.1, 10.1.2.3"], False),  # any hop that is not this machine
        (["127.0.0.1, 10.0.0.9"], False),
        # A client's forged line first, then the line a proxy that appends (option forwardfor) adds.
        (["127.0.0.1", "10.0.0.9"], False),
        (["127.0.0.1", "::1, 127.0.0.2"], True),
        (["", " , "], True),
        ([], True),
        ("127.0.0.1, 10.0.0.9", False),  # one line given as a string is still one line
    ],
)
def test_behind_a_proxy_every_client_it_names_must_be_this_machine(
    forwarded: list[str] | str, local: bool
) -> None:
    assert (
        is_local_request(
            host="127.0.0.1:8501", client_address="127.0.0.1", page_host=None, forwarded_for=forwarded
        )
        is local
    )


def test_local_servers_must_really_be_on_this_machine() -> None:
    ok = Settings.from_mapping({"VOICECHAT_LOCAL_SERVERS": "http://127.0.0.1:11434,http://localhost:1234"})
    assert len(ok.local_servers) == 2
    for url in (
        "http://127.0.0.1.evil.com:11434",
        "http://localhost.evil.com",
        "http://user@127.0.0.1@evil.com",
    ):
        with pytest.raises(SettingsError, match="this machine"):
            Settings.from_mapping({"VOICECHAT_LOCAL_SERVERS": url})
