"""Building the OpenAI SDK client from settings, and translating its errors into ours."""

from __future__ import annotations

import functools
import logging
import ssl
import threading
from collections import OrderedDict
from typing import cast

import httpx2
import openai

# The Realtime API's modules load lazily, on a call's first connect: on the audio loop, where those 370 ms
# of imports stalled every call's audio. They load with this module instead.
import openai.resources.realtime.realtime
import openai.types.realtime
from openai.types.websocket_connection_options import WebSocketConnectionOptions

from voicechat.config import Settings
from voicechat.errors import (
    ProviderAuthError,
    ProviderError,
    ProviderRateLimited,
    ProviderRequestError,
    ProviderUnavailable,
)

log = logging.getLogger(__name__)
# Local OpenAI-compatible servers (Ollama, llama.cpp, vLLM) accept any key; the SDK insists on one.
PLACEHOLDER_KEY = "not-needed"
# Clients are shared per endpoint and key: their connections are reused (no TLS handshake per turn) and closed
# when a client leaves this small cache, never left for the garbage collector.
SHARED_CLIENTS = 8
_clients: OrderedDict[tuple[str, str, float, int], openai.OpenAI] = OrderedDict()
_async_clients: OrderedDict[tuple[str, str, float, int], openai.AsyncOpenAI] = OrderedDict()
_clients_lock = threading.Lock()


def make_client(settings: Settings, *, api_key: str | None = None) -> openai.OpenAI:
    """An SDK client for the configured endpoint; ``api_key`` (a key typed in the UI) wins over settings.

    The SDK retries 408/409/429/5xx and connection errors with exponential backoff (``openai_max_retries``).
    """
    key = api_key or settings.openai_api_key
    if not key:
        if settings.uses_default_openai_endpoint:
            raise ProviderAuthError("No OpenAI API key is configured.")
        key = PLACEHOLDER_KEY
    wanted = (key, settings.openai_base_url, settings.openai_timeout, settings.openai_max_retries)
    with _clients_lock:
        client = _clients.get(wanted)
        if client is None:
            client = openai.OpenAI(
                api_key=key,
                base_url=settings.openai_base_url,
                timeout=settings.openai_timeout,
                max_retries=settings.openai_max_retries,
            )
            _clients[wanted] = client
            while len(_clients) > SHARED_CLIENTS:
                _clients.popitem(last=False)[1].close()
        _clients.move_to_end(wanted)
        return client


def make_async_client(settings: Settings, *, api_key: str | None = None) -> openai.AsyncOpenAI:
    """The asyncio SDK client (for the Realtime WebSockets on the audio loop); same key rules as above.

    Only its WebSockets are used (each closed by its engine), never its HTTP client, so one client per
    endpoint and key serves every call. Building one loads the CA bundle into a new TLS context, about 50 ms
    on the audio loop during which every other call's audio waited: a call's start cost the others a stall.
    """
    key = api_key or settings.openai_api_key
    if not key and settings.uses_default_openai_endpoint:
        raise ProviderAuthError("No OpenAI API key is configured.")
    wanted = (
        key or PLACEHOLDER_KEY,
        settings.openai_base_url,
        settings.openai_timeout,
        settings.openai_max_retries,
    )
    with _clients_lock:
        client = _async_clients.get(wanted)
        if client is None:
            client = openai.AsyncOpenAI(
                api_key=wanted[0],
                base_url=settings.openai_base_url,
                timeout=settings.openai_timeout,
                max_retries=settings.openai_max_retries,
            )
            _async_clients[wanted] = client
            while len(_async_clients) > SHARED_CLIENTS:
                _async_clients.popitem(last=False)  # it holds no connection: nothing to close
        _async_clients.move_to_end(wanted)
        return client


def socket_options(client: openai.AsyncOpenAI) -> WebSocketConnectionOptions:
    """``websocket_connection_options`` for ``client.realtime.connect``: a secure socket uses the process's
    one TLS context, where the WebSocket library would load the CA bundle into a new one per connection
    (about 50 ms on the audio loop, stalling every other call)."""
    url = str(client.websocket_base_url or client.base_url)
    # Passed through to ``websockets.connect`` (the SDK's type does not list ``ssl``).
    return cast(
        WebSocketConnectionOptions, {"ssl": _tls_context()} if url.startswith(("https:", "wss:")) else {}
    )


@functools.cache
def _tls_context() -> ssl.SSLContext:
    return ssl.create_default_context()


def provider_name(settings: Settings) -> str:
    """``openai`` for api.openai.com, ``openai-compatible`` for any other base URL (as usage records say)."""
    return "openai" if settings.uses_default_openai_endpoint else "openai-compatible"


def translate_openai_error(exc: Exception) -> ProviderError | None:
    """Map SDK and transport errors to the error tree; logs the class and status, never the content."""
    translated: ProviderError | None
    if isinstance(exc, openai.RateLimitError):
        translated = ProviderRateLimited(retry_after=_retry_after(exc.response))
    elif isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError):
        translated = ProviderAuthError()
    elif isinstance(exc, openai.NotFoundError | openai.BadRequestError | openai.UnprocessableEntityError):
        translated = ProviderRequestError()
    elif isinstance(exc, openai.APITimeoutError):
        translated = ProviderUnavailable("The assistant took too long. Your message was saved - try again.")
    elif isinstance(exc, openai.APIError | httpx2.TransportError):
        # 5xx after the SDK's retries, connection refused, or a stream cut mid-way.
        translated = ProviderUnavailable()
    else:
        return None
    status = getattr(exc, "status_code", None)
    log.warning("provider error %s (status %s) -> %s", type(exc).__name__, status, type(translated).__name__)
    return translated


def _retry_after(response: httpx2.Response) -> float | None:
    value = response.headers.get("retry-after")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def reported_shutdown_dates(client: openai.OpenAI) -> dict[str, str]:
    """Shutdown dates the provider's model list announces (``shutdown_date``, YYYY-MM-DD), by model id."""
    dates = {}
    for model in client.models.list():
        when = (model.model_extra or {}).get("shutdown_date") or getattr(model, "shutdown_date", None)
        if isinstance(when, str) and when:
            dates[model.id] = when
    return dates
