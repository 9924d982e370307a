"""OpenAI-compatible servers already running on this machine (Ollama, LM Studio, llama.cpp server, vLLM).

Each known address is asked for its models (``GET /v1/models``, a short timeout); those that answer can be
chosen for a session without any key, and nothing leaves the machine.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import httpx

PROBE_TIMEOUT_SECONDS = 0.5


@dataclass(frozen=True)
class LocalServer:
    """A server that answered, with the models it serves."""

    name: str
    base_url: str
    models: tuple[str, ...]


def find_local_servers(candidates: tuple[tuple[str, str], ...]) -> list[LocalServer]:
    """The candidates (name, base URL) that answer with at least one model, in the order given."""
    with ThreadPoolExecutor(max_workers=max(1, len(candidates))) as pool:
        found = list(pool.map(lambda c: _probe(*c), candidates))
    return [server for server in found if server is not None]


def _probe(name: str, base_url: str) -> LocalServer | None:
    try:
        response = httpx.get(f"{base_url.rstrip('/')}/models", timeout=PROBE_TIMEOUT_SECONDS)
        response.raise_for_status()
        models = tuple(str(m["id"]) for m in response.json().get("data", []) if m.get("id"))
    except (httpx.HTTPError, ValueError, KeyError, TypeError, AttributeError):
        return None
    return LocalServer(name=name, base_url=base_url.rstrip("/"), models=models) if models else None
