"""Talk mode on the chat page: a WebRTC call with the assistant and a live panel of what is happening.

streamlit-webrtc carries the audio: the browser's microphone (echo cancellation, noise suppression and auto
gain on) arrives in a push-based sink track whose callback only forwards frames to the talk session; replies
go back through a PCM source track. The session lives in this browser session's state and is stopped when the
call ends, the page is left, or the tab is closed (the track ends and the sink's ``on_ended`` fires).
"""

from __future__ import annotations

import threading
import time
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

from ui.context import AppContext, admit
from ui.state import ChatState, conversation_id, open_conversation
from ui.tool_steps import label
from ui.turn_runner import browser_timezone
from voicechat.errors import VoicechatError
from voicechat.rendering import without_remote_images
from voicechat.talk.session import TalkSession
from voicechat.talk.setup import talk_setup
from voicechat.talk.view import TalkSnapshot
from voicechat.turn_credentials import TurnCredentials, mint_turn_credentials
from voicechat.turns.text import TurnOptions

_HOLDER = "talk-session"
STALL_TIMEOUT_SECONDS = 5.0  # a call sends ~50 frames/s even in silence; none for this long: the tab is gone
STATE_LABELS = {
    "idle": "⏸️ Idle",
    "listening": "👂 Listening",
    "thinking": "💭 Thinking",
    "speaking": "🗣️ Speaking",
    "stopped": "⏹️ Stopped",
}


class SessionHolder:
    """Where the sink callback (on aiortc's thread) finds the session; stopping happens off that thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.session: TalkSession | None = None
        self.turn: TurnCredentials | None = None  # this browser's TURN credentials, minted per call

    def push_frame(self, frame: av.AudioFrame) -> None:
        """The sink callback: hand the frame over, nothing else."""
        session = self.session
        if session is not None:
            session.push_frame(frame)

    def attach(self, session: TalkSession) -> None:
        """Start forwarding frames to ``session``."""
        with self._lock:
            self.session = session

    def end(self) -> None:
        """Stop the session (its turn's storage completes) on a separate thread; idempotent."""
        with self._lock:
            session, self.session = self.session, None
        if session is not None:
            threading.Thread(target=session.stop, name="talk-stop", daemon=True).start()


def render(app: AppContext, state: ChatState) -> None:
    """The call widget, and while the call runs, the live panel."""
    holder: SessionHolder = st.session_state.setdefault(_HOLDER, SessionHolder())
    try:
        setup = talk_setup(
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
        )
    except VoicechatError as exc:
        st.error(exc.user_message)
        return
    if setup.note:
        st.caption(setup.note)
    rate = setup.engine.output_rate
    output = create_pcm_audio_source_track(key=f"talk-reply-{rate}", sample_rate=rate)
    sink = create_audio_sink_track(callback=holder.push_frame, key="talk-microphone", on_ended=holder.end)
    context = webrtc_streamer(
        key="talk",
        mode=WebRtcMode.SENDRECV,
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
        translations={"start": "Start talking", "stop": "End conversation"},
    )
    if not context.state.playing:
        holder.end()
        st.caption(
            "Press **Start talking**, then just speak. Pause to let it answer; talk over it to interrupt. "
            f"Engine: {setup.engine.label} (change it in Voice preferences)."
        )
        return
    if holder.session is None:
        holder.attach(
            TalkSession(
                store=app.store,
                settings=app.settings,
                setup=setup,
                output=output,
                output_rate=rate,
                stall_timeout=STALL_TIMEOUT_SECONDS,
            )
        )
    _live_view(holder)


def _ice_servers(app: AppContext, holder: SessionHolder) -> list[dict[str, Any]]:
    """The configured STUN servers plus TURN with credentials minted for the next call (kept while a call
    runs, renewed between calls once half their life is gone); never a long-lived TURN password."""
    settings = app.settings
    servers = list(settings.ice_servers)
    if settings.turn_urls and settings.turn_secret:
        credentials = holder.turn
        if holder.session is None and (
            credentials is None or credentials.expires_at - time.time() < settings.turn_ttl_seconds / 2
        ):
            credentials = holder.turn = mint_turn_credentials(
                urls=settings.turn_urls,
                secret=settings.turn_secret,
                user_id=app.user.id,
                ttl_seconds=settings.turn_ttl_seconds,
            )
        if credentials is not None:
            servers.append(credentials.ice_server())
    return servers


@st.fragment(run_every=0.4)
def _live_view(holder: SessionHolder) -> None:
    session = holder.session
    if session is None:
        return
    snap = session.snapshot()
    if snap.conversation_id and snap.conversation_id != conversation_id():
        open_conversation(snap.conversation_id)  # a new conversation: the URL (and a reload) reopens it
    show(snap)


def show(snap: TalkSnapshot) -> None:
    """State, level, running transcript and the last turn's latencies."""
    cols = st.columns([1, 2])
    cols[0].markdown(f"**{STATE_LABELS[snap.state]}**")
    level = 0.0 if snap.level_dbfs == float("-inf") else min(1.0, max(0.0, (snap.level_dbfs + 60) / 60))
    cols[1].progress(level, text="Microphone level")
    if snap.tool:
        st.caption(f":material/build: Using {label(snap.tool)}…")
    if snap.error:
        st.warning(snap.error)
    for line in snap.transcript[-8:]:
        with st.chat_message(line.role):
            st.markdown(without_remote_images(line.text) or "…")
            if line.interrupted:
                st.caption("✋ interrupted - kept as far as you heard it")
    if snap.last_turn is not None:
        st.caption("Last turn (ms): " + _latencies(snap.last_turn.__dict__))
    if snap.vad:
        st.caption("End of turn: " + ("decided by the voice engine" if snap.vad == "provider" else snap.vad))


def _latencies(values: dict[str, Any]) -> str:
    names = {
        "end_of_turn_ms": "end of turn",
        "stt_ms": "transcription",
        "first_token_ms": "first token",
        "tts_first_byte_ms": "first audio byte",
        "voice_to_voice_ms": "voice to voice",
        "barge_in_ms": "barge-in",
    }
    return " · ".join(
        f"{label} {values[key]:.0f}" for key, label in names.items() if values.get(key) is not None
    )
