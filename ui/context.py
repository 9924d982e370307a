"""What every page needs: settings, the shared store, and who the user is.

Only thread-safe synchronous clients are cached (the Store holds pymongo and redis clients).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import streamlit as st

from voicechat import defaults
from voicechat.config import Settings, SettingsError
from voicechat.errors import VoicechatError
from voicechat.models import User
from voicechat.storage.store import Store

log = logging.getLogger("voicechat.ui")


@dataclass(frozen=True)
class AppContext:
    """Settings, storage and the signed-in user for this script run."""

    settings: Settings
    store: Store
    user: User


def load_settings() -> Settings:
    """Settings from the environment overlaid with ``st.secrets`` (secrets win)."""
    values: dict[str, Any] = dict(os.environ)
    values.update(_secrets())
    return Settings.from_mapping(values)


@st.cache_resource(show_spinner="Starting the database…")
def open_store(settings: Settings) -> Store:
    """One Store per distinct configuration, shared by every session of this process."""
    return Store.open(settings)


def current() -> AppContext:
    """The context for this run; on a configuration or database problem, explain it and stop the page."""
    try:
        settings = load_settings()
        store = open_store(settings)
        user = _local_user(store, settings)
    except SettingsError as exc:
        st.error(f"The app's configuration has a problem: {exc}")
        st.stop()
    except VoicechatError as exc:
        log.warning("start-up failed: %s", type(exc).__name__)
        st.error(exc.user_message)
        st.stop()
    return AppContext(settings=settings, store=store, user=user)


def _local_user(store: Store, settings: Settings) -> User:
    # Single-user local mode: one local user, an administrator. (Sign-in arrives with the identity issue.)
    return store.users.get_or_create(
        email=defaults.LOCAL_USER_EMAIL, name=defaults.LOCAL_USER_NAME, admin=True
    )


def _secrets() -> Mapping[str, Any]:
    try:
        return {key: st.secrets[key] for key in st.secrets if not isinstance(st.secrets[key], Mapping)}
    except (FileNotFoundError, st.errors.StreamlitSecretNotFoundError):
        return {}
