from __future__ import annotations

from pathlib import Path

import pytest

from voicechat import defaults
from voicechat.config import Settings, SettingsError


def test_defaults_when_nothing_is_configured() -> None:
    settings = Settings.from_mapping({})
    assert settings.openai_api_key is None
    assert settings.openai_base_url == defaults.OPENAI_DEFAULT_BASE_URL
    assert settings.chat_model == defaults.DEFAULT_CHAT_MODEL
    assert settings.max_message_chars == 2000
    assert settings.temperature is None  # the model's own default unless configured
    assert settings.data_dir == Path("data")
    assert not settings.openai_configured


def test_values_are_read_and_typed() -> None:
    settings = Settings.from_mapping(
        {
            "OPENAI_API_KEY": " sk-abc ",
            "OPENAI_BASE_URL": "http://127.0.0.1:11434/v1/",
            "VOICECHAT_ADMINS": "Alice@Example.com, bob@example.com,",
            "VOICECHAT_TEMPERATURE": "0.2",
            "VOICECHAT_CHAT_MODEL": "llama3.2",
            "VOICECHAT_DATA_DIR": "/tmp/vc",
        }
    )
    assert settings.openai_api_key == "sk-abc"
    assert settings.openai_base_url == "http://127.0.0.1:11434/v1"
    assert settings.is_admin("alice@example.com") and settings.is_admin(" BOB@example.com")
    assert not settings.is_admin("eve@example.com")
    assert settings.temperature == 0.2
    assert settings.chat_model == "llama3.2" and settings.chat_models[0] == "llama3.2"
    assert settings.data_dir == Path("/tmp/vc")


def test_empty_base_url_means_the_default_endpoint() -> None:
    assert Settings.from_mapping({"OPENAI_BASE_URL": ""}).openai_base_url == defaults.OPENAI_DEFAULT_BASE_URL


def test_a_local_endpoint_needs_no_key() -> None:
    settings = Settings.from_mapping({"OPENAI_BASE_URL": "http://127.0.0.1:8080/v1"})
    assert settings.openai_configured and not settings.uses_default_openai_endpoint


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("OPENAI_BASE_URL", "ftp://x", "OPENAI_BASE_URL must be an http"),
        ("VOICECHAT_TEMPERATURE", "hot", "VOICECHAT_TEMPERATURE must be a number"),
        ("VOICECHAT_TEMPERATURE", "3", "between 0 and 2"),
        ("VOICECHAT_MAX_MESSAGE_CHARS", "nan", "between"),
    ],
)
def test_bad_values_name_the_setting(key: str, value: str, message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        Settings.from_mapping({key: value})


def test_secrets_are_not_in_repr() -> None:
    settings = Settings.from_mapping({"OPENAI_API_KEY": "sk-secret", "MONGODB_URI": "mongodb://u:pw@h/db"})
    assert "sk-secret" not in repr(settings) and "pw@" not in repr(settings)


def test_prices_override_the_built_in_table() -> None:
    settings = Settings.from_mapping({"VOICECHAT_CHAT_PRICES": "gpt-6-luna=1/2; my-local=0/0, other=3/4"})
    assert settings.chat_price_table["other"] == (3.0, 4.0)  # both separators, mixed
    assert settings.chat_price_table["gpt-6-luna"] == (1.0, 2.0)
    assert settings.chat_price_table["my-local"] == (0.0, 0.0)
    assert settings.chat_price_table["gpt-6.1-sol"] == defaults.CHAT_PRICES_PER_MTOK["gpt-6.1-sol"]
    for bad in ("gpt=cheap", "gpt=1/-2", "gpt=1"):
        with pytest.raises(SettingsError, match="VOICECHAT_CHAT_PRICES"):
            Settings.from_mapping({"VOICECHAT_CHAT_PRICES": bad})


def test_offline_switches_and_local_servers_are_validated() -> None:
    assert Settings.from_mapping({}).local_engines is True
    assert Settings.from_mapping({"VOICECHAT_LOCAL_ENGINES": "off"}).local_engines is False
    custom = Settings.from_mapping({"VOICECHAT_LOCAL_SERVERS": "http://127.0.0.1:11434/v1/"})
    assert custom.local_servers == (("http://127.0.0.1:11434/v1/", "http://127.0.0.1:11434/v1"),)
    with pytest.raises(SettingsError, match="on or off"):
        Settings.from_mapping({"VOICECHAT_LOCAL_ENGINES": "maybe"})
    with pytest.raises(SettingsError, match="this machine's servers only"):
        Settings.from_mapping({"VOICECHAT_LOCAL_SERVERS": "https://api.example.com/v1"})


def test_relay_only_media_needs_turn_servers_to_relay_through() -> None:
    with pytest.raises(SettingsError, match="VOICECHAT_TURN_URLS"):
        Settings.from_mapping({"VOICECHAT_ICE_TRANSPORT_POLICY": "relay"})
    with pytest.raises(SettingsError, match="one of: all, relay"):
        Settings.from_mapping({"VOICECHAT_ICE_TRANSPORT_POLICY": "tcp"})
    relayed = Settings.from_mapping(
        {
            "VOICECHAT_ICE_TRANSPORT_POLICY": "relay",
            "VOICECHAT_TURN_URLS": "turn:turn.example.com:3478",
            "VOICECHAT_TURN_SECRET": "s3cret",
        }
    )
    assert relayed.ice_transport_policy == "relay"
    assert Settings.from_mapping({}).ice_transport_policy == "all"
