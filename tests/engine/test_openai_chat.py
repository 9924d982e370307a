"""The OpenAI chat provider against the fake server, through the real SDK."""

from __future__ import annotations

import pytest

from tests.fakes.openai_server import ChatScript, FakeOpenAI
from voicechat.config import Settings
from voicechat.errors import ProviderAuthError, ProviderRateLimited, ProviderRequestError, ProviderUnavailable
from voicechat.providers.base import ChatMessage, ChatRequest
from voicechat.providers.openai.client import make_client
from voicechat.providers.openai.llm import OpenAIChat

REQUEST = ChatRequest(
    messages=(ChatMessage("system", "Be brief."), ChatMessage("user", "Say hi")), model="gpt-6-luna"
)


def chat(settings: Settings, **overrides: object) -> OpenAIChat:
    tuned = Settings.from_mapping(
        {
            "OPENAI_API_KEY": settings.openai_api_key,
            "OPENAI_BASE_URL": settings.openai_base_url,
            **{k: str(v) for k, v in overrides.items()},
        }
    )
    return OpenAIChat(client=make_client(tuned))


def test_streams_deltas_and_reports_usage(settings: Settings, fake_openai: FakeOpenAI) -> None:
    fake_openai.script_chat(ChatScript(reply="Hello there, friend."))
    with chat(settings).stream_chat(REQUEST) as stream:
        deltas = list(stream)
    assert deltas == ["Hello", " there,", " friend."]
    assert stream.usage is not None and stream.usage.output_tokens == 3 and stream.usage.input_tokens == 4
    assert stream.first_token_ms is not None and stream.total_ms is not None
    sent = fake_openai.chat_requests()[0].body
    assert sent["stream"] is True and sent["stream_options"] == {"include_usage": True}
    assert "temperature" not in sent  # left to the model unless configured
    assert sent["messages"][0] == {"role": "system", "content": "Be brief."}
    assert fake_openai.chat_requests()[0].headers["authorization"] == "Bearer sk-test"


def test_configured_temperature_is_sent(settings: Settings, fake_openai: FakeOpenAI) -> None:
    with chat(settings, VOICECHAT_TEMPERATURE=0.3).stream_chat(
        ChatRequest(messages=REQUEST.messages, model="gpt-6-luna", temperature=0.3)
    ) as stream:
        list(stream)
    assert fake_openai.chat_requests()[0].body["temperature"] == 0.3


def test_429_is_retried_by_the_sdk_and_then_succeeds(settings: Settings, fake_openai: FakeOpenAI) -> None:
    fake_openai.script_chat(ChatScript(status=429, retry_after=0.1), ChatScript(reply="ok now"))
    with chat(settings).stream_chat(REQUEST) as stream:
        assert "".join(stream) == "ok now"
    assert len(fake_openai.chat_requests()) == 2


def test_persistent_429_becomes_rate_limited_with_retry_after(
    settings: Settings, fake_openai: FakeOpenAI
) -> None:
    fake_openai.script_chat(*[ChatScript(status=429, retry_after=0.05)] * 3)
    with pytest.raises(ProviderRateLimited) as caught:
        chat(settings).stream_chat(REQUEST)
    assert caught.value.retry_after == 0.05 and caught.value.retryable
    assert "try again" in caught.value.user_message
    assert len(fake_openai.chat_requests()) == 3  # first try + OPENAI_MAX_RETRIES (2)


def test_500_is_retried_then_reported_unavailable(settings: Settings, fake_openai: FakeOpenAI) -> None:
    fake_openai.script_chat(*[ChatScript(status=500)] * 2)
    with pytest.raises(ProviderUnavailable):
        chat(settings, OPENAI_MAX_RETRIES=1).stream_chat(REQUEST)
    assert len(fake_openai.chat_requests()) == 2


@pytest.mark.parametrize(
    ("status", "error"), [(401, ProviderAuthError), (404, ProviderRequestError), (400, ProviderRequestError)]
)
def test_client_errors_are_not_retried(
    settings: Settings, fake_openai: FakeOpenAI, status: int, error: type[Exception]
) -> None:
    fake_openai.script_chat(ChatScript(status=status))
    with pytest.raises(error) as caught:
        chat(settings).stream_chat(REQUEST)
    assert not caught.value.retryable  # type: ignore[attr-defined]
    assert len(fake_openai.chat_requests()) == 1


def test_stream_cut_midway_keeps_what_arrived(settings: Settings, fake_openai: FakeOpenAI) -> None:
    fake_openai.script_chat(ChatScript(reply="one two three four five", cut_after_tokens=2))
    received: list[str] = []
    with pytest.raises(ProviderUnavailable), chat(settings).stream_chat(REQUEST) as stream:
        received.extend(stream)
    assert received == ["one", " two"]


def test_slow_first_token_is_measured(settings: Settings, fake_openai: FakeOpenAI) -> None:
    fake_openai.script_chat(ChatScript(reply="late", first_token_delay=0.3))
    with chat(settings).stream_chat(REQUEST) as stream:
        list(stream)
    assert stream.first_token_ms is not None and stream.first_token_ms >= 300


def test_connection_refused_is_unavailable(settings: Settings) -> None:
    dead = Settings.from_mapping(
        {"OPENAI_API_KEY": "sk", "OPENAI_BASE_URL": "http://127.0.0.1:9/v1", "OPENAI_MAX_RETRIES": "0"}
    )
    with pytest.raises(ProviderUnavailable):
        OpenAIChat(client=make_client(dead)).stream_chat(REQUEST)


def test_no_key_for_openai_itself_is_an_auth_error() -> None:
    with pytest.raises(ProviderAuthError):
        make_client(Settings.from_mapping({}))
