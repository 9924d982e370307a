"""Talk mode on the chat page: "Start a call", the WebRTC call itself, and the call screen while it runs.

streamlit-webrtc carries the audio: the browser's microphone (echo cancellation, noise suppression and auto
gain on) arrives in a push-based sink track whose callback only forwards frames to the talk session; replies
go back through a PCM source track. The component's own buttons are hidden (``desired_playing_state``): the
call starts and ends from the app's buttons. The session lives in this browser session's state and is stopped
when the call ends, the page is left, or the tab is closed (the track ends and the sink's ``on_ended`` fires).

A call is admitted when its session starts (limits, budget, the person's open calls): a refused one hangs up
at once with the reason. A call that ends by itself (its longest length, the budget spent) shows why.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

import av
import streamlit as st
from streamlit_webrtc import (
    WebRtcMode,
    create_audio_sink_track,
    create_pcm_audio_source_track,
    webrtc_streamer,
)

from ui import call_screen, webrtc_frontend
from ui.context import AppContext, admit
from ui.state import ChatState, conversation_id, open_conversation
from ui.turn_runner import browser_timezone
from voicechat.errors import Refused, VoicechatError
from voicechat.talk.session import TalkSession
from voicechat.talk.setup import TalkSetup, talk_setup
from voicechat.turn_credentials import TurnCredentials, mint_turn_credentials
from voicechat.turns.text import TurnOptions

_HOLDER = "talk-session"
_CALL = "talk-call"
STALL_TIMEOUT_SECONDS = 5.0  # a call sends ~50 frames/s even in silence; none for this long: the tab is gone


class SessionHolder:
    """Where the sink callback (on aiortc's thread) finds the session; stopping happens off that thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.session: TalkSession | None = None
        self._turn: TurnCredentials | None = None  # TURN credentials for the call being set up or running
        self._turn_used = False  # a call has used them: the next call gets its own

    def turn_credentials(
        self, mint: Callable[[], TurnCredentials], *, renew_within: float
    ) -> TurnCredentials:
        """The TURN credentials of the call being set up or running: kept while it runs (and across page
        reruns before it starts), minted anew for every new call, and before they come within
        ``renew_within`` seconds of expiring."""
        with self._lock:
            turn = self._turn
            if turn is None or (
                self.session is None and (self._turn_used or turn.expires_at - time.time() < renew_within)
            ):
                turn, self._turn_used = mint(), False
                self._turn = turn
            return turn

    def push_frame(self, frame: av.AudioFrame) -> None:
        """The sink callback: hand the frame over, nothing else."""
        session = self.session
        if session is not None:
            session.push_frame(frame)

    def attach(self, session: TalkSession) -> None:
        """Start forwarding frames to ``session``."""
        with self._lock:
            self.session = session
            self._turn_used = True

    def end(self) -> None:
        """Stop the session (its turn's storage completes) on a separate thread; idempotent."""
        with self._lock:
            session, self.session = self.session, None
        if session is not None:
            threading.Thread(target=session.stop, name="talk-stop", daemon=True).start()


@dataclass
class Call:
    """This browser session's call. Each call has its own component key, so a call never inherits the
    connection state of the one before."""

    number: int = 0
    on: bool = False

    def start(self) -> None:
        """A new call, with its own component key; the last call's connection state goes now, not at its
        hang-up: its frame may still report a change in the run after the hang-up, and streamlit-webrtc's
        change callback then reads that state (a KeyError and an error page, seen when End call was pressed
        just as the call connected)."""
        st.session_state.pop(self.key, None)
        self.number += 1
        self.on = True

    @property
    def key(self) -> str:
        """The WebRTC component's key for this call."""
        return f"talk-{self.number}"


def render(app: AppContext, state: ChatState, *, enabled: bool) -> bool:
    """The Start a call button, or the call screen while a call runs (then True: the page leaves out the
    recorder)."""
    holder: SessionHolder = st.session_state.setdefault(_HOLDER, SessionHolder())
    call: Call = st.session_state.setdefault(_CALL, Call())
    if not call.on:
        holder.end()
        _start_button(app, state, call, enabled=enabled)
        return False
    try:
        setup = _setup(app, state)
    except VoicechatError as exc:
        st.error(exc.user_message)
        _hang_up(call, holder)
        return False
    rate = setup.engine.output_rate
    output = create_pcm_audio_source_track(key=f"talk-reply-{rate}", sample_rate=rate)
    sink = create_audio_sink_track(callback=holder.push_frame, key="talk-microphone", on_ended=holder.end)
    webrtc_frontend.serve_patched_frontend()  # one connection per call, not three
    context = webrtc_streamer(
        key=call.key,
        mode=WebRtcMode.SENDRECV,
        desired_playing_state=True,  # our own buttons start and end it; its own are hidden
        rtc_configuration={
            "iceServers": _ice_servers(app, holder),
            "iceTransportPolicy": app.settings.ice_transport_policy,
        },
        media_stream_constraints={
            "audio": {"echoCancellation": True, "noiseSuppression": True, "autoGainControl": True},
            "video": False,
        },
        source_audio_track=output.track,
        sink_audio_track=sink,
        media_toggle_controls=False,
        audio_html_attrs={"autoPlay": True, "controls": False, "hidden": True},
    )
    if holder.session is not None and not (context.state.playing or context.state.signalling):
        state.notice = ("warning", "The call was disconnected. Start a new one to go on talking.")
        _hang_up(call, holder)  # the browser closed the connection
        st.rerun()
    if setup.note:
        st.caption(setup.note)
    if context.state.playing and holder.session is None:
        try:
            session = TalkSession(
                store=app.store,
                settings=app.settings,
                setup=setup,
                output=output,
                output_rate=rate,
                stall_timeout=STALL_TIMEOUT_SECONDS,
            )
        except Refused as exc:  # nothing was said or billed
            state.notice = ("warning", exc.user_message)
            _hang_up(call, holder)
            st.rerun()
        holder.attach(session)
    call_screen.style()
    if holder.session is None:  # connecting: drawn once (a timed fragment would rerun during the setup)
        _act(call_screen.show(None), call, holder)
    else:
        _live_view(holder, call, state)
    return True


def _setup(app: AppContext, state: ChatState) -> TalkSetup:
    return talk_setup(
        app.settings,
        user=app.user,
        preferences=state.preferences,
        options=TurnOptions(
            model=state.model, system_prompt=state.system_prompt, timezone=browser_timezone()
        ),
        today=date.today(),
        openai_api_key=state.api_key,
        conversation_id=conversation_id(),
        admit=lambda: admit(app, "voice"),
        quota=app.quotas.for_call(app.user, client_address=app.client_address),
    )


def _start_button(app: AppContext, state: ChatState, call: Call, *, enabled: bool) -> None:
    call_screen.style()
    st.button(
        "Start a call",
        key="start-call",
        type="primary",
        icon=":material/call:",
        disabled=not enabled,
        help="A hands-free conversation: just speak.",
        on_click=call.start,  # before the run: it draws the call at once, with no second run
    )
    engine: str = state.preferences.talk_engine
    note: str | None = None
    try:
        setup = _setup(app, state)
    except VoicechatError:  # said when the call starts; no engine to name yet
        pass
    else:
        engine, note = setup.engine.label, setup.note
    st.caption(
        "Hands-free: just speak. Pause to let it answer; talk over it to interrupt. "
        f"Engine: {engine} (change it in Voice preferences)."
    )
    if note:
        st.caption(note)


def _hang_up(call: Call, holder: SessionHolder) -> None:
    """End the call now: the session stops (its turn is still stored), and the next run draws no call
    component, so the browser drops the connection with the frame."""
    holder.end()
    call.on = False


def _ice_servers(app: AppContext, holder: SessionHolder) -> list[dict[str, Any]]:
    """The configured STUN servers plus TURN with credentials minted for each call (kept while it runs);
    never a long-lived TURN password."""
    settings = app.settings
    servers = list(settings.ice_servers)
    if settings.turn_urls and settings.turn_secret:
        urls, secret = settings.turn_urls, settings.turn_secret
        credentials = holder.turn_credentials(
            lambda: mint_turn_credentials(
                urls=urls, secret=secret, user_id=app.user.id, ttl_seconds=settings.turn_ttl_seconds
            ),
            renew_within=settings.turn_ttl_seconds / 2,
        )
        servers.append(credentials.ice_server())
    return servers


@st.fragment(run_every=0.4)
def _live_view(holder: SessionHolder, call: Call, state: ChatState) -> None:
    session = holder.session
    snap = session.snapshot() if session is not None else None
    if snap is not None and snap.conversation_id and snap.conversation_id != conversation_id():
        open_conversation(snap.conversation_id)  # a new conversation: the URL (and a reload) reopens it
        st.rerun(scope="app")  # ...and the sidebar lists it now, not after the call (the call goes on)
    if snap is not None and snap.state == "stopped" and snap.error:  # it ended by itself, and says why
        state.notice = ("warning", snap.error)
        _hang_up(call, holder)
        st.rerun(scope="app")
    _act(call_screen.show(snap), call, holder)


def _act(action: call_screen.Action | None, call: Call, holder: SessionHolder) -> None:
    """Do what the user pressed on the call screen."""
    if action == call_screen.END:
        _hang_up(call, holder)
        st.rerun(scope="app")
    elif action == call_screen.MUTE and (session := holder.session) is not None:
        session.mute(not session.snapshot().muted)
        st.rerun(scope="fragment")
