"""Tools in a hands-free call (cascaded engine): the spoken question triggers a call, the spoken reply uses
its result, the step is stored with the reply; a slow tool gets a spoken filler; a confirm-first tool runs
after a spoken yes. Real VAD and turn-taking, fake providers over HTTP, a real MCP server."""

from __future__ import annotations

from dataclasses import replace

import pytest

from tests.engine.conftest import TalkSessions
from tests.engine.live_helpers import feed, pcm16k, stored, wait_for, wait_until
from tests.fakes.audio_samples import silence_pcm
from tests.fakes.mcp_server import McpBoard, trust_readers
from tests.fakes.openai_server import ChatScript, FakeOpenAI
from voicechat import defaults
from voicechat.audio.vad import SileroVAD
from voicechat.config import Settings
from voicechat.models import User, VoicePreferences
from voicechat.storage.store import Store

AFTER = defaults.PATIENCE_PAUSES_MS["balanced"][1] / 1000 + 0.2


@pytest.fixture
def user(store: Store) -> User:
    return store.users.get_or_create(email="caller@example.com", name="Caller")


@pytest.fixture
def call_settings(settings: Settings, mcp_board: McpBoard, store: Store) -> Settings:
    trust_readers(store)  # the admin's word: the board's listing and report only read
    return replace(settings, mcp_servers=Settings.from_mapping(mcp_board.settings()).mcp_servers)


def ask(
    talk_sessions: TalkSessions,
    settings: Settings,
    user: User,
    words: str,
    conversation_id: str | None = None,
):  # type: ignore[no-untyped-def]
    session, output = talk_sessions.start(
        settings,
        user,
        VoicePreferences(),
        output_rate=24_000,
        vad=SileroVAD(),
        conversation_id=conversation_id,
    )
    feed(session, silence_pcm(0.3) + pcm16k(words) + silence_pcm(AFTER))
    snap = wait_for(session, lambda s: s.turns == 1 and s.state == "listening", timeout=30)
    session.stop()
    return snap, output


def test_a_spoken_question_calls_a_tool_and_the_spoken_reply_uses_it(
    talk_sessions: TalkSessions, call_settings: Settings, store: Store, user: User, fake_openai: FakeOpenAI
) -> None:
    fake_openai.transcript = "What is on the incident board?"
    fake_openai.script_chat(ChatScript(tool_calls=(("board__list_incidents", {}),), repeat=True))
    snap, output = ask(talk_sessions, call_settings, user, "What is on the incident board?")

    _, answer = stored(store, user, snap.conversation_id)
    assert answer.content.startswith("From the tool: INC-7 checkout latency")
    assert [(s.name, s.status, s.source) for s in answer.tool_steps] == [
        ("board__list_incidents", "ok", "board")
    ]
    spoken = [r.body["input"] for r in fake_openai.requests if r.path == "/v1/audio/speech"]
    assert any("INC-7" in text for text in spoken) and sum(len(p) for p in output.pushed) > 0
    assert not any(defaults.TOOL_FILLER in text for text in spoken)  # an instant tool needs no filler
    kinds = [e.kind for e in store.usage.events_for(user_id=user.id)]
    assert kinds.count("tool") >= 1


def test_a_slow_tool_gets_a_spoken_filler(
    talk_sessions: TalkSessions, call_settings: Settings, store: Store, user: User, fake_openai: FakeOpenAI
) -> None:
    fake_openai.transcript = "Run the weekly report."
    fake_openai.script_chat(ChatScript(tool_calls=(("board__slow_report", {"seconds": 1.0}),), repeat=True))
    snap, _ = ask(talk_sessions, call_settings, user, "Run the weekly report.")

    _, answer = stored(store, user, snap.conversation_id)
    assert answer.content.startswith(defaults.TOOL_FILLER) and "report ready" in answer.content
    spoken = [r.body["input"] for r in fake_openai.requests if r.path == "/v1/audio/speech"]
    assert spoken[0] == defaults.TOOL_FILLER  # said while the tool ran, before the answer


