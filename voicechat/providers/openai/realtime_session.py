"""The OpenAI Realtime API as a conversation partner: the session configuration and the seeded history.

Shapes follow the GA Realtime API (checked against OpenAI's client-events reference on 2026-11-24): the
session is ``type: "realtime"`` with audio settings under ``audio.input`` / ``audio.output``; PCM is 24 kHz
16-bit mono; turn detection is ``server_vad`` (silence-based) or ``semantic_vad`` (eagerness-based), both
creating and interrupting responses by themselves.
"""

from __future__ import annotations

from typing import Any

from voicechat.models import ContextMessage
from voicechat.providers.openai.realtime_reader import FALLBACK_VOICE, REALTIME_VOICES, SPEED_RANGE
from voicechat.tools.earlier_calls import arguments_of, call_id, kept_steps, result_of
from voicechat.voices import OPENAI_AUDIO_RATE

PCM_FORMAT = {"type": "audio/pcm", "rate": OPENAI_AUDIO_RATE}


def turn_detection(
    kind: str, *, silence_ms: int, sensitivity: float, eagerness: str, barge_in: bool
) -> dict[str, Any]:
    """The ``turn_detection`` block: ``server_vad`` from the user's end-of-turn silence and sensitivity
    (a more sensitive detector has a lower threshold), or ``semantic_vad`` with the deployment's eagerness."""
    common = {"create_response": True, "interrupt_response": barge_in}
    if kind == "server_vad":
        return {
            "type": "server_vad",
            "threshold": round(min(0.95, max(0.05, 1.0 - sensitivity)), 2),
            "prefix_padding_ms": 300,
            "silence_duration_ms": silence_ms,
            **common,
        }
    return {"type": "semantic_vad", "eagerness": eagerness, **common}


def session_config(
    *,
    model: str,
    instructions: str,
    voice: str,
    speed: float,
    transcription_model: str,
    language: str | None,
    detection: dict[str, Any],
) -> dict[str, Any]:
    """The ``session`` of a ``session.update`` for a spoken conversation."""
    transcription: dict[str, Any] = {"model": transcription_model}
    if language:
        transcription["language"] = language
    low, high = SPEED_RANGE
    return {
        "type": "realtime",
        "model": model,
        "instructions": instructions,
        "output_modalities": ["audio"],
        "audio": {
            "input": {
                "format": PCM_FORMAT,
                "transcription": transcription,
                "turn_detection": detection,
                "noise_reduction": {"type": "near_field"},
            },
            "output": {
                "format": PCM_FORMAT,
                "voice": voice if voice in REALTIME_VOICES else FALLBACK_VOICE,
                "speed": min(high, max(low, speed)),
            },
        },
    }


def history_items(context: list[ContextMessage]) -> list[dict[str, Any]]:
    """Stored messages as ``conversation.item.create`` items (text: the model hears them as context), each
    reply after the function calls it made and their results (the oldest results drop first)."""
    kept = kept_steps(context)
    items: list[dict[str, Any]] = []
    for message in context:
        for index, step in enumerate(kept.get(message.id, ())):
            call = call_id(message.id, index)
            items.append(
                {"type": "function_call", "call_id": call, "name": step.name, "arguments": arguments_of(step)}
            )
            items.append({"type": "function_call_output", "call_id": call, "output": result_of(step)})
        part = "input_text" if message.role == "user" else "output_text"
        items.append(
            {"type": "message", "role": message.role, "content": [{"type": part, "text": message.content}]}
        )
    return items


def greeting_response(greeting: str, *, purpose: str = "greeting") -> dict[str, Any]:
    """An out-of-band response that says the user's greeting, or a notice about the call (``purpose``),
    word for word (kept out of the conversation's items)."""
    return {
        "conversation": "none",
        "output_modalities": ["audio"],
        "instructions": f"Say exactly this {purpose}, word for word, and nothing else: {greeting}",
        "input": [],
        "metadata": {"purpose": purpose},
    }
