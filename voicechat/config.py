"""Settings: one frozen dataclass built from a mapping (st.secrets, the environment, or a dict in tests).

The names are the same everywhere (``OPENAI_API_KEY``, ``MONGODB_URI`` ...). ``Settings`` is hashable so the
Streamlit layer can key cached resources on it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from limits import parse

from voicechat import defaults
from voicechat.usage import PriceTables


class SettingsError(ValueError):
    """A setting has a value that cannot be used; the message names the setting."""


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
    chat_model: str = defaults.DEFAULT_CHAT_MODEL
    chat_models: tuple[str, ...] = defaults.DEFAULT_CHAT_MODELS
    tts_model: str = defaults.DEFAULT_TTS_MODEL
    realtime_tts_model: str = defaults.DEFAULT_REALTIME_TTS_MODEL
    speech_route: str = defaults.DEFAULT_SPEECH_ROUTE
    stt_model: str = defaults.DEFAULT_STT_MODEL
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
    elevenlabs_agent_id: str | None = None
    elevenlabs_agent_price_per_minute: float = defaults.ELEVENLABS_AGENT_PRICE_PER_MINUTE
    max_audio_seconds: float = defaults.DEFAULT_MAX_AUDIO_SECONDS
    ice_servers_json: str = "[]"  # WebRTC ICE servers (STUN/TURN), a JSON list; see ``ice_servers``
    temperature: float | None = None  # None: the model's own default
    system_prompt: str = defaults.DEFAULT_SYSTEM_PROMPT
    max_message_chars: int = defaults.MAX_MESSAGE_CHARS
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
        reader = _Reader(values)
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
            chat_model=chat_model,
            chat_models=chat_models,
            tts_model=reader.text("VOICECHAT_TTS_MODEL") or defaults.DEFAULT_TTS_MODEL,
            realtime_tts_model=reader.text("VOICECHAT_REALTIME_TTS_MODEL")
            or defaults.DEFAULT_REALTIME_TTS_MODEL,
            speech_route=reader.choice(
                "VOICECHAT_SPEECH_ROUTE", defaults.SPEECH_ROUTES, defaults.DEFAULT_SPEECH_ROUTE
            ),
            stt_model=reader.text("VOICECHAT_STT_MODEL") or defaults.DEFAULT_STT_MODEL,
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
            elevenlabs_agent_price_per_minute=reader.number(
                "VOICECHAT_ELEVENLABS_AGENT_PRICE_PER_MINUTE",
                defaults.ELEVENLABS_AGENT_PRICE_PER_MINUTE,
                0,
                100,
            ),
            ice_servers_json=reader.ice_servers("VOICECHAT_ICE_SERVERS"),
            max_audio_seconds=reader.number(
                "VOICECHAT_MAX_AUDIO_SECONDS", defaults.DEFAULT_MAX_AUDIO_SECONDS, 1.0, 3600.0
            ),
            temperature=reader.optional_number("VOICECHAT_TEMPERATURE", 0.0, 2.0),
            system_prompt=reader.text("VOICECHAT_SYSTEM_PROMPT") or defaults.DEFAULT_SYSTEM_PROMPT,
            max_message_chars=int(
                reader.number("VOICECHAT_MAX_MESSAGE_CHARS", defaults.MAX_MESSAGE_CHARS, 1, 100_000)
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
        if not url.startswith(("http://127.0.0.1", "http://localhost", "http://[::1]")):
            raise SettingsError(
                "VOICECHAT_LOCAL_SERVERS lists this machine's servers only (http://127.0.0.1:…)"
            )
    return tuple((url, url.rstrip("/")) for url in urls)


def _engines(chosen: tuple[str, ...]) -> tuple[str, ...]:
    unknown = [engine for engine in chosen if engine not in defaults.TALK_ENGINES]
    if unknown:
        raise SettingsError(f"VOICECHAT_TALK_ENGINES: unknown engine {unknown[0]!r}")
    return chosen or defaults.TALK_ENGINES


class _Reader:
    """Reads typed values out of a mapping of (mostly) strings, naming the key in every error."""

    def __init__(self, values: Mapping[str, Any]) -> None:
        self._values = values

    def text(self, key: str) -> str | None:
        value = self._values.get(key)
        if value is None:
            return None
        text = str(value).strip()
        return text or None

    def switch(self, key: str, *, default: bool) -> bool:
        """``on``/``off`` (also true/false, 1/0, yes/no)."""
        text = (self.text(key) or "").lower()
        if not text:
            return default
        if text in ("on", "true", "1", "yes"):
            return True
        if text in ("off", "false", "0", "no"):
            return False
        raise SettingsError(f"{key} must be on or off")

    def csv(self, key: str) -> tuple[str, ...]:
        value = self._values.get(key)
        if value is None:
            return ()
        items = value if isinstance(value, list | tuple) else str(value).split(",")
        return tuple(item for item in (str(i).strip() for i in items) if item)

    def prices(self, key: str) -> dict[str, tuple[float, float]]:
        """``model=input/output;model2=input/output`` (``,`` also separates) in US dollars per 1M tokens."""
        table: dict[str, tuple[float, float]] = {}
        for entry in (self.text(key) or "").replace(",", ";").split(";"):
            if not entry.strip():
                continue
            try:
                model, rates = entry.split("=", 1)
                inp, out = (float(x) for x in rates.split("/", 1))
            except ValueError:
                raise SettingsError(
                    f"{key} entries look like model=0.10/0.50 (USD per 1M input/output tokens)"
                ) from None
            if not (math.isfinite(inp) and math.isfinite(out)) or inp < 0 or out < 0:
                raise SettingsError(f"{key} prices must be non-negative numbers")
            table[model.strip()] = (inp, out)
        return table

    def rates(self, key: str) -> dict[str, float]:
        """``model=rate;model2=rate`` (``,`` also separates): one non-negative US dollar rate per model."""
        table: dict[str, float] = {}
        for entry in (self.text(key) or "").replace(",", ";").split(";"):
            if not entry.strip():
                continue
            try:
                model, rate_text = entry.split("=", 1)
                rate = float(rate_text)
            except ValueError:
                raise SettingsError(f"{key} entries look like model=0.006 (US dollars)") from None
            if not math.isfinite(rate) or rate < 0:
                raise SettingsError(f"{key} prices must be non-negative numbers")
            table[model.strip()] = rate
        return table

    def ice_servers(self, key: str) -> str:
        """A JSON list of RTCIceServer objects (each with ``urls``), returned normalised."""
        text = self.text(key)
        if text is None:
            return "[]"
        try:
            servers = json.loads(text)
        except ValueError:
            raise SettingsError(f'{key} must be a JSON list, e.g. [{{"urls": "turn:host:3478"}}]') from None
        if not isinstance(servers, list) or not all(isinstance(s, dict) and "urls" in s for s in servers):
            raise SettingsError(f'{key} must be a JSON list of objects that each have "urls"')
        return json.dumps(servers)

    def rate_limit(self, key: str, default: str) -> str:
        """A rate in the ``limits`` notation, e.g. ``50/15 minutes`` or ``20 per minute``."""
        text = self.text(key) or default
        try:
            parse(text)
        except ValueError:
            raise SettingsError(f"{key} must look like 50/15 minutes or 20 per minute") from None
        return text

    def choice(self, key: str, allowed: tuple[str, ...], default: str) -> str:
        value = self.text(key) or default
        if value not in allowed:
            raise SettingsError(f"{key} must be one of: {', '.join(allowed)}")
        return value

    def url(self, key: str) -> str | None:
        text = self.text(key)
        if text is None:
            return None
        parsed = urlparse(text)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise SettingsError(f"{key} must be an http(s) URL")
        return text.rstrip("/")

    def optional_number(self, key: str, low: float, high: float) -> float | None:
        return None if self.text(key) is None else self.number(key, 0.0, low, high)

    def number(self, key: str, default: float, low: float, high: float) -> float:
        text = self.text(key)
        if text is None:
            return default
        try:
            value = float(text)
        except ValueError:
            raise SettingsError(f"{key} must be a number") from None
        if not math.isfinite(value) or not low <= value <= high:
            raise SettingsError(f"{key} must be between {low:g} and {high:g}")
        return value
