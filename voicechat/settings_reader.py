"""Reading typed settings out of a mapping of (mostly) strings, naming the offending key in every error."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlparse

from limits import parse


class SettingsError(ValueError):
    """A setting has a value that cannot be used; the message names the setting."""


class SettingsReader:
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
        if any("credential" in s or "username" in s for s in servers):
            raise SettingsError(
                f"{key} must not hold TURN passwords: they would be sent to every browser. Use "
                "VOICECHAT_TURN_URLS with VOICECHAT_TURN_SECRET, which mint short-lived ones per call."
            )
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
