"""What an MCP server says is not taken on trust: its ``readOnlyHint`` is only a suggestion (the admin decides
whether a tool may run unconfirmed and ahead in a draft), headers naming the user carry that user's own
verified identity on a session of their own, and a stdio server's stderr stays out of the app's log."""

from __future__ import annotations

import json
import logging
import sys
from dataclasses import replace

import pytest

from tests.engine.live_helpers import wait_until
from tests.fakes.mcp_server import INCIDENTS, STDERR_NOISE, McpBoard, trust_readers
from voicechat import defaults
from voicechat.config import Settings
from voicechat.models import User
from voicechat.providers.base import ToolCall
from voicechat.settings_reader import SettingsError
from voicechat.storage.store import Store
from voicechat.tools.catalog import catalog, shared_hub, toolbox_for
from voicechat.tools.mcp import McpHub
from voicechat.tools.mcp_config import McpServerConfig, read_mcp_servers
from voicechat.tools.runner import ToolBox, ToolUnavailable
from voicechat.turns.tool_rounds import AheadGate, ToolRounds

LIST = ToolCall(id="call_1", name="board__list_incidents", arguments="{}")


def board_settings(
    settings: Settings, mcp_board: McpBoard, *, name: str = "board", per_user: bool = False
) -> Settings:
    return replace(settings, mcp_servers=read_mcp_servers(mcp_board.settings(name=name, per_user=per_user)))


def box_for(settings: Settings, store: Store, user: User) -> ToolBox:
    box = toolbox_for(settings, store, user=user, conversation_id="c1", model="gpt-6-luna")
    assert box is not None
    return box


def runs_ahead(box: ToolBox, call: ToolCall) -> bool:
    """Whether a drafted reply runs ``call`` before its turn is confirmed (the draft is dropped at once:
    a call that must wait for the turn never runs)."""
    return bool(list(ToolRounds(box, gate=_dropped()).run((call,), "")))


def test_a_server_claiming_read_only_is_confirmed_first_and_not_run_ahead_until_the_admin_says_so(
    settings: Settings, store: Store, mcp_board: McpBoard
) -> None:
    settings = board_settings(settings, mcp_board)
    user = store.users.get_or_create(email="d@example.com", name="D")
    [entry] = [e for e in catalog(settings, store) if e.name == LIST.name]
    assert entry.read_only_hint  # the server says it only reads: shown to the admin as a suggestion...
    assert not entry.read_only and entry.confirm_first  # ...but it counts as one that changes things
    box = box_for(settings, store, user)
    assert LIST.name in box.confirm_first and not box.safe_ahead(LIST)
    assert not runs_ahead(box, LIST)

    trust_readers(store)  # the admin ticks "Reads only" (and clears "Confirm first")
    box = box_for(settings, store, user)
    assert box.safe_ahead(LIST) and LIST.name not in box.confirm_first
    [_, result] = list(ToolRounds(box, gate=_dropped()).run((LIST,), ""))
    assert INCIDENTS[0] in (result.content or "")


def _dropped() -> AheadGate:
    gate = AheadGate()
    gate.stop()
    return gate


def test_headers_naming_the_user_reach_the_server_as_each_users_own(
    settings: Settings, store: Store, mcp_board: McpBoard
) -> None:
    settings = board_settings(settings, mcp_board, name="team", per_user=True)
    trust_readers(store, "team")
    ann = store.users.get_or_create(email="ann@example.com", name="Ann")
    bob = store.users.get_or_create(email="bob@example.com", name="Bob")
    hub = shared_hub(settings)
    assert hub is not None
    seen_before, open_before = len(mcp_board.headers_seen), hub.open_sessions()["team"]
    for user in (ann, bob, ann):
        box = box_for(settings, store, user)
        tool = box.get("team__list_incidents")
        assert tool is not None
        assert INCIDENTS[0] in tool.run({}, box.context)
    seen = [h for h in mcp_board.headers_seen[seen_before:] if "x-user-email" in h]
    by_email = {h["x-user-email"]: h["x-user-id"] for h in seen}
    assert by_email == {"ann@example.com": ann.id, "bob@example.com": bob.id}  # never the other's
    calls = [h["x-user-email"] for h in seen if h[":method"] == "POST"]
    assert "ann@example.com" in calls and "bob@example.com" in calls
    assert hub.open_sessions()["team"] == open_before + 2  # a session each


