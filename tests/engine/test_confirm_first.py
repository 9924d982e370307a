"""A confirm-first tool acts only on the user's real yes: held calls end the model's turn, run exactly once
with exactly the held arguments, and never on a negation, a hedge, a new question, a stale or foreign
answer, regenerate or an expired hold. Typed turns against the fake model and a real MCP server."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from tests.engine.test_tool_turns import OPTIONS, ask
from tests.fakes.mcp_server import McpBoard
from tests.fakes.openai_server import ChatScript, FakeOpenAI
from voicechat import defaults
from voicechat.config import Settings
from voicechat.models import User
from voicechat.providers.base import ToolCall
from voicechat.providers.openai.client import make_client
from voicechat.providers.openai.llm import OpenAIChat
from voicechat.storage.database import parse_id
from voicechat.storage.store import Store
from voicechat.turns.held_answer import ASK_AGAIN, heard_in_call
from voicechat.turns.text import ChatService, TextTurn

OPEN = "board__open_ticket"


@pytest.fixture
def user(store: Store) -> User:
    return store.users.get_or_create(email="c@example.com", name="C")


@pytest.fixture
def llm(settings: Settings) -> OpenAIChat:
    return OpenAIChat(client=make_client(settings))


@pytest.fixture
def service(store: Store, settings: Settings, mcp_board: McpBoard) -> ChatService:
    board = Settings.from_mapping(mcp_board.settings()).mcp_servers
    return ChatService(store=store, settings=replace(settings, mcp_servers=board))


def held_turn(
    service: ChatService, user: User, llm: OpenAIChat, fake_openai: FakeOpenAI, title: str = "Boss"
) -> TextTurn:
    """A turn whose model calls the confirm-first tool (and would go on calling it, given the chance)."""
    fake_openai.keep_calling_tools = True
    fake_openai.script_chat(ChatScript(tool_calls=((OPEN, {"title": title}),)))
    turn = ask(service, user, llm, "Okay, can you summarise the ticket thread?")
    fake_openai.keep_calling_tools = False
    return turn


def test_a_hold_ends_the_models_turn_and_nothing_runs(
    service: ChatService, user: User, llm: OpenAIChat, fake_openai: FakeOpenAI, mcp_board: McpBoard
) -> None:
    opened = len(mcp_board.opened)
    turn = held_turn(service, user, llm, fake_openai)

    assert turn.reply is not None
    assert [(s.name, s.status) for s in turn.reply.tool_steps] == [(OPEN, "awaiting_confirmation")]
    first, last = fake_openai.chat_requests()  # one round with tools, then one without words the question
    assert "tools" in first.body and "tools" not in last.body
    assert len(mcp_board.opened) == opened


def test_a_yes_runs_the_held_call_once_with_the_held_arguments(
    service: ChatService,
    store: Store,
    user: User,
    llm: OpenAIChat,
    fake_openai: FakeOpenAI,
    mcp_board: McpBoard,
) -> None:
    opened = len(mcp_board.opened)
    held = held_turn(service, user, llm, fake_openai, title="boss@corp.example")
    fake_openai.reset_chat()
    # The model, asked after the yes, tries the tool again with other arguments: that is only a new hold.
    fake_openai.script_chat(ChatScript(tool_calls=((OPEN, {"title": "attacker@evil.example"}),)))
    done = ask(service, user, llm, "Yes, go ahead.", held.conversation.id)

    assert mcp_board.opened[opened:] == ["boss@corp.example"]
    assert done.reply is not None and done.reply.tool_steps[0].status == "ok"
    assert done.reply.tool_steps[0].arguments == '{"title": "boss@corp.example"}'
    # The result went to the model as the next step of the conversation, as a call and its result.
    request = fake_openai.chat_requests()[0].body["messages"]
    assert request[-2]["tool_calls"][0]["function"]["name"] == OPEN and request[-1]["role"] == "tool"
    # A second yes runs nothing more.
    ask(service, user, llm, "Yes, go ahead.", held.conversation.id)
    assert mcp_board.opened[opened:] == ["boss@corp.example"]


def test_the_yes_button_runs_it_once_and_only_for_the_call_shown(
    service: ChatService, user: User, llm: OpenAIChat, fake_openai: FakeOpenAI, mcp_board: McpBoard
) -> None:
    opened = len(mcp_board.opened)
    held = held_turn(service, user, llm, fake_openai, title="Shown")
    assert held.reply is not None
    shown = held.reply.tool_steps[-1]
    other = replace(shown, arguments='{"title": "Not shown"}')

    def press(step: object) -> TextTurn:
        turn = service.begin_text_turn(
            user=user,
            conversation_id=held.conversation.id,
            text="Yes, go ahead.",
            options=OPTIONS,
            llm=llm,
            pressed="yes",
            seen=step,  # type: ignore[arg-type]
        )
        "".join(turn.stream_reply())
        return turn

    press(other)  # a button under another call than the one waiting: nothing runs
    assert mcp_board.opened[opened:] == []
    held = held_turn(service, user, llm, fake_openai, title="Shown")
    assert held.reply is not None
    press(held.reply.tool_steps[-1])
    press(held.reply.tool_steps[-1])  # pressed twice (two tabs): once
    assert mcp_board.opened[opened:] == ["Shown"]


@pytest.mark.parametrize(
    "answer",
    ["Of course not!", "Okay no", "Sure, but do NOT send anything yet", "What's the weather like?", "No"],
)
def test_a_no_a_hedge_or_a_new_question_runs_nothing(
    answer: str,
    service: ChatService,
    user: User,
    llm: OpenAIChat,
    fake_openai: FakeOpenAI,
    mcp_board: McpBoard,
) -> None:
    opened = len(mcp_board.opened)
    held = held_turn(service, user, llm, fake_openai)
    fake_openai.reset_chat()
    ask(service, user, llm, answer, held.conversation.id)
    ask(service, user, llm, "Correct me if I'm wrong, but that's it?", held.conversation.id)
    ask(service, user, llm, "yes", held.conversation.id)  # whatever is left waiting never runs now
    assert mcp_board.opened[opened:] == []


def test_a_no_is_stored_as_declined_and_an_unclear_answer_is_asked_once_more(
    service: ChatService, store: Store, user: User, llm: OpenAIChat, fake_openai: FakeOpenAI
) -> None:
    held = held_turn(service, user, llm, fake_openai)
    fake_openai.reset_chat()
    no = ask(service, user, llm, "Of course not!", held.conversation.id)
    assert no.reply is not None and [s.status for s in no.reply.tool_steps] == ["declined"]

    held = held_turn(service, user, llm, fake_openai)
    fake_openai.reset_chat()
    unclear = ask(service, user, llm, "Sure, but maybe later", held.conversation.id)
    assert unclear.reply is not None and unclear.reply.content == ASK_AGAIN
    assert unclear.reply.tool_steps[-1].status == "awaiting_confirmation"  # the buttons show again
    assert fake_openai.chat_requests() == []  # asked by the app, not the model
    again = ask(service, user, llm, "Sure, but maybe later", held.conversation.id)
    assert again.reply is not None and [s.status for s in again.reply.tool_steps][:1] == ["declined"]
    assert store.held_calls.waiting(owner_id=user.id, conversation_id=held.conversation.id) is None


def test_regenerate_and_expiry_never_run_it(
    service: ChatService,
    store: Store,
    user: User,
    llm: OpenAIChat,
    fake_openai: FakeOpenAI,
    mcp_board: McpBoard,
) -> None:
    opened = len(mcp_board.opened)
    held = held_turn(service, user, llm, fake_openai)
    "".join(
        service.regenerate(
            user=user, conversation_id=held.conversation.id, options=OPTIONS, llm=llm
        ).stream_reply()
    )
    ask(service, user, llm, "Yes, go ahead.", held.conversation.id)
    assert mcp_board.opened[opened:] == []

    held = held_turn(service, user, llm, fake_openai)
    old = datetime.now(UTC) - timedelta(seconds=defaults.TOOL_CONFIRM_SECONDS + 1)
    oid = parse_id(held.conversation.id)
    store.db.run(lambda db: db.held_tool_calls.update_one({"_id": oid}, {"$set": {"held_at": old}}))
    ask(service, user, llm, "Yes, go ahead.", held.conversation.id)
    assert mcp_board.opened[opened:] == []

    # A reply that ran a confirmed call, regenerated, does not run it again.
    held = held_turn(service, user, llm, fake_openai)
    ask(service, user, llm, "Yes, go ahead.", held.conversation.id)
    assert len(mcp_board.opened) == opened + 1
    "".join(
        service.regenerate(
            user=user, conversation_id=held.conversation.id, options=OPTIONS, llm=llm
        ).stream_reply()
    )
    assert len(mcp_board.opened) == opened + 1


def test_another_users_yes_cannot_run_a_held_call(
    service: ChatService,
    store: Store,
    user: User,
    llm: OpenAIChat,
    fake_openai: FakeOpenAI,
    mcp_board: McpBoard,
) -> None:
    opened = len(mcp_board.opened)
    held = held_turn(service, user, llm, fake_openai)
    mallory = store.users.get_or_create(email="m@example.com", name="M")
    assert store.held_calls.waiting(owner_id=mallory.id, conversation_id=held.conversation.id) is None
    waiting = store.held_calls.waiting(owner_id=user.id, conversation_id=held.conversation.id)
    assert waiting is not None and store.held_calls.take(replace(waiting, owner_id=mallory.id)) is None
    assert mcp_board.opened[opened:] == []


def test_a_speech_to_speech_models_repeated_call_runs_only_on_the_next_utterances_clear_yes(
    service: ChatService,
    store: Store,
    user: User,
    llm: OpenAIChat,
    fake_openai: FakeOpenAI,
    mcp_board: McpBoard,
) -> None:
    opened = len(mcp_board.opened)
    conversation = store.conversations.create(owner_id=user.id, title="call", model="gpt-6-luna")

    def heard(said: str, utterance: str) -> None:  # as the engines report each transcript
        heard_in_call(
            store, owner_id=user.id, conversation_id=conversation.id, said=said, utterance=utterance
        )

    def call(said: str, utterance: str, title: str) -> str:
        box = service.toolbox(
            user=user, conversation_id=conversation.id, options=OPTIONS, said=said, turn_id=utterance
        )
        assert box is not None
        return box.run(ToolCall(id="c", name=OPEN, arguments=f'{{"title": "{title}"}}')).step.status

    assert call("Open a ticket for the outage", "u1", "Outage") == "awaiting_confirmation"
    assert call("Yes, go ahead.", "u1", "Outage") == "awaiting_confirmation"  # the same utterance: stale
    heard("Yes, go ahead.", "u2")
    assert call("Yes, go ahead.", "u2", "Other") == "awaiting_confirmation"  # other arguments: held anew
    heard("Of course not", "u3")  # drops it
    assert call("Of course not", "u3", "Other") == "awaiting_confirmation"
    heard("Sure, what's the weather?", "u4")  # a new question drops it
    assert call("Yes, go ahead.", "u4", "Other") == "awaiting_confirmation"
    heard("Yes.", "u5")
    heard("Yes, go ahead.", "u6")  # a later yes: the hold was answered by u5, whose reply did not run it
    assert call("Yes, go ahead.", "u6", "Other") == "awaiting_confirmation"
    assert mcp_board.opened[opened:] == []
    heard("Yes, go ahead.", "u7")
    assert call("Yes, go ahead.", "u7", "Other") == "ok"
    assert call("Yes, go ahead.", "u7", "Other") == "awaiting_confirmation"  # once: asked anew
    assert mcp_board.opened[opened:] == ["Other"]


def test_regenerate_holds_any_call_that_changes_something(
    service: ChatService, store: Store, user: User, llm: OpenAIChat, fake_openai: FakeOpenAI
) -> None:
    # remember runs at once in a turn (it is not confirm-first), but answering again must not repeat it.
    fact = {"fact": "I take my coffee black"}
    fake_openai.script_chat(ChatScript(tool_calls=(("remember", fact),)))
    turn = ask(service, user, llm, "Remember that I take my coffee black")
    store.users.forget(user.id, "coffee")
    fake_openai.script_chat(ChatScript(tool_calls=(("remember", fact),)))
    again = service.regenerate(user=user, conversation_id=turn.conversation.id, options=OPTIONS, llm=llm)
    "".join(again.stream_reply())
    assert store.users.memory(user.id) == []
    assert again.reply is not None and [s.status for s in again.reply.tool_steps] == ["awaiting_confirmation"]
