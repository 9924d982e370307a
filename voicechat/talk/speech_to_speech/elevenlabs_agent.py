"""Talk mode through an ElevenLabs Agent (the Agents Platform's conversation WebSocket).

The agent hears, decides turns, thinks and speaks on ElevenLabs' side; we stream the user's audio to it and
play its audio (the messages are in ``providers.elevenlabs.agent``). The protocol has no end-of-reply event
and no timestamps: a reply ends when its audio has played and no more arrived for ``REPLY_IDLE_SECONDS``; the
user's clip is the audio since their previous turn, trimmed of quiet. ElevenLabs bills agents per minute of
call: each reply records the call time since the last record.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import logging
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.client import connect

from voicechat.audio.pcm import resample
from voicechat.config import Settings
from voicechat.models import UsageStatus, VoicePreferences
from voicechat.providers.base import ToolCall
from voicechat.providers.elevenlabs.agent import (
    agent_url,
    audio_rate,
    client_tool_result,
    initiation,
    pong,
    user_audio,
)
from voicechat.providers.sockets import abort_transport
from voicechat.talk.engine import EngineHost, TalkEngine
from voicechat.talk.events import (
    ReplyCorrected,
    ReplyTextDelta,
    UsageMeasured,
    UserSpeechStopped,
)
from voicechat.talk.runtime.user_audio import trim_quiet
from voicechat.talk.speech_to_speech.connected import (
    AudioOutbox,
    ConnectedEngine,
    Speaking,
)
from voicechat.talk.speech_to_speech.tool_calls import EngineTools, content_of
from voicechat.tools.runner import SETTLED
from voicechat.usage import Usage
from voicechat.voices import OPENAI_VOICES, TALK_RATE

log = logging.getLogger(__name__)
AGENT_MODEL = "elevenlabs-agent"
REPLY_IDLE_SECONDS = 0.8


@dataclass(frozen=True)
class AgentSpec:
    """Which agent, how to reach it, and what to override for this user."""

    base_url: str
    agent_id: str
    api_key: str | None = field(repr=False)
    voice_id: str | None
    language: str | None
    price_per_minute: float
    name: str = "elevenlabs-agent"
    model: str = AGENT_MODEL
    output_rate: int = TALK_RATE  # the agents' default pcm_16000; other formats are resampled to it

    @property
    def label(self) -> str:
        """Engine and agent, for the page."""
        return f"ElevenLabs Agent: {self.agent_id}"

    @classmethod
    def from_settings(cls, settings: Settings, preferences: VoicePreferences) -> AgentSpec:
        """The deployment's agent; the user's voice replaces the agent's only if it is an ElevenLabs one."""
        voice = preferences.voice if preferences.voice not in OPENAI_VOICES else None
        return cls(
            base_url=settings.elevenlabs_base_url,
            agent_id=settings.elevenlabs_agent_id or "",
            api_key=settings.elevenlabs_api_key,
            voice_id=voice,
            language=None if preferences.language == "auto" else preferences.language,
            price_per_minute=settings.elevenlabs_agent_price_per_minute,
        )

    def build(self, host: EngineHost) -> TalkEngine:
        """An agent engine for one session."""
        return ElevenLabsAgentEngine(host, self)


