"""What every page needs: settings, the shared store, and who the user is.

Only thread-safe synchronous clients are cached (the Store holds pymongo and redis clients).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

import streamlit as st

from voicechat import defaults
from voicechat.config import Settings, SettingsError
from voicechat.errors import VoicechatError
from voicechat.log_safety import keep_content_out_of_logs, log_app_events
from voicechat.models import User
from voicechat.quotas import Action, Quotas
from voicechat.storage.store import Store

log = logging.getLogger("voicechat.ui")


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
    signed_in = bool(st.user.get("is_logged_in"))
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
    """Who is using the app: the OpenID Connect user when sign-in is configured, else the local user.

    Read once per browser session (and identity), not on every rerun.
    """
    info = st.user
    if info.get("is_logged_in"):
        email = str(info.get("email") or "").strip().lower()
        if not email:
            st.error(
                "Your sign-in did not share an email address, which this app needs to keep your data apart."
            )
            st.stop()
        name = str(info.get("name") or email)
        admin = settings.is_admin(email)
    elif _sign_in_configured():
        st.title("voicechat")
        st.write("Sign in to continue. Your conversations are private to your account.")
        st.button("Sign in", type="primary", on_click=st.login)
        st.stop()
    else:
        # Single-user local mode: one local user, an administrator.
        email, name, admin = defaults.LOCAL_USER_EMAIL, defaults.LOCAL_USER_NAME, True
    key = f"voicechat_user:{store.db.name}:{email}"
    user: User | None = st.session_state.get(key)
    if user is None:
        user = store.users.get_or_create(email=email, name=name, admin=admin)
        st.session_state[key] = user
    return user


def _sign_in_configured() -> bool:
    try:
        return "auth" in st.secrets
    except (FileNotFoundError, st.errors.StreamlitSecretNotFoundError):
        return False


def warn_if_exposed_without_sign_in() -> None:
    """In single-user local mode, say so loudly when the app is opened through a network address."""
    if st.user.get("is_logged_in") or _sign_in_configured():
        return
    host = urlparse(st.context.url or "").hostname or "localhost"
    if host not in ("localhost", "127.0.0.1", "::1"):
        st.warning(
            "This app is reachable at a network address but has no sign-in: anyone who can open it acts as "
            "the administrator. Configure sign-in ([auth] in secrets) before sharing it.",
            icon=":material/warning:",
        )


def _secrets() -> Mapping[str, Any]:
    try:
        return {key: st.secrets[key] for key in st.secrets if not isinstance(st.secrets[key], Mapping)}
    except (FileNotFoundError, st.errors.StreamlitSecretNotFoundError):
        return {}
