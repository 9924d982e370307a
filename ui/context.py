"""What every page needs: settings, the shared store, and who the user is.

Only thread-safe synchronous clients are cached (the Store holds pymongo and redis clients).
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

import streamlit as st

from voicechat import defaults
from voicechat.access import (
    SignInRefused,
    check_allowed,
    identity_from_claims,
    is_listed_admin,
    is_local_request,
    platform_identity,
)
from voicechat.config import Settings, SettingsError
from voicechat.errors import NotFound, VoicechatError
from voicechat.log_safety import keep_content_out_of_logs, log_app_events
from voicechat.models import User
from voicechat.quotas import Action, Quotas
from voicechat.storage.store import Store
from voicechat.storage.users import Identity

log = logging.getLogger("voicechat.ui")
# What st.user has carried outside Community Cloud in some Streamlit versions: nobody in particular.
PLACEHOLDER_EMAILS = frozenset({"test@example.com", "test@localhost.com"})


@dataclass(frozen=True)
class AppContext:
    """Settings, storage and the signed-in user for this script run."""

    settings: Settings
    store: Store
    user: User
    quotas: Quotas
    client_address: str | None = None  # for signed-out use, where every browser is the one local user


def load_settings() -> Settings:
    """Settings from the environment overlaid with ``st.secrets`` (secrets win)."""
    values: dict[str, Any] = dict(os.environ)
    values.update(_secrets())
    return Settings.from_mapping(values)


@st.cache_resource
def open_quotas(settings: Settings) -> Quotas:
    """One limiter per configuration per process (its counts live in Redis when REDIS_URL is set)."""
    return Quotas(settings, open_store(settings))


@st.cache_resource(show_spinner="Starting the database…")
def open_store(settings: Settings) -> Store:
    """One Store per distinct configuration, shared by every session of this process."""
    keep_content_out_of_logs()
    log_app_events()
    return Store.open(settings)


def current() -> AppContext:
    """The context for this run; on a configuration or database problem, explain it and stop the page."""
    try:
        settings = load_settings()
        store = open_store(settings)
        user = _signed_in_user(store, settings)
    except SettingsError as exc:
        st.error(f"The app's configuration has a problem: {exc}")
        st.stop()
    except VoicechatError as exc:
        log.warning("start-up failed: %s", type(exc).__name__)
        st.error(exc.user_message)
        st.stop()
    signed_in = bool(st.user.get("is_logged_in")) or viewer_email(settings) is not None
    return AppContext(
        settings=settings,
        store=store,
        user=user,
        quotas=open_quotas(settings),
        client_address=None if signed_in else (st.context.ip_address or "unknown"),
    )


def admit(app: AppContext, action: Action) -> None:
    """Count one turn against the user's limits (raises ``Refused`` with when to try again)."""
    app.quotas.admit(app.user, action, client_address=app.client_address)


def _signed_in_user(store: Store, settings: Settings) -> User:
    """Who is using the app: the OpenID Connect user when sign-in is configured, the viewer the platform in
    front of the app vouches for (only with ``VOICECHAT_TRUST_PLATFORM_EMAIL``: see ``viewer_email``), else
    the local user, who is only ever served on this machine. Each account is bound to its provider's identity;
    signed in once per browser session and re-read on every run, so a role an admin changes applies at once.
    """
    info = st.user
    if info.get("is_logged_in"):
        identity = _allowed(settings, lambda: identity_from_claims(info.to_dict()))
    elif _sign_in_configured():
        st.title("voicechat")
        st.write("Sign in to continue. Your conversations are private to your account.")
        st.button("Sign in", type="primary", on_click=st.login)
        st.stop()
    elif platform_email := viewer_email(settings):
        identity = _allowed(settings, lambda: platform_identity(platform_email))
    else:
        _refuse_unless_local()
        # Single-user local mode: one local user, an administrator.
        local = Identity.local(defaults.LOCAL_USER_EMAIL, defaults.LOCAL_USER_NAME)
        return _session_user(store, local, admin=True)
    return _session_user(store, identity, admin=is_listed_admin(identity, settings))


def _allowed(settings: Settings, identify: Callable[[], Identity]) -> Identity:
    """The identity, if it may use the app; otherwise a page that says why, with a way to switch account."""
    try:
        identity = identify()
        check_allowed(identity, settings)
    except SignInRefused as exc:
        st.title("voicechat")
        st.error(exc.user_message, icon=":material/block:")
        if st.user.get("is_logged_in"):
            st.button("Sign out", on_click=st.logout)
        st.stop()
    return identity


def _refuse_unless_local() -> None:
    """Local mode has no sign-in, so it answers this machine only: a page reached through another host name
    (DNS rebinding) or from another address explains how to set up sign-in instead of showing the app."""
    address = st.context.ip_address
    if is_local_request(
        host=st.context.headers.get("Host"),
        client_address=address if isinstance(address, str) else None,  # None on localhost (and in AppTest)
        page_host=urlparse(st.context.url or "").hostname,
        # Every line: .get() gives one, and a proxy that appends passes a forged line along before its own.
        forwarded_for=st.context.headers.get_all("X-Forwarded-For"),
    ):
        return
    log.warning("local mode refused a request that is not from this machine")
    st.title("voicechat needs sign-in here")
    st.error(
        "This app runs in single-user local mode, which only answers on this machine "
        "(http://localhost or http://127.0.0.1). To open it from other computers or a public address, "
        "configure sign-in: add an [auth] section to .streamlit/secrets.toml (see the README, *Sign-in*).",
        icon=":material/lock:",
    )
    st.stop()


def _session_user(store: Store, identity: Identity, *, admin: bool) -> User:
    key = f"voicechat_user_id:{store.db.name}:{identity.key}"
    user_id: str | None = st.session_state.get(key)
    if user_id is not None:
        with contextlib.suppress(NotFound):  # the record went away (a wiped database): sign in again
            return store.users.get(user_id)
    user = store.users.sign_in(identity, listed_admin=admin)
    st.session_state[key] = user.id
    return user


def viewer_email(settings: Settings | None = None) -> str | None:
    """The viewer's email the platform in front of the app supplies in ``st.user`` without an ``[auth]``
    section, lower-cased; None when there is none or it is not trusted.

    Only trusted with ``VOICECHAT_TRUST_PLATFORM_EMAIL``: Streamlit's ``server.trustedUserHeaders`` copies a
    request header into ``st.user``, so the email is whatever the client sent unless a proxy sets that
    header itself. Community Cloud gives no email there since Streamlit 1.42 and has no documented signal
    that would let the app recognise it, so nothing is trusted by default.
    """
    if not (settings or load_settings()).trust_platform_email:
        return None
    info = st.user
    if "is_logged_in" in info:  # Streamlit's own sign-in is in charge
        return None
    email = str(info.get("email") or "").strip().lower()
    return email if "@" in email and email not in PLACEHOLDER_EMAILS else None


def _sign_in_configured() -> bool:
    try:
        return "auth" in st.secrets
    except (FileNotFoundError, st.errors.StreamlitSecretNotFoundError):
        return False


def _secrets() -> Mapping[str, Any]:
    try:
        return {key: st.secrets[key] for key in st.secrets if not isinstance(st.secrets[key], Mapping)}
    except (FileNotFoundError, st.errors.StreamlitSecretNotFoundError):
        return {}