@pytest.mark.parametrize(
    ("answer", "status", "ran"), [("Yes, please do.", "ok", ["Pager storm"]), ("No, don't.", "declined", [])]
)
def test_a_confirm_first_tool_runs_after_a_spoken_yes_and_never_on_a_no(
    answer: str,
    status: str,
    ran: list[str],
    talk_sessions: TalkSessions,
    call_settings: Settings,
    store: Store,
    user: User,
    fake_openai: FakeOpenAI,
    mcp_board: McpBoard,
) -> None:
    opened = len(mcp_board.opened)
    # A model that would call it again at every chance: the hold ends its turn, and the next one.
    call = ChatScript(tool_calls=(("board__open_ticket", {"title": "Pager storm"}),), repeat=True)
    fake_openai.transcript = "Open a ticket about the pager storm."
    fake_openai.script_chat(call)
    snap, _ = ask(talk_sessions, call_settings, user, "Open a ticket about the pager storm.")
    _, held = stored(store, user, snap.conversation_id)
    assert [s.status for s in held.tool_steps] == ["awaiting_confirmation"]
    assert len(mcp_board.opened) == opened

    fake_openai.transcript = answer
    snap, _ = ask(talk_sessions, call_settings, user, answer, snap.conversation_id)
    *_, done = stored(store, user, snap.conversation_id)
    assert done.tool_steps[0].status == status and mcp_board.opened[opened:] == ran


def test_barge_in_still_works_while_a_tool_runs(
    talk_sessions: TalkSessions, call_settings: Settings, store: Store, user: User, fake_openai: FakeOpenAI
) -> None:
    fake_openai.transcript = "Run the monthly report."
    fake_openai.script_chat(ChatScript(tool_calls=(("board__slow_report", {"seconds": 6.0}),), repeat=True))
    session, output = talk_sessions.start(
        call_settings, user, VoicePreferences(), output_rate=24_000, vad=SileroVAD(), speed=1
    )
    feed(session, silence_pcm(0.3) + pcm16k("Run the monthly report.") + silence_pcm(AFTER))
    wait_for(session, lambda s: s.state == "speaking", timeout=30)  # the filler, while the tool runs
    feed(session, pcm16k("Stop, never mind.") + silence_pcm(AFTER))
    snap = wait_for(
        session, lambda s: s.last_turn is not None and s.last_turn.barge_in_ms is not None, timeout=30
    )

    assert output.clears >= 1 and snap.last_turn is not None
    replies = [m for m in stored(store, user, snap.conversation_id) if m.role == "assistant"]
    # Cut while the filler played: kept as far as it was heard (maybe nothing), and stored at once, not when
    # the tool ends (the user's next words need not wait for it): the call is still running...
    assert replies[0].interrupted and defaults.TOOL_FILLER.startswith(replies[0].content.rstrip("…."))
    billed = lambda: [e.model for e in store.usage.events_for(user_id=user.id) if e.kind == "tool"]  # noqa: E731
    assert billed() == []
    # ... and is billed once it ends (the scripted chat also answers "Stop, never mind." with the tool, so a
    # second call of it may be billed in the same write).
    wait_until(lambda: "board__slow_report" in billed(), timeout=15)


def test_a_spoken_follow_up_gets_the_earlier_tool_result_as_context(
    talk_sessions: TalkSessions, call_settings: Settings, store: Store, user: User, fake_openai: FakeOpenAI
) -> None:
    fake_openai.transcript = "What is on the incident board?"
    fake_openai.script_chat(ChatScript(tool_calls=(("board__list_incidents", {}),)))
    snap, _ = ask(talk_sessions, call_settings, user, "What is on the incident board?")
    fake_openai.reset_chat()
    fake_openai.transcript = "Who owns the first one?"
    fake_openai.script_chat(ChatScript(reply="The payments team.", repeat=True))
    snap, _ = ask(talk_sessions, call_settings, user, "Who owns the first one?", snap.conversation_id)

    *_, answer = stored(store, user, snap.conversation_id)
    assert answer.content == "The payments team." and answer.tool_steps == ()
    messages = fake_openai.chat_requests()[-1].body["messages"]
    results = [m["content"] for m in messages if m["role"] == "tool"]
    assert len(results) == 1 and "INC-7" in results[0]  # the earlier result, as context
