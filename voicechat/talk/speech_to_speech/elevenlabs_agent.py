"""Talk mode through an ElevenLabs Agent (the Agents Platform's conversation WebSocket).

The agent hears, decides turns, thinks and speaks on ElevenLabs' side; we stream the user's audio to it as
``user_audio_chunk`` messages and play its ``audio`` events. Events handled (checked against the Agents
WebSocket reference on 2026-11-24):

- sent: ``conversation_initiation_client_data`` (prompt, first message, language and voice overrides, the
  ``user_name`` dynamic variable), ``user_audio_chunk``, ``pong``;
- received: ``conversation_initiation_metadata`` (audio formats), ``user_transcript``, ``agent_response``,
  ``agent_response_correction``, ``audio``, ``interruption``, ``ping``; others are ignored.

The protocol has no end-of-reply event and no timestamps: a reply ends when its audio has played and no more
arrived for ``REPLY_IDLE_SECONDS``; the user's clip is the audio since their previous turn, trimmed of quiet.
With an API key the connection uses a signed URL (private agents); without one it connects to a public agent
by id. ElevenLabs bills agents per minute of call: each reply records the call time since the last record.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import logging
import time
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import httpx
from websockets.asyncio.client import connect

from voicechat import defaults
from voicechat.audio.pcm import resample
from voicechat.config import Settings
from voicechat.models import ContextMessage, Message, UsageStatus, VoicePreferences
from voicechat.providers.speech_factory import OPENAI_VOICES
from voicechat.talk.engine import EngineHost, TalkEngine
from voicechat.talk.recorder import Reply
from voicechat.talk.runtime.user_audio import SAMPLE_RATE, trim_quiet
from voicechat.talk.speech_to_speech.connected import AudioOutbox, ConnectedEngine, abort_transport
from voicechat.talk.view import TranscriptLine

log = logging.getLogger(__name__)
AGENT_MODEL = "elevenlabs-agent"
REPLY_IDLE_SECONDS = 0.8
HISTORY_MESSAGES = 12


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
    output_rate: int = SAMPLE_RATE  # the agents' default pcm_16000; other formats are resampled to it

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


def initiation(
    *,
    prompt: str,
    history: list[ContextMessage],
    greeting: str | None,
    language: str | None,
    voice_id: str | None,
    user_name: str,
) -> dict[str, Any]:
    """The first message of a conversation: overrides and dynamic variables."""
    if history:
        lines = "\n".join(f"{m.role}: {m.content}" for m in history[-HISTORY_MESSAGES:])
        prompt = f"{prompt}\n\nThe conversation so far (continue it):\n{lines}"
    agent: dict[str, Any] = {"prompt": {"prompt": prompt}}
    if greeting is not None:
        agent["first_message"] = greeting
    if language:
        agent["language"] = language
    override: dict[str, Any] = {"agent": agent}
    if voice_id:
        override["tts"] = {"voice_id": voice_id}
    return {
        "type": "conversation_initiation_client_data",
        "conversation_config_override": override,
        "dynamic_variables": {"user_name": user_name},
    }


def _rate(audio_format: str | None) -> int:
    """``pcm_16000`` -> 16000 (other encodings are not requested by this client)."""
    if audio_format and audio_format.startswith("pcm_") and audio_format[4:].isdigit():
        return int(audio_format[4:])
    return SAMPLE_RATE


class ElevenLabsAgentEngine(ConnectedEngine):
    """One agent conversation per connection; re-opened with the history in the prompt after a drop."""

    def __init__(self, host: EngineHost, spec: AgentSpec) -> None:
        super().__init__(host, model=AGENT_MODEL, output_rate=spec.output_rate)
        self._spec = spec
        self._socket: Any = None
        self._input_rate = self._agent_rate = SAMPLE_RATE
        self._mark = 0  # tape sample where the user's next utterance may begin
        self._cut_up_to = -1  # audio events up to this id belong to an interrupted reply
        self._turn_end: tuple[float | None, float | None] = (None, None)
        self._user_turns = 0  # on this connection: replies before the first are greetings
        self._last_audio = 0.0
        self._billed_since = time.monotonic()
        self._messages: dict[str, Future[Message | None]] = {}
        self._keys = itertools.count(1)
        self._greeted = False
        self._sender: asyncio.Future[None] | None = None
        self._background: set[asyncio.Future[None]] = set()

    async def _converse(self) -> None:
        spec, host = self._spec, self._host
        history = await asyncio.wrap_future(host.worker.submit(self._history))
        first = initiation(
            prompt=host.options.system_prompt,
            history=history,
            # After a reconnect the agent must not greet again; first time, the user's greeting (if any).
            greeting="" if self._greeted else (host.greeting or None),
            language=spec.language,
            voice_id=spec.voice_id,
            user_name=host.user.name,
        )
        entered: Any = None
        try:
            async with connect(await self._url(), max_size=2**22) as socket:
                entered = socket
                await self._talk(socket, first)
        finally:
            abort_transport(entered)

    async def _talk(self, socket: Any, first: dict[str, Any]) -> None:
        self._socket, self._user_turns = socket, 0
        await socket.send(json.dumps(first))
        try:
            async for raw in socket:
                self._on_event(json.loads(raw))
        finally:
            self._socket = None
            if self._sender is not None:
                self._sender.cancel()

    async def _hang_up(self) -> None:
        if self._socket is not None:
            await self._socket.close()

    async def _url(self) -> str:
        spec = self._spec
        if spec.api_key:
            async with httpx.AsyncClient(base_url=spec.base_url, timeout=10) as client:
                response = await client.get(
                    defaults.ELEVENLABS_SIGNED_URL_PATH,
                    params={"agent_id": spec.agent_id},
                    headers={"xi-api-key": spec.api_key},
                )
                response.raise_for_status()
                return str(response.json()["signed_url"])
        socket_base = spec.base_url.replace("https://", "wss://", 1).replace("http://", "ws://", 1)
        return f"{socket_base}{defaults.ELEVENLABS_AGENT_PATH}?{urlencode({'agent_id': spec.agent_id})}"

    async def _send_audio(self, outbox: AudioOutbox) -> None:
        while True:
            pcm = resample(await outbox.get(), from_rate=SAMPLE_RATE, to_rate=self._input_rate)
            if self._socket is not None:
                await self._socket.send(json.dumps({"user_audio_chunk": base64.b64encode(pcm).decode()}))

    def _history(self) -> list[ContextMessage]:
        conversation_id = self._turns.conversation_id
        if conversation_id is None:
            return []
        store, user = self._host.store, self._host.user
        conversation = store.conversations.get(owner_id=user.id, conversation_id=conversation_id)
        return [m for m in store.context.load(conversation) if m.content.strip()]

    # Server events (on the loop) -------------------------------------------------------------------------

    def _on_event(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind == "conversation_initiation_metadata":
            meta = event.get("conversation_initiation_metadata_event", {})
            self._input_rate = _rate(meta.get("user_input_audio_format"))
            self._agent_rate = _rate(meta.get("agent_output_audio_format"))
            self._greeted = True
            outbox = self._connected()
            self._mark = self._host.tape.samples - outbox.samples
            self._sender = asyncio.ensure_future(self._send_audio(outbox))
        elif kind == "user_transcript":
            self._user_said(event.get("user_transcription_event", {}).get("user_transcript", ""))
        elif kind == "agent_response":
            text = event.get("agent_response_event", {}).get("agent_response", "")
            reply = self._current() or self._new_reply()
            reply.text = text
            self._host.view.replace_keyed(reply.key, TranscriptLine("assistant", text, key=reply.key))
        elif kind == "audio":
            self._audio(event.get("audio_event", {}))
        elif kind == "interruption":
            self._interrupted(event.get("interruption_event", {}))
        elif kind == "agent_response_correction":
            self._corrected(event.get("agent_response_correction_event", {}))
        elif kind == "ping":
            ping = event.get("ping_event", {})
            if self._socket is not None:
                pong = json.dumps({"type": "pong", "event_id": ping.get("event_id")})
                sending = asyncio.ensure_future(self._socket.send(pong))
                self._background.add(sending)
                sending.add_done_callback(self._background.discard)

    def _current(self) -> Reply | None:
        reply = self._reply
        return reply if reply is not None and not reply.finished else None

    def _new_reply(self) -> Reply:
        reply = self._begin_reply(
            f"agent-{next(self._keys)}", greeting=self._user_turns == 0, turn_end=self._turn_end
        )
        self._after_playback(reply, grace=REPLY_IDLE_SECONDS)
        return reply

    def _user_said(self, text: str) -> None:
        host = self._host
        if (reply := self._current()) is not None:
            self._finish(reply)
        pcm = trim_quiet(host.tape.between(self._mark, host.tape.samples))
        self._mark = host.tape.samples
        self._user_turns += 1
        ended_at = host.tape.last_offset
        decided = round((host.clock() - ended_at) * 1000, 1) if ended_at is not None else None
        self._turn_end = (ended_at, decided)
        host.view.append(TranscriptLine("user", text))
        host.view.update(state="thinking", error=None)
        self._admit_turn()
        host.worker.submit(self._turns.user_said, text, pcm)

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

    def _corrected(self, correction: dict[str, Any]) -> None:
        text = str(correction.get("corrected_agent_response", ""))
        reply = self._reply
        if reply is None:
            return
        reply.heard_text = text
        line = TranscriptLine("assistant", text, reply.interrupted, key=reply.key)
        self._host.view.replace_keyed(reply.key, line)
        stored = self._messages.get(reply.key)
        if stored is not None:
            turns = self._turns

            def correct() -> None:
                message = stored.result()
                if message is not None:
                    turns.corrected(message.id, text)

            self._host.worker.submit(correct)

    def _idle_for(self, reply: Reply) -> float:
        return time.monotonic() - self._last_audio if reply.pcm else 0.0

    def _stored(self, reply: Reply, message: Future[Message | None]) -> None:
        self._messages = {reply.key: message}  # only the newest reply can still be corrected
        self._bill(reply)

    def _closed(self) -> None:
        self._bill(None)

    def _bill(self, reply: Reply | None) -> None:
        """The call time since the last record, priced per minute (with the reply it ended on, if any)."""
        turn = reply is not None and not reply.greeting
        latency_ms = reply.voice_to_voice_ms() if reply is not None and turn else None
        spoken = reply.pushed_samples() / self._output_rate if reply is not None else 0.0
        status: UsageStatus = "ok"
        if reply is not None and (reply.interrupted or reply.failed):
            status = "interrupted" if reply.interrupted else "error"
        now = time.monotonic()
        seconds, self._billed_since = now - self._billed_since, now
        spec, turns = self._spec, self._turns
        self._host.worker.submit(
            lambda: turns.usage(
                provider="elevenlabs",
                model=AGENT_MODEL,
                status=status,
                audio_seconds=spoken,  # the agent's speech; the call time is what is priced
                cost_usd=spec.price_per_minute * seconds / 60,
                latency_ms=latency_ms,
                turn=turn,
            )
        )
