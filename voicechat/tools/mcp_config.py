"""``VOICECHAT_MCP_SERVERS``: the MCP servers an admin configured, read and checked once at start-up.

A JSON list (or a list in secrets.toml) of ``{"name", "url", "headers"}`` (streamable HTTP) and
``{"name", "command", "args", "env"}`` (stdio). Header and environment values may name other settings as
``${NAME}`` (a token kept in secrets), which are filled in here so no secret sits in the list itself.

Header values may also carry the signed-in user's identity, ``${user.email}`` and ``${user.id}``, so a team's
server can authorise each person: such a server gets a session per user, with that user's verified email and
id filled in when it opens (``headers_for``). Without them, every user acts as the configured token.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from voicechat.settings_reader import SettingsError

KEY = "VOICECHAT_MCP_SERVERS"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$")
_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_.]*)\}")
USER_FIELDS = ("user.email", "user.id")  # what a header may take from the signed-in user
_USER_REFERENCE = re.compile(r"\$\{(user\.email|user\.id)\}")
_NOT_HEADER_SAFE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")  # CR, LF and other controls split or forge headers


class UnsafeHeader(ValueError):
    """A header value that would split or forge headers (CR, LF or another control character)."""


@dataclass(frozen=True)
class McpServerConfig:
    """One MCP server: reached over streamable HTTP (``url``) or started as a subprocess (``command``)."""

    name: str
    url: str | None = None
    headers: tuple[tuple[str, str], ...] = ()
    command: str | None = None
    args: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()

    def __repr__(self) -> str:  # headers and env may hold tokens: never in a log line
        return f"McpServerConfig(name={self.name!r}, {'url' if self.url else 'command'})"

    @property
    def per_user(self) -> bool:
        """Whether its headers carry the user's identity, so each user needs a session of their own."""
        return any(_USER_REFERENCE.search(value) for _, value in self.headers)

    def headers_for(self, *, email: str, user_id: str) -> tuple[tuple[str, str], ...]:
        """The headers with ``${user.email}`` and ``${user.id}`` filled in (pass the signed-in user's
        verified email and id). Raises UnsafeHeader when a value would not be a single header line."""
        values = {"user.email": email, "user.id": user_id}
        filled = tuple(
            (name, _USER_REFERENCE.sub(lambda m: values[m.group(1)], value)) for name, value in self.headers
        )
        if any(_NOT_HEADER_SAFE.search(value) for _, value in filled):
            raise UnsafeHeader(f"a header of MCP server {self.name!r} is not header-safe")
        return filled


def read_mcp_servers(values: Mapping[str, Any]) -> tuple[McpServerConfig, ...]:
    """The configured servers (none when unset). Raises SettingsError naming what is wrong."""
    raw = values.get(KEY)
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return ()
    try:
        entries = json.loads(raw) if isinstance(raw, str) else json.loads(json.dumps(raw, default=dict))
    except (ValueError, TypeError):
        raise SettingsError(
            f'{KEY} must be a JSON list, e.g. [{{"name": "tickets", "url": "https://…/mcp"}}]'
        ) from None
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise SettingsError(f"{KEY} must be a list of objects")
    servers = tuple(_server(entry, values) for entry in entries)
    names = [s.name for s in servers]
    if len(set(names)) != len(names):
        raise SettingsError(f"{KEY}: every server needs its own name")
    return servers


def _server(entry: dict[str, Any], values: Mapping[str, Any]) -> McpServerConfig:
    name = entry.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise SettingsError(f'{KEY}: each server needs a "name" of letters, digits, _ or - (at most 32)')
    url, command = entry.get("url"), entry.get("command")
    if (url is None) == (command is None):
        raise SettingsError(f'{KEY}: server {name!r} needs either "url" or "command"')
    if url is not None and (not isinstance(url, str) or not url.startswith(("http://", "https://"))):
        raise SettingsError(f"{KEY}: server {name!r} needs an http(s) url")
    args = entry.get("args") or []
    if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
        raise SettingsError(f'{KEY}: server {name!r} "args" must be a list of strings')
    return McpServerConfig(
        name=name,
        url=url,
        headers=_headers(entry.get("headers"), values, name),
        command=command if isinstance(command, str) else None,
        args=tuple(args),
        env=_pairs(entry.get("env"), values, f"server {name!r} env"),
    )


def _headers(raw: Any, values: Mapping[str, Any], name: str) -> tuple[tuple[str, str], ...]:
    headers = _pairs(raw, values, f"server {name!r} headers", user_fields=True)
    for header, value in headers:
        if _NOT_HEADER_SAFE.search(header) or _NOT_HEADER_SAFE.search(value):
            # Never the value itself: it may be a token (a secret pasted with its line break).
            raise SettingsError(f"{KEY}: server {name!r} header {header.strip()!r} holds a line break")
    return headers


def _pairs(
    raw: Any, values: Mapping[str, Any], where: str, *, user_fields: bool = False
) -> tuple[tuple[str, str], ...]:
    if raw is None:
        return ()
    if not isinstance(raw, dict) or not all(isinstance(v, str) for v in raw.values()):
        raise SettingsError(f"{KEY}: {where} must map names to strings")

    def filled(match: re.Match[str]) -> str:
        name = match.group(1)
        if name.startswith("user."):
            if user_fields and name in USER_FIELDS:
                return match.group(0)  # filled per user when the user's session opens
            allowed = ", ".join("${" + f + "}" for f in USER_FIELDS)
            raise SettingsError(f"{KEY}: {where} may name the user only as {allowed}, in headers")
        value = values.get(name)
        if value is None:
            raise SettingsError(f"{KEY}: {where} refer to {name}, which is not set")
        return str(value)

    return tuple((str(k), _REFERENCE.sub(filled, v)) for k, v in raw.items())
