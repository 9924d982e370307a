"""Talk mode through OpenAI's Realtime API: one speech-to-speech model hears, decides turns and answers.

Everything runs on the session's loop with the SDK's asyncio client. The user's audio is resampled to
24 kHz and appended to the input buffer as it arrives. The server's ``input_audio_buffer.speech_started`` /
``speech_stopped`` mark the turns (their ``audio_*_ms`` positions map back onto our tape, for the stored clip
and the latencies); ``speech_stopped`` reports the user's utterance with its audio, and its transcript
follows. Reply audio is pushed to the browser as it arrives. When the user talks over a reply, playback is
cleared and ``conversation.item.truncate`` tells the model how much was heard. A dropped connection is
re-opened (with the stored history seeded back in) up to ``MAX_RECONNECTS`` times in a row.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, cast

import openai

from voicechat.audio.pcm import resample
from voicechat.models import ContextMessage, UsageStatus
from voicechat.providers.base import ToolCall
from voicechat.providers.openai.client import socket_options
from voicechat.providers.openai.realtime_session import greeting_response, history_items, session_config
from voicechat.providers.sockets import abort_transport, audio_append, parse_lightly, send_event
from voicechat.talk.engine import EngineHost, TalkEngine
from voicechat.talk.events import (
    EngineError,
    ReplyTextDelta,
    UsageMeasured,
    UserSpeechStopped,
    UserTranscript,
)
from voicechat.talk.runtime.user_audio import ms_to_samples
from voicechat.talk.speech_to_speech.connected import (
    FAILED_REPLY,
    AudioOutbox,
    ConnectedEngine,
    Speaking,
)
from voicechat.talk.speech_to_speech.tool_calls import EngineTools, content_of, realtime_tools
from voicechat.usage import Usage, chat_cost, transcription_cost
from voicechat.voices import OPENAI_AUDIO_RATE, TALK_RATE

log = logging.getLogger(__name__)
TRANSCRIPT_WAIT_SECONDS = 3.0  # how long a tool call waits for its utterance's transcript, at most
PRE_ROLL_SAMPLES = ms_to_samples(300)
# OpenAI's advice for voice agents: a short preamble before a tool call, so the caller is not left in silence.
PREAMBLE = (
    "Before you call a tool, say one short phrase such as 'Let me check.' so the caller knows you are on it."
)


@dataclass(frozen=True)
class RealtimeSpec:
    """Model, voice, transcription and turn detection of an OpenAI Realtime session."""

    client: Callable[[], openai.AsyncOpenAI]
    provider: str
    model: str
    voice: str
    speed: float
    transcription_model: str
    language: str | None
    detection: dict[str, Any]
    name: str = "openai-realtime"
    output_rate: int = OPENAI_AUDIO_RATE

    @property
    def label(self) -> str:
        """Engine, model and turn detection, for the page."""
        return f"OpenAI Realtime: {self.model} ({self.detection['type']})"

    def build(self, host: EngineHost) -> TalkEngine:
        """A Realtime engine for one session."""
        return OpenAIRealtimeEngine(host, self)


class OpenAIRealtimeEngine(ConnectedEngine):
    """One Realtime WebSocket per session (re-opened after a drop)."""

    def __init__(self, host: EngineHost, spec: RealtimeSpec) -> None:
        super().__init__(host, output_rate=OPENAI_AUDIO_RATE)
        self._spec = spec
        self._connection: Any = None
        self._base = 0  # tape sample at which this connection's input buffer starts
        self._speech_start: int | None = None
        self._ended_at: float | None = None  # when the user's last turn ended
        self._pending: dict[str, float] = {}  # utterances awaiting their transcript -> seconds of audio
        self._greeting_pending = bool(host.greeting)
        self._tools = EngineTools(host)
        self._calls: dict[str, list[ToolCall]] = {}  # response id -> the functions it called
        self._continues: dict[str, str] = {}  # a response after tool results -> the reply it continues
        self._awaiting_tools: Speaking | None = (
            None  # a reply whose calls run; the next response continues it
        )
        self._user_said = ""  # the user's last transcript (a confirm-first call runs on their yes)
        self._user_item = ""  # the newest utterance's item: a yes confirms only a call held before it
        self._transcripts: dict[str, asyncio.Event] = {}  # transcripts a tool call waits for, by item

    def announce(self, text: str) -> None:
        """See ``TalkEngine.announce``: an out-of-band response says it, outside the conversation."""
        connection = self._connection
        if connection is None:
            return
        notice = greeting_response(text, purpose="notice")  # known by its metadata when it is created
        self._spawn(connection.response.create(response=cast(Any, notice)))

    async def _converse(self) -> None:
        spec = self._spec
        entered: Any = None
        try:
            client = spec.client()
            options = socket_options(client)
            async with client.realtime.connect(
                model=spec.model, websocket_connection_options=options
            ) as connection:
                entered = connection
                parse_lightly(connection, TYPED_EVENTS)
                await self._talk(connection)
        finally:
            # The SDK's connection wraps a websockets one (``_connection``): make sure its socket is closed.
            abort_transport(getattr(entered, "_connection", None))

    async def _talk(self, connection: Any) -> None:
        await self._tools.prepare()
        await connection.session.update(session=cast(Any, self._session()))
        history = await asyncio.wrap_future(self._host.recorder.history())
        for item in history_items(history if self._tools.specs else [_without_steps(m) for m in history]):
            await connection.conversation.item.create(item=cast(Any, item))
        if self._greeting_pending:
            await connection.response.create(response=cast(Any, greeting_response(self._host.greeting)))
        outbox = self._connected()
        # The input buffer starts with the audio still waiting in the outbox.
        self._connection, self._base = connection, self._host.tape.samples - outbox.samples
        sender = asyncio.create_task(self._send_audio(connection, outbox))
        try:
            async for event in connection:
                self._on_event(event)
        finally:
            sender.cancel()
            self._connection = None

    def _closed(self) -> None:
        """Utterances whose transcript never came keep their audio and say why they have no text."""
        for item_id in list(self._pending):
            self._fill_in(item_id, None, "Not transcribed: the conversation ended first.")

    async def _hang_up(self) -> None:
        if self._connection is not None:
            await self._connection.close()

    async def _send_audio(self, connection: Any, outbox: AudioOutbox) -> None:
        while True:
            pcm = await outbox.get()
            audio = resample(pcm, from_rate=TALK_RATE, to_rate=OPENAI_AUDIO_RATE)
            await send_event(connection, audio_append(audio))

    def _session(self) -> dict[str, Any]:
        spec = self._spec
        config = session_config(
            model=spec.model,
            instructions=self._host.options.system_prompt + self._tools.instructions,
            voice=spec.voice,
            speed=spec.speed,
            transcription_model=spec.transcription_model,
            language=spec.language,
            detection=spec.detection,
        )
        if self._tools.specs:
            config["instructions"] += f"\n\n{PREAMBLE}"
            config["tools"] = realtime_tools(self._tools.specs)
            config["tool_choice"] = "auto"
        return config

    # Server events (on the loop) -------------------------------------------------------------------------

    def _on_event(self, event: Any) -> None:
        handler = _HANDLERS.get(event.type)
        if handler is not None:
            handler(self, event)

    def _speech_started(self, event: Any) -> None:
        self._speech_start = self._base + ms_to_samples(event.audio_start_ms)
        reply, host = self._reply, self._host
        cutting = reply is not None and not reply.finished and host.barge_in
        self._user_started(host.tape.arrival_of(self._speech_start))
        if cutting and reply is not None and reply.item_id and not reply.greeting and self._connection:
            played_ms = host.meter.played_samples() * 1000 // OPENAI_AUDIO_RATE
            self._spawn(
                self._connection.conversation.item.truncate(
                    item_id=reply.item_id, content_index=0, audio_end_ms=played_ms
                )
            )

    def _speech_stopped(self, event: Any) -> None:
        host = self._host
        end = self._base + ms_to_samples(event.audio_end_ms)
        start = self._speech_start if self._speech_start is not None else self._base
        pcm = host.tape.between(max(self._base, start - PRE_ROLL_SAMPLES), end)
        ended_at = host.tape.arrival_of(max(self._base, end - 1))
        decided = round((host.clock() - ended_at) * 1000, 1) if ended_at is not None else None
        self._ended_at, self._speech_start = ended_at, None
        # The newest utterance, transcribed or not: tools called from now on are called in its turn, and
        # until its own transcript comes the user has said nothing a held call could take as a yes.
        self._user_item, self._user_said = event.item_id, ""
        host.emit(UserSpeechStopped(event.item_id, pcm, ended_at=ended_at, end_of_turn_ms=decided))
        self._admit_turn()
        self._pending[event.item_id] = len(pcm) / 2 / TALK_RATE

    def _transcribed(self, event: Any) -> None:
        said = (event.transcript or "").strip()
        if event.item_id == self._user_item:  # a late transcript of an earlier utterance is not "the last"
            self._user_said = said
            self._tools.heard(said, event.item_id)
        self._fill_in(event.item_id, said, None)

    def _not_transcribed(self, event: Any) -> None:
        self._fill_in(event.item_id, None, "The voice engine could not transcribe this.")

    def _fill_in(self, item_id: str, text: str | None, error: str | None) -> None:
        if (heard := self._transcripts.pop(item_id, None)) is not None:
            heard.set()
        seconds = self._pending.pop(item_id, None)
        if seconds is None:
            return
        spec, prices = self._spec, self._host.settings.price_tables
        self._host.emit(UserTranscript(item_id, text, error=error))
        usage = Usage(
            kind="stt",
            provider=spec.provider,
            model=spec.transcription_model,
            status="ok" if text is not None else "error",
            audio_seconds=seconds,
            characters=len(text or ""),
            cost_usd=transcription_cost(model=spec.transcription_model, audio_seconds=seconds, prices=prices),
        )
        self._host.emit(UsageMeasured(usage))

    def _response_created(self, event: Any) -> None:
        purpose = _purpose(event.response)
        carried = self._awaiting_tools
        if purpose is None and carried is not None and not carried.finished and self._reply is carried:
            self._awaiting_tools = None
            self._continues[event.response.id] = carried.key  # the answer after its tools: the same reply
            return
        if purpose is not None:  # our own out-of-band response: the greeting or a notice, never a turn
            greeting = True
            self._greeting_pending = self._greeting_pending and purpose != "greeting"
        else:
            self._awaiting_tools = None
            greeting, self._greeting_pending = self._greeting_pending, False
        self._begin_reply(event.response.id, greeting=greeting, ended_at=None if greeting else self._ended_at)

    def _output_item(self, event: Any) -> None:
        if self._reply is not None and getattr(event.item, "type", None) == "message":
            self._reply.item_id = event.item.id

    def _output_item_done(self, event: Any) -> None:
        item = event.item
        if getattr(item, "type", None) == "function_call":
            call = ToolCall(id=item.call_id, name=item.name, arguments=item.arguments or "{}")
            self._calls.setdefault(event.response_id, []).append(call)

    def _owns(self, reply: Speaking, response_id: str) -> bool:
        """Whether ``response_id`` is (a continuation of) ``reply``."""
        return reply.key == self._continues.get(response_id, response_id)

    async def _answer_calls(self, reply: Speaking, calls: list[ToolCall]) -> None:
        """Run the calls, send their outputs, and ask for the answer that uses them. The user's words are
        those of their newest utterance: its transcript can come after the response, so it is awaited
        (briefly) before a held call could take them as its yes."""
        utterance = self._user_item
        if utterance in self._pending:
            self._transcripts.setdefault(utterance, asyncio.Event())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._transcripts[utterance].wait(), TRANSCRIPT_WAIT_SECONDS)
        said = self._user_said if utterance == self._user_item else ""
        results = await self._tools.run(reply.key, calls, said, utterance)
        connection = self._connection
        if connection is None:
            self._awaiting_tools = None
            self._finish(reply)
            return
        for call, result in zip(calls, results, strict=True):
            item = {"type": "function_call_output", "call_id": call.id, "output": content_of(result)}
            await connection.conversation.item.create(item=cast(Any, item))
        if reply.finished:  # talked over meanwhile: the user's next turn is answered instead
            self._awaiting_tools = None
            return
        await connection.response.create()

    def _audio(self, event: Any) -> None:
        reply = self._reply
        if reply is None or reply.finished or not self._owns(reply, event.response_id):
            return  # audio of a reply already cut off
        self._play(reply, base64.b64decode(event.delta))

    def _transcript_delta(self, event: Any) -> None:
        reply = self._reply
        if reply is not None and not reply.finished and self._owns(reply, event.response_id):
            self._host.emit(ReplyTextDelta(reply.key, event.delta))

    def _transcript_done(self, event: Any) -> None:
        reply = self._reply
        if (
            reply is not None
            and not reply.finished
            and self._owns(reply, event.response_id)
            and event.transcript
        ):
            reply.text = " ".join(filter(None, (reply.text, event.transcript)))  # kept when it ends

    def _response_done(self, event: Any) -> None:
        response = event.response
        reply = self._reply if self._reply is not None and self._owns(self._reply, response.id) else None
        failed = response.status == "failed"
        usage = response.usage
        inputs, outputs = (usage.input_tokens or 0, usage.output_tokens or 0) if usage else (0, 0)
        model = self._spec.model
        status: UsageStatus = "error" if failed else "interrupted" if response.status == "cancelled" else "ok"
        cost = chat_cost(
            model=model,
            input_tokens=inputs,
            output_tokens=outputs,
            prices=self._host.settings.price_tables.realtime,
        )
        billed = Usage(
            kind="realtime",
            provider=self._spec.provider,
            model=model,
            status=status,
            cost_usd=cost,
            input_tokens=inputs,
            output_tokens=outputs,
            audio_seconds=reply.pushed / OPENAI_AUDIO_RATE if reply else 0.0,
            latency_ms=reply.voice_to_voice_ms() if reply else None,
            turn=reply is not None and not reply.greeting and response.id not in self._continues,
        )
        self._host.emit(UsageMeasured(billed))
        if failed:
            log.warning("realtime response failed")
        calls = self._calls.pop(response.id, [])
        if reply is not None and not reply.finished and calls and not failed:
            self._awaiting_tools = reply  # the reply goes on once the tools answered
            self._spawn(self._answer_calls(reply, calls))
        elif reply is not None and not reply.finished:
            reply.failed = failed
            self._finish_when_played(reply)

    def _error(self, event: Any) -> None:
        error = event.error
        log.warning(
            "realtime error event: %s (%s)", getattr(error, "type", "?"), getattr(error, "code", None)
        )
        self._host.emit(EngineError(FAILED_REPLY))


_HANDLERS: dict[str, Callable[[OpenAIRealtimeEngine, Any], None]] = {
    "input_audio_buffer.speech_started": OpenAIRealtimeEngine._speech_started,
    "input_audio_buffer.speech_stopped": OpenAIRealtimeEngine._speech_stopped,
    "conversation.item.input_audio_transcription.completed": OpenAIRealtimeEngine._transcribed,
    "conversation.item.input_audio_transcription.failed": OpenAIRealtimeEngine._not_transcribed,
    "response.created": OpenAIRealtimeEngine._response_created,
    "response.output_item.added": OpenAIRealtimeEngine._output_item,
    "response.output_item.done": OpenAIRealtimeEngine._output_item_done,
    "response.output_audio.delta": OpenAIRealtimeEngine._audio,
    "response.output_audio_transcript.delta": OpenAIRealtimeEngine._transcript_delta,
    "response.output_audio_transcript.done": OpenAIRealtimeEngine._transcript_done,
    "response.done": OpenAIRealtimeEngine._response_done,
    "error": OpenAIRealtimeEngine._error,
}
# Read as the SDK's types: the handled events but the flat ones that come many times a second per reply.
STREAMED_EVENTS = {"response.output_audio.delta", "response.output_audio_transcript.delta"}
TYPED_EVENTS = frozenset(_HANDLERS) - STREAMED_EVENTS


def _purpose(response: Any) -> str | None:
    """The ``metadata.purpose`` of a response we asked for out of band (greeting, notice), if any."""
    metadata = getattr(response, "metadata", None)
    purpose = metadata.get("purpose") if isinstance(metadata, dict) else getattr(metadata, "purpose", None)
    return purpose if isinstance(purpose, str) else None


def _without_steps(message: ContextMessage) -> ContextMessage:
    """A message as context for a model that has no tools to have called."""
    return replace(message, tool_steps=())
