"""Rate limits on the pages: a refused message says when to try again, keeps the text to copy, stores and
sends nothing, and shows up for admins on the usage dashboard."""

from __future__ import annotations

from tests.app.conftest import online_app
from tests.fakes.openai_server import ChatScript, FakeOpenAI
from voicechat.storage.store import Store


def test_a_refused_message_says_when_and_is_counted_on_the_dashboard(
    mongo_uri: str, store: Store, fake_openai: FakeOpenAI
) -> None:
    at = online_app(mongo_uri, fake_openai, VOICECHAT_TEXT_RATE_LIMIT="1/minute")
    fake_openai.script_chat(ChatScript(reply="First answer."))
    at.run()
    at.chat_input[0].set_value("First question").run()
    at.chat_input[0].set_value("Second question").run()
    assert not at.exception
    [error] = at.error
    assert "limit of 1 messages per minute" in error.value and "try again in" in error.value
    assert at.expander[0].label.startswith("Your text (not sent)")
    assert "Second question" in [t.value for t in at.text]
    user = store.users.get_or_create(email="local@localhost", name="Local user", admin=True)
    conversation_id = at.query_params["c"]
    stored = store.conversations.messages_page(owner_id=user.id, conversation_id=conversation_id).items
    assert [m.content for m in stored] == ["First question", "First answer."]
    assert len(fake_openai.chat_requests()) == 1
    at.switch_page("app_pages/admin_usage.py").run()
    assert not at.exception
    table = at.dataframe[-1].value
    assert list(table["reason"]) == ["text"] and list(table["refused"]) == [1]