def test_a_user_without_a_verified_email_or_with_an_unsafe_one_gets_no_per_user_server(
    mcp_board: McpBoard,
) -> None:
    hub = McpHub(read_mcp_servers(mcp_board.settings(name="team", per_user=True)))
    try:
        unverified = User(id="u1", email="eve@example.com", name="Eve")
        forged = User(id="u2", email="eve@example.com\r\nX-Admin: yes", name="Eve", email_verified=True)
        seen_before = len(mcp_board.headers_seen)
        for user in (unverified, forged):
            assert hub.tools(user) == []
            with pytest.raises(ToolUnavailable):
                hub.call("team", "list_incidents", {}, user=user, timeout=5)
        assert len(mcp_board.headers_seen) == seen_before  # nothing reached the server
    finally:
        hub.close()


def test_a_users_session_closes_when_idle_and_opens_again(
    mcp_board: McpBoard, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(defaults, "MCP_USER_IDLE_SECONDS", 0.3)
    hub = McpHub(read_mcp_servers(mcp_board.settings(name="team", per_user=True)))
    ann = User(id="u1", email="ann@example.com", name="Ann", email_verified=True)
    try:
        hub.call("team", "list_incidents", {}, user=ann, timeout=5)
        assert hub.open_sessions() == {"team": 1}
        wait_until(lambda: hub.open_sessions() == {"team": 0})  # the session ended itself
        result = hub.call("team", "list_incidents", {}, user=ann, timeout=5)  # a new one opens
        assert not result.is_error and hub.open_sessions() == {"team": 1}
    finally:
        hub.close()


@pytest.mark.parametrize(
    ("entry", "says"),
    [
        ({"name": "s", "command": "x", "env": {"WHO": "${user.email}"}}, "only as ${user.email}"),
        ({"name": "s", "url": "http://127.0.0.1/mcp", "headers": {"X": "${user.name}"}}, "only as"),
        ({"name": "s", "url": "http://127.0.0.1/mcp", "headers": {"X": "${TOKEN}"}}, "line break"),
    ],
    ids=["user-in-env", "unknown-user-field", "secret-with-line-break"],
)
def test_user_templates_are_headers_only_and_headers_are_single_lines(
    entry: dict[str, object], says: str
) -> None:
    values = {"VOICECHAT_MCP_SERVERS": json.dumps([entry]), "TOKEN": "s3cret-token\r\nX-Admin: yes"}
    with pytest.raises(SettingsError) as refused:
        read_mcp_servers(values)
    assert says in str(refused.value) and "s3cret-token" not in str(refused.value)


def test_a_per_user_config_fills_in_only_the_users_identity() -> None:
    [config] = read_mcp_servers(
        {
            "VOICECHAT_MCP_SERVERS": json.dumps(
                [{"name": "t", "url": "http://h/mcp", "headers": {"A": "Bearer ${T}", "U": "${user.email}"}}]
            ),
            "T": "tok",
        }
    )
    assert isinstance(config, McpServerConfig) and config.per_user
    assert config.headers_for(email="a@x.org", user_id="42") == (("A", "Bearer tok"), ("U", "a@x.org"))


def test_a_stdio_servers_stderr_stays_out_of_the_app_log(
    caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG, logger="voicechat.tools.mcp")
    local = {"name": "local", "command": sys.executable, "args": ["-m", "tests.fakes.mcp_server"]}
    hub = McpHub(read_mcp_servers({"VOICECHAT_MCP_SERVERS": json.dumps([local])}))
    user = User(id="u1", email="ann@example.com", name="Ann", email_verified=True)

    def logged() -> int:
        said = [r.getMessage().split(": ", 1)[1] for r in caplog.records if " stderr: " in r.getMessage()]
        return sum(len(text) for text in said)

    try:
        wait_until(lambda: "local__list_incidents" in [t.name for t in hub.tools(user)], timeout=30)
        result = hub.call("local", "list_incidents", {}, user=user, timeout=5)  # says a lot on stderr
        assert not result.is_error
        wait_until(lambda: logged() >= defaults.MCP_STDERR_LOG_BYTES)
    finally:
        hub.close()
    assert STDERR_NOISE not in capfd.readouterr().err  # not on the app's stderr, where its log goes
    noisy = [r for r in caplog.records if STDERR_NOISE[:20] in r.getMessage()]
    assert noisy and all(r.levelno == logging.DEBUG for r in noisy)  # at DEBUG only...
    assert logged() == defaults.MCP_STDERR_LOG_BYTES  # ...and capped