class ElevenLabsAgentEngine(ConnectedEngine):
    """One agent conversation per connection; re-opened with the history in the prompt after a drop."""

    def __init__(self, host: EngineHost, spec: AgentSpec) -> None:
        super().__init__(host, output_rate=spec.output_rate)
        self._spec = spec
        self._socket: Any = None
        self._input_rate = self._agent_rate = TALK_RATE
        self._mark = 0  # tape sample where the user's next utterance may begin
        self._cut_up_to = -1  # audio events up to this id belong to an interrupted reply
        self._ended_at: float | None = None  # when the user's last turn ended
        self._user_turns = 0  # on this connection: replies before the first are greetings
        self._last_audio = 0.0
        self._billed_since = time.monotonic()
        self._keys = itertools.count(1)
        self._greeted = False
        self._tools = EngineTools(host)
        self._user_text = ""  # the user's last words (a confirm-first tool runs on their yes)
        self._user_key = ""  # their utterance: a yes confirms only a call held before it

    async def _converse(self) -> None:
        spec, host = self._spec, self._host
        history = await asyncio.wrap_future(host.recorder.history())
        await self._tools.prepare()
        first = initiation(
            prompt=host.options.system_prompt + self._tools.instructions,
            history=history,
            # After a reconnect the agent must not greet again; first time, the user's greeting (if any).
            greeting="" if self._greeted else (host.greeting or None),
            language=spec.language,
            voice_id=spec.voice_id,
            user_name=host.user.name,
        )
        url = await agent_url(base_url=spec.base_url, agent_id=spec.agent_id, api_key=spec.api_key)
        entered: Any = None
        try:
            async with connect(url, max_size=2**22) as socket:
                entered = socket
                await self._talk(socket, first)
        finally:
            abort_transport(entered)

    async def _talk(self, socket: Any, first: dict[str, Any]) -> None:
        self._socket, self._user_turns = socket, 0
        await socket.send(json.dumps(first))
        sender: asyncio.Task[None] | None = None
        try:
            async for raw in socket:
                event = json.loads(raw)
                if event.get("type") == "conversation_initiation_metadata":
                    sender = asyncio.create_task(self._send_audio(self._set_up(event)))
                else:
                    self._on_event(event)
        finally:
            self._socket = None
            if sender is not None:
                sender.cancel()

    async def _hang_up(self) -> None:
        if self._socket is not None:
            await self._socket.close()

    def _set_up(self, event: dict[str, Any]) -> AudioOutbox:
        meta = event.get("conversation_initiation_metadata_event", {})
        self._input_rate = audio_rate(meta.get("user_input_audio_format"))
        self._agent_rate = audio_rate(meta.get("agent_output_audio_format"))
        self._greeted = True
        outbox = self._connected()
        self._mark = self._host.tape.samples - outbox.samples
        return outbox

    async def _send_audio(self, outbox: AudioOutbox) -> None:
        while True:
            pcm = resample(await outbox.get(), from_rate=TALK_RATE, to_rate=self._input_rate)
            if self._socket is not None:
                await self._socket.send(user_audio(pcm))

    # Server events (on the loop) -------------------------------------------------------------------------

    def _on_event(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind == "user_transcript":
            self._user_said(event.get("user_transcription_event", {}).get("user_transcript", ""))
        elif kind == "agent_response":
            text = event.get("agent_response_event", {}).get("agent_response", "")
            reply = self._current() or self._new_reply()
            reply.text = text  # kept when the reply ends (after it has played)
            self._host.emit(ReplyTextDelta(reply.key, text))
        elif kind == "audio":
            self._audio(event.get("audio_event", {}))
        elif kind == "interruption":
            self._interrupted(event.get("interruption_event", {}))
        elif kind == "agent_response_correction":
            corrected = event.get("agent_response_correction_event", {})
            if self._reply is not None:
                self._host.emit(
                    ReplyCorrected(self._reply.key, str(corrected.get("corrected_agent_response", "")))
                )
        elif kind == "client_tool_call":
            reply = self._current() or self._new_reply()  # the answer that uses it continues this reply
            self._spawn(self._answer_call(reply.key, event.get("client_tool_call", {})))
        elif kind == "ping" and self._socket is not None:
            self._spawn(self._socket.send(pong(event.get("ping_event", {}).get("event_id"))))

    async def _answer_call(self, key: str, call: dict[str, Any]) -> None:
        """Run one of our tools the agent called; its result (or error) goes back on the socket."""
        tool_call = ToolCall(
            id=str(call.get("tool_call_id", "")),
            name=str(call.get("tool_name", "")),
            arguments=json.dumps(call.get("parameters") or {}),
        )
        [result] = await self._tools.run(key, [tool_call], self._user_text, self._user_key)
        failed = isinstance(result, str) or result.step.status not in SETTLED
        if self._socket is not None:
            await self._socket.send(client_tool_result(tool_call.id, content_of(result), is_error=failed))

    def _current(self) -> Speaking | None:
        reply = self._reply
        return reply if reply is not None and not reply.finished else None

    def _new_reply(self) -> Speaking:
        greeting = self._user_turns == 0
        key = f"agent-{next(self._keys)}"
        reply = self._begin_reply(key, greeting=greeting, ended_at=None if greeting else self._ended_at)
        self._finish_when_played(reply, grace=REPLY_IDLE_SECONDS)
        return reply

    def _user_said(self, text: str) -> None:
        host = self._host
        self._user_text = text
        if (reply := self._current()) is not None:
            self._finish(reply)
        pcm = trim_quiet(host.tape.between(self._mark, host.tape.samples))
        self._mark = host.tape.samples
        self._user_turns += 1
        ended_at = self._ended_at = host.tape.last_offset
        decided = round((host.clock() - ended_at) * 1000, 1) if ended_at is not None else None
        key = self._user_key = f"user-{next(self._keys)}-{uuid.uuid4().hex[:8]}"  # unique across connections
        self._tools.heard(text, key)
        host.emit(UserSpeechStopped(key, pcm, ended_at=ended_at, end_of_turn_ms=decided, transcript=text))
        self._admit_turn()

    def _audio(self, audio: dict[str, Any]) -> None:
        event_id = int(audio.get("event_id") or 0)
        if event_id and event_id <= self._cut_up_to:
            return  # already generated for a reply the user interrupted
        pcm = resample(
            base64.b64decode(audio.get("audio_base_64", "")),
            from_rate=self._agent_rate,
            to_rate=self._output_rate,
        )
        reply = self._current() or self._new_reply()
        self._last_audio = time.monotonic()
        self._play(reply, pcm)

    def _interrupted(self, interruption: dict[str, Any]) -> None:
        self._cut_up_to = max(self._cut_up_to, int(interruption.get("event_id") or 0))
        reply = self._current()
        if reply is not None and self._host.barge_in:
            self._cut(reply, onset=self._host.tape.last_onset)

    def _idle_for(self, reply: Speaking) -> float:
        return time.monotonic() - self._last_audio if reply.pushed else 0.0

    def _finished(self, reply: Speaking) -> None:
        self._bill(reply)

    def _closed(self) -> None:
        self._bill(None)

    def _bill(self, reply: Speaking | None) -> None:
        """The call time since the last record, priced per minute (with the reply it ended on, if any)."""
        turn = reply is not None and not reply.greeting
        status: UsageStatus = "ok"
        if reply is not None and (reply.interrupted or reply.failed):
            status = "interrupted" if reply.interrupted else "error"
        now = time.monotonic()
        seconds, self._billed_since = now - self._billed_since, now
        usage = Usage(
            kind="realtime",
            provider="elevenlabs",
            model=AGENT_MODEL,
            status=status,
            audio_seconds=reply.pushed / self._output_rate
            if reply is not None
            else 0.0,  # the agent's speech
            cost_usd=self._spec.price_per_minute * seconds / 60,  # the call time is what is priced
            latency_ms=reply.voice_to_voice_ms() if reply is not None and turn else None,
            turn=turn,
        )
        self._host.emit(UsageMeasured(usage))
