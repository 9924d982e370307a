"""Every billed token counted: replies cut short are priced from a real tokeniser's count (and marked
estimated), a runaway reply is capped, and a reply too long to store is kept truncated with its usage."""

from __future__ import annotations

import pytest

from tests.fakes.openai_server import ChatScript, FakeOpenAI
from voicechat.config import Settings
from voicechat.dashboard import build_report
from voicechat.errors import ProviderUnavailable
from voicechat.models import User
from voicechat.providers.openai.client import make_client
from voicechat.providers.openai.llm import OpenAIChat
from voicechat.storage.conversations import MAX_STORED_CONTENT_CHARS
from voicechat.storage.store import Store
from voicechat.turns.text import ChatService, TurnOptions
from voicechat.turns.writer import TRUNCATED

OPTIONS = TurnOptions(model="gpt-6-luna", system_prompt="You are terse.")
# Plain English words, one token each in o200k_base (with their leading space), as the fake streams them.
WORDS = [
    "the",
    "cat",
    "sat",
    "on",
    "the",
    "mat",
    "and",
    "then",
    "the",
    "dog",
    "ran",
    "to",
    "the",
    "park",
    "with",
    "a",
    "red",
    "ball",
]


def reply_of(count: int) -> str:
    return " ".join(WORDS[i % len(WORDS)] for i in range(count))


@pytest.fixture
def user(store: Store) -> User:
    return store.users.get_or_create(email="billing@example.com", name="B", admin=True)


def service_for(store: Store, settings: Settings) -> tuple[ChatService, OpenAIChat]:
    return ChatService(store=store, settings=settings), OpenAIChat(client=make_client(settings))


def test_a_stream_cut_after_n_tokens_is_billed_for_about_n(
    store: Store, settings: Settings, user: User, fake_openai: FakeOpenAI
) -> None:
    fake_openai.script_chat(ChatScript(reply=reply_of(400), cut_after_tokens=120))
    service, llm = service_for(store, settings)
    turn = service.begin_text_turn(
        user=user, conversation_id=None, text="Tell me a story", options=OPTIONS, llm=llm
    )
    with pytest.raises(ProviderUnavailable):
        list(turn.stream_reply())
    [event] = store.usage.events_for(user_id=user.id)
    assert event.estimated and event.status == "error"
    assert abs(event.output_tokens - 120) <= 12  # within 10% of what the provider generated
    assert event.input_tokens > 0 and event.cost_usd > 0


def test_a_reply_abandoned_mid_stream_is_billed_for_what_was_generated(
    store: Store, settings: Settings, user: User, fake_openai: FakeOpenAI
) -> None:
    fake_openai.script_chat(ChatScript(reply=reply_of(300)))
    service, llm = service_for(store, settings)
    turn = service.begin_text_turn(user=user, conversation_id=None, text="Go on", options=OPTIONS, llm=llm)
    stream = turn.stream_reply()
    received = [next(stream) for _ in range(80)]
    stream.close()  # barge-in, or the page rerunning: the usage chunk never arrives
    [event] = store.usage.events_for(user_id=user.id)
    assert event.estimated and event.status == "interrupted"
    assert abs(event.output_tokens - len(received)) <= 8
    report = build_report(store, acting=user, start=event.created_at.date(), end=event.created_at.date())
    assert report.headline.estimated_cost_usd == pytest.approx(event.cost_usd, abs=1e-6)
    assert report.headline.estimated_share == pytest.approx(1.0, abs=0.02)


def test_a_complete_reply_uses_the_providers_own_usage(
    store: Store, settings: Settings, user: User, fake_openai: FakeOpenAI
) -> None:
    fake_openai.script_chat(ChatScript(reply=reply_of(30)))
    service, llm = service_for(store, settings)
    turn = service.begin_text_turn(
        user=user, conversation_id=None, text="Short one", options=OPTIONS, llm=llm
    )
    list(turn.stream_reply())
    [event] = store.usage.events_for(user_id=user.id)
    assert not event.estimated and event.output_tokens == 30


def test_a_runaway_reply_is_capped(
    store: Store, settings: Settings, user: User, fake_openai: FakeOpenAI
) -> None:
    capped = Settings.from_mapping(
        {
            "OPENAI_API_KEY": "sk-test",
            "OPENAI_BASE_URL": fake_openai.base_url,
            "VOICECHAT_DATA_DIR": str(settings.data_dir),
            "VOICECHAT_MAX_OUTPUT_TOKENS": "50",
        }
    )
    fake_openai.script_chat(ChatScript(reply=reply_of(5_000)))
    service, llm = service_for(store, capped)
    turn = service.begin_text_turn(
        user=user, conversation_id=None, text="Never stop", options=OPTIONS, llm=llm
    )
    text = "".join(turn.stream_reply())
    assert fake_openai.chat_requests()[0].body["max_completion_tokens"] == 50
    assert len(text.split()) == 50
    [event] = store.usage.events_for(user_id=user.id)
    assert event.output_tokens == 50 and not event.estimated


def test_a_reply_too_long_to_store_is_kept_truncated_with_its_usage(
    store: Store, settings: Settings, user: User, fake_openai: FakeOpenAI
) -> None:
    words = MAX_STORED_CONTENT_CHARS // 4 + 2_000  # "the " and friends: well over the stored limit
    fake_openai.script_chat(ChatScript(reply=reply_of(words)))
    service, llm = service_for(
        store,
        settings.__class__.from_mapping(
            {
                "OPENAI_API_KEY": "sk-test",
                "OPENAI_BASE_URL": fake_openai.base_url,
                "VOICECHAT_DATA_DIR": str(settings.data_dir),
                "VOICECHAT_MAX_OUTPUT_TOKENS": "128000",
            }
        ),
    )
    turn = service.begin_text_turn(
        user=user, conversation_id=None, text="Everything", options=OPTIONS, llm=llm
    )
    generated = "".join(turn.stream_reply())
    assert len(generated) > MAX_STORED_CONTENT_CHARS
    assert turn.reply is not None
    assert turn.reply.error == TRUNCATED and len(turn.reply.content) <= MAX_STORED_CONTENT_CHARS
    assert generated.startswith(turn.reply.content[:-1])
    [event] = store.usage.events_for(user_id=user.id)
    assert event.output_tokens == words and event.status == "ok"
