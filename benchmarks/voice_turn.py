"""Push-to-talk turn timings against the fake providers, through the real engine, SDKs and database.

The fakes answer with fixed latencies (transcription 300 ms, first token 400 ms, 40 tokens/s; speech streams
as fast as the fake produces it), so what varies is our own work: decoding and validating the recording,
storing it, the database writes around each provider call, encoding and storing the spoken reply. Each phase
is timed; ``overhead`` is the turn's wall time minus the time spent waiting on providers.

The last line is one JSON object: ptt_turn_p50_ms, ptt_turn_p95_ms, ptt_overhead_p95_ms, decode_p95_ms,
speak_store_p95_ms. Usage: python benchmarks/voice_turn.py [--turns N]
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

from benchmarks.bench_env import bench_settings, bench_store
from tests.fakes.audio_samples import spoken_wav
from tests.fakes.openai_server import ChatScript, FakeOpenAI
from voicechat.audio.decode import decode_upload
from voicechat.models import VoicePreferences
from voicechat.providers.openai.client import make_client
from voicechat.providers.openai.llm import OpenAIChat
from voicechat.providers.speech_factory import recogniser_for, speaker_for
from voicechat.turns.push_to_talk import VoiceTurnService
from voicechat.turns.text import TurnOptions

STT_DELAY, FIRST_TOKEN_DELAY, TOKEN_DELAY = 0.3, 0.4, 1 / 40
REPLY = "Paris is the capital of France. It sits on the Seine and has about two million people."


def percentile(samples: list[float], q: float) -> float:
    return statistics.quantiles(samples, n=100)[int(q) - 1] if len(samples) > 1 else samples[0]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--turns", type=int, default=20)
    args = parser.parse_args()
    recording = spoken_wav("What is the capital of France, and how many people live there?", pad_seconds=0.3)
    fake = FakeOpenAI().start()
    with bench_store("bench_voice") as store:
        settings = bench_settings(fake.base_url)
        user = store.users.get_or_create(email="bench@example.com", name="Bench")
        service = VoiceTurnService(store=store, settings=settings)
        prefs = VoicePreferences()
        fake.transcription_delay = STT_DELAY
        phases: dict[str, list[float]] = {
            k: []
            for k in (
                "decode",
                "begin",
                "stt",
                "reply",
                "first_token",
                "speak",
                "tts_first_byte",
                "turn",
                "overhead",
            )
        }
        conversation_id = None
        try:
            for index in range(args.turns + 2):  # two warm-up turns
                fake.script_chat(
                    ChatScript(reply=REPLY, first_token_delay=FIRST_TOKEN_DELAY, token_delay=TOKEN_DELAY)
                )
                started = time.perf_counter()
                decode_upload(recording)
                decoded = time.perf_counter()
                turn = service.begin_voice_turn(
                    user=user,
                    conversation_id=conversation_id,
                    recording=recording,
                    options=TurnOptions(model=settings.chat_model, system_prompt=settings.system_prompt),
                    recogniser=recogniser_for(settings, prefs),
                    llm=OpenAIChat(client=make_client(settings)),
                )
                begun = time.perf_counter()
                "".join(turn.stream_reply())
                replied = time.perf_counter()
                assert turn.reply is not None
                spoken = service.speak_reply(
                    user=user,
                    reply=turn.reply,
                    speaker=speaker_for(settings, prefs, today=date(2026, 11, 24)),
                )
                ended = time.perf_counter()
                conversation_id = turn.conversation.id
                if index < 2 or spoken is None:
                    continue
                ms = lambda a, b: (b - a) * 1000  # noqa: E731
                stt = turn.user_message.metrics.stt_ms or 0.0
                provider_wait = stt + ms(begun, replied) + (spoken.message.metrics.tts_first_byte_ms or 0.0)
                phases["decode"].append(ms(started, decoded))
                phases["begin"].append(ms(decoded, begun))
                phases["stt"].append(stt)
                phases["reply"].append(ms(begun, replied))
                phases["first_token"].append(turn.reply.metrics.first_token_ms or 0.0)
                phases["speak"].append(ms(replied, ended))
                phases["tts_first_byte"].append(spoken.message.metrics.tts_first_byte_ms or 0.0)
                phases["turn"].append(ms(decoded, ended))
                phases["overhead"].append(ms(decoded, ended) - provider_wait)
        finally:
            fake.stop()
    fixed = f"fake STT {STT_DELAY * 1000:.0f} ms, first token {FIRST_TOKEN_DELAY * 1000:.0f} ms, 40 tokens/s"
    print(f"push-to-talk turns: {args.turns} ({fixed})")
    for name, samples in phases.items():
        print(f"  {name:15s} p50 {percentile(samples, 50):8.1f} ms   p95 {percentile(samples, 95):8.1f} ms")
    print(
        json.dumps(
            {
                "ptt_turn_p50_ms": round(percentile(phases["turn"], 50), 1),
                "ptt_turn_p95_ms": round(percentile(phases["turn"], 95), 1),
                "ptt_overhead_p95_ms": round(percentile(phases["overhead"], 95), 1),
                "decode_p95_ms": round(percentile(phases["decode"], 95), 1),
                "speak_store_p95_ms": round(percentile(phases["speak"], 95), 1),
            }
        )
    )


if __name__ == "__main__":
    main()
