"""The ElevenLabs Agents conversation WebSocket: its messages and how to reach an agent.

Checked against the Agents WebSocket reference on 2026-11-24:

- sent: ``conversation_initiation_client_data`` (prompt, first message, language and voice overrides, the
  ``user_name`` dynamic variable), ``user_audio_chunk``, ``pong``, ``client_tool_result``;
- received: ``conversation_initiation_metadata`` (audio formats), ``user_transcript``, ``agent_response``,
  ``agent_response_correction``, ``audio``, ``interruption``, ``ping``, ``client_tool_call`` (a client tool
  the agent declares: run here when it is one of ours); others are ignored.

With an API key the connection uses a signed URL (private agents); without one it connects to a public agent
by id.
"""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import urlencode

import httpx

from voicechat import defaults
from voicechat.models import ContextMessage
from voicechat.voices import TALK_RATE

HISTORY_MESSAGES = 12  # the most recent messages put back into the prompt after a reconnect


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


def audio_rate(audio_format: str | None) -> int:
    """``pcm_16000`` -> 16000 (other encodings are not requested by this client)."""
    if audio_format and audio_format.startswith("pcm_") and audio_format[4:].isdigit():
        return int(audio_format[4:])
    return TALK_RATE


def user_audio(pcm: bytes) -> str:
    """A ``user_audio_chunk`` message."""
    return json.dumps({"user_audio_chunk": base64.b64encode(pcm).decode()})


def client_tool_result(tool_call_id: str, result: str, *, is_error: bool) -> str:
    """The answer to a ``client_tool_call``."""
    return json.dumps(
        {"type": "client_tool_result", "tool_call_id": tool_call_id, "result": result, "is_error": is_error}
    )


def pong(event_id: object) -> str:
    """The answer to a ``ping``."""
    return json.dumps({"type": "pong", "event_id": event_id})


async def agent_url(*, base_url: str, agent_id: str, api_key: str | None) -> str:
    """Where to open the conversation: a signed URL with a key (private agents), else the public one."""
    if api_key:
        async with httpx.AsyncClient(base_url=base_url, timeout=10) as client:
            response = await client.get(
                defaults.ELEVENLABS_SIGNED_URL_PATH,
                params={"agent_id": agent_id},
                headers={"xi-api-key": api_key},
            )
            response.raise_for_status()
            return str(response.json()["signed_url"])
    socket_base = base_url.replace("https://", "wss://", 1).replace("http://", "ws://", 1)
    return f"{socket_base}{defaults.ELEVENLABS_AGENT_PATH}?{urlencode({'agent_id': agent_id})}"
