"""Settings: one frozen dataclass built from a mapping (st.secrets, the environment, or a dict in tests).

The names are the same everywhere (``OPENAI_API_KEY``, ``MONGODB_URI`` ...). ``Settings`` is hashable so the
Streamlit layer can key cached resources on it.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from voicechat import defaults
from voicechat.settings_reader import SettingsError, SettingsReader
from voicechat.tools.mcp_config import McpServerConfig, read_mcp_servers
from voicechat.usage import PriceTables

__all__ = ["Settings", "SettingsError", "is_loopback_host", "is_loopback_url"]


@dataclass(frozen=True)
class Settings:
    """Everything configurable about a deployment."""

    openai_api_key: str | None = field(default=None, repr=False)
    openai_base_url: str = defaults.OPENAI_DEFAULT_BASE_URL
    elevenlabs_api_key: str | None = field(default=None, repr=False)
    mongodb_uri: str | None = field(default=None, repr=False)
    redis_url: str | None = field(default=None, repr=False)
    data_dir: Path = Path(defaults.DEFAULT_DATA_DIR)
    admins: frozenset[str] = frozenset()
    allowed_users: frozenset[str] = frozenset()  # emails and @domains that may sign in (empty: anyone)
    # Without [auth], the email in st.user is the identity: only where the platform in front of the app
    # puts it there itself (a proxy setting server.trustedUserHeaders' header); off, anyone could claim one.
    trust_platform_email: bool = False
    chat_model: str = defaults.DEFAULT_CHAT_MODEL
    chat_models: tuple[str, ...] = defaults.DEFAULT_CHAT_MODELS
    tts_model: str = defaults.DEFAULT_TTS_MODEL
    realtime_tts_model: str = defaults.DEFAULT_REALTIME_TTS_MODEL
    speech_route: str = defaults.DEFAULT_SPEECH_ROUTE
    stt_model: str = defaults.DEFAULT_STT_MODEL
    live_stt_model: str = defaults.DEFAULT_LIVE_STT_MODEL  # "" : Talk mode transcribes each turn's file
    elevenlabs_base_url: str = defaults.ELEVENLABS_BASE_URL
    elevenlabs_voice_id: str = defaults.DEFAULT_ELEVENLABS_VOICE_ID
    elevenlabs_model: str = defaults.DEFAULT_ELEVENLABS_MODEL
    realtime_model: str = defaults.DEFAULT_REALTIME_MODEL  # Talk mode's OpenAI Realtime engine
    realtime_turn_detection: str = defaults.DEFAULT_REALTIME_TURN_DETECTION
    realtime_eagerness: str = defaults.DEFAULT_REALTIME_EAGERNESS
    voice_rate_limit: str = defaults.VOICE_RATE_LIMIT  # per user, in the ``limits`` notation
    text_rate_limit: str = defaults.TEXT_RATE_LIMIT
    address_rate_limit: str = defaults.ADDRESS_RATE_LIMIT  # per client address when nobody is signed in
    monthly_budgets: tuple[tuple[str, float], ...] = ()  # US dollars per user per month, by tier
    max_calls_per_user: int = defaults.MAX_CALLS_PER_USER  # open calls per person, across processes
    max_call_minutes: float = defaults.MAX_CALL_MINUTES  # a call ends by itself after this long
    elevenlabs_agent_id: str | None = None
    elevenlabs_agent_price_per_minute: float = defaults.ELEVENLABS_AGENT_PRICE_PER_MINUTE
    max_audio_seconds: float = defaults.DEFAULT_MAX_AUDIO_SECONDS
    ice_servers_json: str = "[]"  # WebRTC ICE servers (STUN/TURN), a JSON list; see ``ice_servers``
    turn_urls: tuple[str, ...] = ()  # TURN servers whose credentials are minted per call from turn_secret
    turn_secret: str | None = field(default=None, repr=False)
    turn_ttl_seconds: int = defaults.TURN_TTL_SECONDS
    ice_transport_policy: str = (
        "all"  # "relay": the browser sends media only through TURN (hides its address)
    )
    mcp_servers: tuple[McpServerConfig, ...] = field(default=(), repr=False)  # tools from MCP servers
    tools_enabled: bool = True  # built-in and MCP tools offered to the models (VOICECHAT_TOOLS=off: none)
    temperature: float | None = None  # None: the model's own default
    system_prompt: str = defaults.DEFAULT_SYSTEM_PROMPT
    max_message_chars: int = defaults.MAX_MESSAGE_CHARS
    max_output_tokens: int = defaults.MAX_OUTPUT_TOKENS
    context_messages: int = defaults.CONTEXT_MESSAGES
    openai_timeout: float = defaults.OPENAI_TIMEOUT_SECONDS
    openai_max_retries: int = defaults.OPENAI_MAX_RETRIES
    talk_engines: tuple[str, ...] = defaults.TALK_ENGINES
    local_engines: bool = True  # offline speech and chat on this machine, when installed
    local_servers: tuple[tuple[str, str], ...] = defaults.LOCAL_SERVERS  # (name, base URL) to look for
    chat_prices: tuple[tuple[str, float, float], ...] = tuple(
        (model, price[0], price[1]) for model, price in defaults.CHAT_PRICES_PER_MTOK.items()
    )
    realtime_prices: tuple[tuple[str, float, float], ...] = tuple(
        (model, price[0], price[1]) for model, price in defaults.REALTIME_PRICES_PER_MTOK.items()
    )
    stt_prices: tuple[tuple[str, float], ...] = tuple(defaults.STT_PRICES_PER_MINUTE.items())
    tts_prices: tuple[tuple[str, float], ...] = tuple(defaults.TTS_PRICES_PER_MINUTE.items())
    elevenlabs_prices: tuple[tuple[str, float], ...] = tuple(defaults.ELEVENLABS_PRICES_PER_KCHAR.items())

    @property
    def configured_models(self) -> tuple[str, ...]:
        """Every model this deployment may call (for shutdown warnings)."""
        return (
            *self.chat_models,
            self.tts_model,
            self.realtime_tts_model,
            self.stt_model,
            *((self.realtime_model,) if "openai-realtime" in self.talk_engines else ()),
        )

    @property
    def chat_price_table(self) -> dict[str, tuple[float, float]]:
        """US dollars per 1M (input, output) tokens by model."""
        return {model: (inp, out) for model, inp, out in self.chat_prices}

    @property
    def ice_servers(self) -> list[dict[str, Any]]:
        """WebRTC ICE servers for Talk mode (``[]``: host candidates only, enough on one machine or a LAN)."""
        servers: list[dict[str, Any]] = json.loads(self.ice_servers_json)
        return servers

    @property
    def price_tables(self) -> PriceTables:
        """Every price table, for pricing usage events."""
        return PriceTables(
            chat=self.chat_price_table,
            realtime={model: (inp, out) for model, inp, out in self.realtime_prices},
            stt_per_minute=dict(self.stt_prices),
            tts_per_minute=dict(self.tts_prices),
            elevenlabs_per_kchar=dict(self.elevenlabs_prices),
        )

    @property
    def uses_default_openai_endpoint(self) -> bool:
        """True when requests go to api.openai.com (a key is then required)."""
        return self.openai_base_url.rstrip("/") == defaults.OPENAI_DEFAULT_BASE_URL

    @property
    def openai_configured(self) -> bool:
        """A chat provider is usable without asking the user for a key."""
        return bool(self.openai_api_key) or not self.uses_default_openai_endpoint

    def is_admin(self, email: str) -> bool:
        """Whether ``email`` is listed in ``VOICECHAT_ADMINS`` (case-insensitive)."""
        return email.strip().lower() in self.admins

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> Settings:
        """Build settings from string-ish values; unknown keys are ignored, bad values raise SettingsError."""
        reader = SettingsReader(values)
        chat_model = reader.text("VOICECHAT_CHAT_MODEL") or defaults.DEFAULT_CHAT_MODEL
        chat_models = reader.csv("VOICECHAT_CHAT_MODELS") or defaults.DEFAULT_CHAT_MODELS
        if chat_model not in chat_models:
            chat_models = (chat_model, *chat_models)
        return cls(
            # An absent or empty OPENAI_BASE_URL means the SDK's default endpoint, as in the SDK.
            openai_api_key=reader.text("OPENAI_API_KEY"),
            openai_base_url=reader.url("OPENAI_BASE_URL") or defaults.OPENAI_DEFAULT_BASE_URL,
            elevenlabs_api_key=reader.text("ELEVENLABS_API_KEY"),
            mongodb_uri=reader.text("MONGODB_URI"),
            redis_url=reader.text("REDIS_URL"),
            data_dir=Path(reader.text("VOICECHAT_DATA_DIR") or defaults.DEFAULT_DATA_DIR),
            admins=frozenset(email.lower() for email in reader.csv("VOICECHAT_ADMINS")),
            allowed_users=_allowed_users(reader.csv("VOICECHAT_ALLOWED_USERS")),
            trust_platform_email=reader.switch("VOICECHAT_TRUST_PLATFORM_EMAIL", default=False),
            chat_model=chat_model,
            chat_models=chat_models,
            tts_model=reader.text("VOICECHAT_TTS_MODEL") or defaults.DEFAULT_TTS_MODEL,
            realtime_tts_model=reader.text("VOICECHAT_REALTIME_TTS_MODEL")
            or defaults.DEFAULT_REALTIME_TTS_MODEL,
            speech_route=reader.choice(
                "VOICECHAT_SPEECH_ROUTE", defaults.SPEECH_ROUTES, defaults.DEFAULT_SPEECH_ROUTE
            ),
            stt_model=reader.text("VOICECHAT_STT_MODEL") or defaults.DEFAULT_STT_MODEL,
            live_stt_model=_live_stt_model(reader.text("VOICECHAT_LIVE_STT_MODEL")),
            elevenlabs_base_url=reader.url("ELEVENLABS_BASE_URL") or defaults.ELEVENLABS_BASE_URL,
            elevenlabs_voice_id=reader.text("ELEVENLABS_VOICE_ID") or defaults.DEFAULT_ELEVENLABS_VOICE_ID,
            elevenlabs_model=reader.text("ELEVENLABS_MODEL") or defaults.DEFAULT_ELEVENLABS_MODEL,
            realtime_model=reader.text("VOICECHAT_REALTIME_MODEL") or defaults.DEFAULT_REALTIME_MODEL,
            realtime_turn_detection=reader.choice(
                "VOICECHAT_REALTIME_TURN_DETECTION",
                defaults.REALTIME_TURN_DETECTIONS,
                defaults.DEFAULT_REALTIME_TURN_DETECTION,
            ),
            realtime_eagerness=reader.choice(
                "VOICECHAT_REALTIME_EAGERNESS",
                defaults.REALTIME_EAGERNESS,
                defaults.DEFAULT_REALTIME_EAGERNESS,
            ),
            elevenlabs_agent_id=reader.text("ELEVENLABS_AGENT_ID"),
            voice_rate_limit=reader.rate_limit("VOICECHAT_VOICE_RATE_LIMIT", defaults.VOICE_RATE_LIMIT),
            text_rate_limit=reader.rate_limit("VOICECHAT_TEXT_RATE_LIMIT", defaults.TEXT_RATE_LIMIT),
            address_rate_limit=reader.rate_limit("VOICECHAT_ADDRESS_RATE_LIMIT", defaults.ADDRESS_RATE_LIMIT),
            monthly_budgets=tuple(reader.rates("VOICECHAT_MONTHLY_BUDGETS").items()),
            max_calls_per_user=int(
                reader.number("VOICECHAT_MAX_CALLS_PER_USER", defaults.MAX_CALLS_PER_USER, 1, 100)
            ),
            max_call_minutes=reader.number(
                "VOICECHAT_MAX_CALL_MINUTES", defaults.MAX_CALL_MINUTES, 2, 24 * 60
            ),
            elevenlabs_agent_price_per_minute=reader.number(
                "VOICECHAT_ELEVENLABS_AGENT_PRICE_PER_MINUTE",
                defaults.ELEVENLABS_AGENT_PRICE_PER_MINUTE,
                0,
                100,
            ),
            ice_servers_json=reader.ice_servers("VOICECHAT_ICE_SERVERS"),
            turn_urls=_turn_urls(reader.csv("VOICECHAT_TURN_URLS"), reader.text("VOICECHAT_TURN_SECRET")),
            turn_secret=reader.text("VOICECHAT_TURN_SECRET"),
            turn_ttl_seconds=int(
                reader.number("VOICECHAT_TURN_TTL_SECONDS", defaults.TURN_TTL_SECONDS, 60, 7 * 24 * 3600)
            ),
            ice_transport_policy=_relay_needs_turn(
                reader.choice("VOICECHAT_ICE_TRANSPORT_POLICY", ("all", "relay"), "all"),
                reader.csv("VOICECHAT_TURN_URLS"),
            ),
            max_audio_seconds=reader.number(
                "VOICECHAT_MAX_AUDIO_SECONDS", defaults.DEFAULT_MAX_AUDIO_SECONDS, 1.0, 3600.0
            ),
            mcp_servers=read_mcp_servers(values),
            tools_enabled=reader.switch("VOICECHAT_TOOLS", default=True),
            temperature=reader.optional_number("VOICECHAT_TEMPERATURE", 0.0, 2.0),
            system_prompt=reader.text("VOICECHAT_SYSTEM_PROMPT") or defaults.DEFAULT_SYSTEM_PROMPT,
            max_message_chars=int(
                reader.number("VOICECHAT_MAX_MESSAGE_CHARS", defaults.MAX_MESSAGE_CHARS, 1, 100_000)
            ),
            max_output_tokens=int(
                reader.number("VOICECHAT_MAX_OUTPUT_TOKENS", defaults.MAX_OUTPUT_TOKENS, 16, 128_000)
            ),
            context_messages=int(
                reader.number("VOICECHAT_CONTEXT_MESSAGES", defaults.CONTEXT_MESSAGES, 1, 500)
            ),
            openai_timeout=reader.number("OPENAI_TIMEOUT", defaults.OPENAI_TIMEOUT_SECONDS, 1.0, 600.0),
            openai_max_retries=int(reader.number("OPENAI_MAX_RETRIES", defaults.OPENAI_MAX_RETRIES, 0, 10)),
            talk_engines=_engines(reader.csv("VOICECHAT_TALK_ENGINES")),
            local_engines=reader.switch("VOICECHAT_LOCAL_ENGINES", default=True),
            local_servers=_local_servers(reader.csv("VOICECHAT_LOCAL_SERVERS")),
            chat_prices=_pairs({**defaults.CHAT_PRICES_PER_MTOK, **reader.prices("VOICECHAT_CHAT_PRICES")}),
            realtime_prices=_pairs(
                {**defaults.REALTIME_PRICES_PER_MTOK, **reader.prices("VOICECHAT_REALTIME_PRICES")}
            ),
            stt_prices=tuple(
                {**defaults.STT_PRICES_PER_MINUTE, **reader.rates("VOICECHAT_STT_PRICES")}.items()
            ),
            tts_prices=tuple(
                {**defaults.TTS_PRICES_PER_MINUTE, **reader.rates("VOICECHAT_TTS_PRICES")}.items()
            ),
            elevenlabs_prices=tuple(
                {
                    **defaults.ELEVENLABS_PRICES_PER_KCHAR,
                    **reader.rates("VOICECHAT_ELEVENLABS_PRICES"),
                }.items()
            ),
        )


def _pairs(table: Mapping[str, tuple[float, float]]) -> tuple[tuple[str, float, float], ...]:
    return tuple((model, price[0], price[1]) for model, price in table.items())


def _local_servers(urls: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    if not urls:
        return defaults.LOCAL_SERVERS
    for url in urls:
        if not is_loopback_url(url):
            raise SettingsError(
                "VOICECHAT_LOCAL_SERVERS lists this machine's servers only (http://127.0.0.1:…)"
            )
    return tuple((url, url.rstrip("/")) for url in urls)


def _turn_urls(urls: tuple[str, ...], secret: str | None) -> tuple[str, ...]:
    if any(not url.startswith(("turn:", "turns:")) for url in urls):
        raise SettingsError("VOICECHAT_TURN_URLS lists turn: or turns: URLs, e.g. turn:turn.example.com:3478")
    if urls and not secret:
        raise SettingsError("VOICECHAT_TURN_URLS needs VOICECHAT_TURN_SECRET (the TURN server's auth secret)")
    return urls


def _relay_needs_turn(policy: str, turn_urls: tuple[str, ...]) -> str:
    if policy == "relay" and not turn_urls:
        raise SettingsError("VOICECHAT_ICE_TRANSPORT_POLICY=relay needs TURN servers (VOICECHAT_TURN_URLS)")
    return policy


def _allowed_users(entries: tuple[str, ...]) -> frozenset[str]:
    allowed = frozenset(entry.lower() for entry in entries)
    for entry in allowed:
        _, _, domain = entry.partition("@")
        if not domain or "." not in domain or "@" in domain or " " in entry:
            raise SettingsError(
                "VOICECHAT_ALLOWED_USERS lists emails and @domains, e.g. @corp.com,guest@example.org"
            )
    return allowed


def is_loopback_url(url: str) -> bool:
    """Whether ``url`` is plain HTTP(S) to this machine: ``localhost`` or a loopback address, no user info.

    The host is parsed, not prefix-matched, so ``http://127.0.0.1.evil.com`` is somebody else's server.
    """
    try:
        parsed = urlparse(url)
        parsed.port  # noqa: B018 (raises ValueError on a malformed port)
    except ValueError:
        return False
    if parsed.scheme not in ("http", "https") or parsed.username or parsed.password:
        return False
    return is_loopback_host(parsed.hostname or "")


def is_loopback_host(host: str) -> bool:
    """``localhost`` or a loopback IP address (127.0.0.0/8, ::1); a name that only starts like one is not."""
    host = host.strip().lower().removesuffix(".")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _engines(chosen: tuple[str, ...]) -> tuple[str, ...]:
    unknown = [engine for engine in chosen if engine not in defaults.TALK_ENGINES]
    if unknown:
        raise SettingsError(f"VOICECHAT_TALK_ENGINES: unknown engine {unknown[0]!r}")
    return chosen or defaults.TALK_ENGINES


def _live_stt_model(value: str | None) -> str:
    """The streaming transcription model; "off" (or "none") switches streaming transcription off."""
    if value is None:
        return defaults.DEFAULT_LIVE_STT_MODEL
    return "" if value.strip().lower() in ("off", "none") else value.strip()
