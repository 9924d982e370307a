"""Offline engines on this machine: load times, speech-to-text and text-to-speech real-time factors, the local
chat model's first-token time and speed, and the voice-to-voice latency of an offline Talk-mode turn.

Everything runs in this process on the CPU (2 cores here): Whisper tiny.en (int8), hibari, SmolLM2-135M on
llama.cpp, Silero VAD, SecantusDB for storage. Talk turns are fed in real time (20 ms frames), so the
voice-to-voice figure includes the end-of-turn silence (600 ms by default). The last line is one JSON object.
Usage: python benchmarks/offline.py [--turns N]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1]))

from benchmarks.bench_env import bench_store
from benchmarks.live_latency import TimedOutput, feed_realtime, wait_for
from tests.fakes.audio_samples import silence_pcm
from voicechat.audio.pcm import resample
from voicechat.audio.vad import SileroVAD
from voicechat.config import Settings
from voicechat.models import VoicePreferences
from voicechat.providers.base import ChatMessage, ChatRequest, SpeechRequest, TranscriptionRequest
from voicechat.providers.local.chat import LOCAL_CHAT_MODEL, LocalChat
from voicechat.providers.local.models import shared_models
from voicechat.providers.local.recognition import LocalWhisper
from voicechat.providers.local.speech import LocalNeuralSpeech
from voicechat.talk.session import TalkSession
from voicechat.talk.setup import talk_setup
from voicechat.turns.text import TurnOptions

SENTENCES = [
    "What is the capital of France?",
    "Please book a table for four people at seven tonight.",
    "Can you remind me to call my sister tomorrow morning?",
    "The weather in Berlin is sunny and warm, with a light breeze from the west.",
]
QUESTIONS = ["What is the capital of France?", "Name a large animal.", "What colour is the sky?"]


def timed(action):  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    result = action()
    return result, time.perf_counter() - started


def speech_figures() -> dict[str, float]:
    engines = shared_models()
    voice, recogniser = LocalNeuralSpeech(engines), LocalWhisper(engines)
    tts_rtf, stt_rtf, first_chunk_ms = [], [], []
    for text in SENTENCES:
        started = time.perf_counter()
        with voice.synthesize(SpeechRequest(text=text, voice="heart", model="local")) as stream:
            pcm = b"".join(stream)
        seconds = len(pcm) / 2 / 24_000
        tts_rtf.append(seconds / (time.perf_counter() - started))
        first_chunk_ms.append(stream.first_byte_ms or 0.0)
        heard = resample(pcm, from_rate=24_000, to_rate=16_000)
        request = TranscriptionRequest(pcm=heard, sample_rate=16_000, model="whisper-tiny.en")
        _, took = timed(lambda request=request: recogniser.transcribe(request))
        stt_rtf.append(seconds / took)
    return {
        "tts_x_realtime": round(statistics.median(tts_rtf), 1),
        "tts_first_chunk_ms": round(statistics.median(first_chunk_ms), 1),
        "stt_x_realtime": round(statistics.median(stt_rtf), 1),
    }


def chat_figures() -> dict[str, float]:
    llm = LocalChat(shared_models())
    first, rates = [], []
    for question in QUESTIONS:
        request = ChatRequest(
            messages=(ChatMessage("system", "Answer in one short sentence."), ChatMessage("user", question)),
            model=LOCAL_CHAT_MODEL,
        )
        with llm.stream_chat(request) as stream:
            list(stream)
        assert stream.usage is not None and stream.first_token_ms is not None and stream.total_ms is not None
        first.append(stream.first_token_ms)
        generating = (stream.total_ms - stream.first_token_ms) / 1000
        rates.append((stream.usage.output_tokens - 1) / generating if generating > 0 else 0.0)
    return {
        "llm_first_token_ms": round(statistics.median(first), 1),
        "llm_tokens_per_s": round(statistics.median(rates), 1),
    }


def talk_figures(turns: int) -> dict[str, float]:
    settings = Settings.from_mapping({"VOICECHAT_LOCAL_ENGINES": "on"})
    voice = LocalNeuralSpeech(shared_models())
    v2v = []
    with bench_store("offline") as store:
        user = store.users.get_or_create(email="offline@example.com", name="Offline")
        for number in range(turns):
            question = QUESTIONS[number % len(QUESTIONS)]
            with voice.synthesize(SpeechRequest(text=question, voice="heart", model="local")) as stream:
                pcm = resample(b"".join(stream), from_rate=24_000, to_rate=16_000)
            setup = talk_setup(
                settings,
                user=user,
                preferences=VoicePreferences(stt_provider="local", tts_provider="local", language="en"),
                options=TurnOptions(model=LOCAL_CHAT_MODEL, system_prompt="Answer in one short sentence."),
                today=date(2026, 11, 24),
            )
            session = TalkSession(
                store=store, settings=settings, setup=setup, output=TimedOutput(), vad=SileroVAD()
            )
            try:
                feed_realtime(session, silence_pcm(0.3) + pcm + silence_pcm(1.5))
                snap = wait_for(session, lambda s: s.turns == 1 and s.state == "listening", timeout=120)
            finally:
                session.stop()
            assert snap.last_turn is not None and snap.last_turn.voice_to_voice_ms is not None
            v2v.append(snap.last_turn.voice_to_voice_ms)
            print(f"  offline talk turn {number + 1}: voice-to-voice {v2v[-1]:.0f} ms")
    return {"talk_voice_to_voice_ms_median": round(statistics.median(v2v), 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=3)
    turns = parser.parse_args().turns
    engines = shared_models()
    for load in (engines.recogniser, engines.synthesiser, engines.chat_model):
        load()
    figures: dict[str, float] = {f"load_{k.replace(' ', '_')}_s": v for k, v in engines.load_seconds.items()}
    figures |= speech_figures()
    figures |= chat_figures()
    figures |= talk_figures(turns)
    for name, value in figures.items():
        print(f"{name}: {value}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
