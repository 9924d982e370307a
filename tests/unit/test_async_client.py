"""The asyncio SDK client the Realtime sockets use: shared per endpoint and key, one TLS context."""

from __future__ import annotations

import ssl

from voicechat.config import Settings
from voicechat.providers.openai.client import make_async_client, socket_options


def test_calls_share_one_client_per_endpoint_and_key_and_one_tls_context() -> None:
    cloud = Settings.from_mapping({"OPENAI_API_KEY": "sk-a"})
    local = Settings.from_mapping({"OPENAI_API_KEY": "sk-a", "OPENAI_BASE_URL": "http://127.0.0.1:9/v1"})
    assert make_async_client(cloud) is make_async_client(cloud)
    assert make_async_client(cloud, api_key="sk-b") is not make_async_client(cloud)
    assert make_async_client(local) is not make_async_client(cloud)
    secure = socket_options(make_async_client(cloud))
    assert isinstance(secure.get("ssl"), ssl.SSLContext)
    assert socket_options(make_async_client(cloud, api_key="sk-b")).get("ssl") is secure.get("ssl")
    assert socket_options(make_async_client(local)) == {}  # ws:// refuses an ssl argument
