"""Hands-free latency: pipeline overhead, time to first audio against reply length, barge-in reaction.

Fake providers of fixed latency (transcription 300 ms, first token 400 ms, 40 tokens/s, speech first byte
200 ms, speech streamed at real-time rate), the real engine with Silero VAD, espeak-ng speech fed in real time
(20 ms frames), SecantusDB for storage. Prints each figure; the last line is one JSON object with
``overhead_p95_ms``, ``ttfa_ratio``, ``naive_ttfa_ratio``, ``barge_in_p95_ms``.

- overhead = voice-to-voice - (end-of-turn silence + STT + first-sentence LLM time + TTS first byte)
- ttfa_ratio = time to first audio for a 20-sentence reply / for a 1-sentence reply (median of trials); the
  naive ratio measures, with the same providers, full transcript -> full reply -> full synthesis.
Usage: python benchmarks/live_latency.py [--trials N]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1]))

from benchmarks.bench_env import bench_settings, bench_store
from tests.fakes.audio_samples import silence_pcm, spoken_wav
from tests.fakes.openai_server import ChatScript, FakeOpenAI
from voicechat.audio.decode import decode_upload
from voicechat.audio.vad import SileroVAD, VadParams
from voicechat.config import Settings
from voicechat.models import TurnMetrics, User, VoicePreferences
from voicechat.providers.base import ChatMessage, ChatRequest, SpeechRequest, TranscriptionRequest
from voicechat.providers.openai.client import make_client
from voicechat.providers.openai.llm import OpenAIChat
from voicechat.providers.speech_factory import recogniser_for, speaker_for
from voicechat.storage.store import Store
from voicechat.talk.session import TalkSession
from voicechat.talk.setup import talk_setup
from voicechat.talk.view import TalkSnapshot
from voicechat.turns.text import TurnOptions

STT_S, FIRST_TOKEN_S, TOKEN_S, TTS_FIRST_BYTE_S = 0.3, 0.4, 1 / 40, 0.2
ONE_SENTENCE = "Paris is the capital of France."
TWENTY_SENTENCES = " ".join(f"Point {n} is short." for n in range(1, 21))


class NullOutput:
    """The browser's track, minus the browser."""

    def push(self, pcm: bytes) -> None:
        pass

    def clear(self) -> None:
        pass


def p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20)[-1] if len(samples) > 1 else samples[0]


def feed_realtime(session: TalkSession, pcm: bytes) -> None:
    frame, started = 640, time.perf_counter()
    for index, start in enumerate(range(0, len(pcm), frame)):
        session.push_pcm(pcm[start : start + frame])
        delay = started + (index + 1) * 0.02 - time.perf_counter()
        if delay > 0:
            time.sleep(delay)


def wait_for(
    session: TalkSession, check: Callable[[TalkSnapshot], bool], timeout: float = 60
) -> TalkSnapshot:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check(snap := session.snapshot()):
            return snap
        time.sleep(0.005)
    raise TimeoutError(session.snapshot())


class Harness:
    def __init__(self, store: Store, settings: Settings, user: User) -> None:
        self.store, self.settings, self.user = store, settings, user
        self.params = VadParams()
        prefs = VoicePreferences()
        self.recogniser = recogniser_for(settings, prefs)
        self.voice = speaker_for(settings, prefs, today=date(2026, 11, 24))
        self.llm = OpenAIChat(client=make_client(settings))

    def session(self) -> TalkSession:
        options = TurnOptions(model=self.settings.chat_model, system_prompt="Be brief.")
        setup = talk_setup(
            self.settings,
            user=self.user,
            preferences=VoicePreferences(),
            options=options,
            today=date(2026, 11, 24),
        )
        return TalkSession(
            store=self.store,
            settings=self.settings,
            setup=setup,
            output=NullOutput(),
            output_rate=24_000,
            vad=SileroVAD(),
        )

    def naive_ttfa_ms(self, fake: FakeOpenAI, question: bytes, reply: str) -> float:
        """Full transcript -> full reply -> full synthesis, then the first audio (same providers)."""
        fake.script_chat(_script(reply))
        started = time.perf_counter()
        self.recogniser.stt.transcribe(
            TranscriptionRequest(pcm=question, sample_rate=16_000, model=self.recogniser.model)
        )
        request = ChatRequest(messages=(ChatMessage("user", "question"),), model=self.settings.chat_model)
        with self.llm.stream_chat(request) as stream:
            text = "".join(stream)
        with self.voice.tts.synthesize(
            SpeechRequest(text=text, voice="alloy", model=self.voice.model)
        ) as speech:
            for _ in speech:
                pass
        return self.params.stop_secs * 1000 + (time.perf_counter() - started) * 1000


def _script(reply: str) -> ChatScript:
    return ChatScript(reply=reply, first_token_delay=FIRST_TOKEN_S, token_delay=TOKEN_S)


def overhead_ms(m: TurnMetrics) -> float:
    parts = (m.end_of_turn_ms, m.stt_ms, m.first_sentence_ms, m.tts_first_byte_ms)
    assert m.voice_to_voice_ms is not None and all(p is not None for p in parts)
    return m.voice_to_voice_ms - sum(p for p in parts if p is not None)


def run(
    harness: Harness, fake: FakeOpenAI, question: bytes, interruption: bytes, trials: int
) -> dict[str, float]:
    silence = silence_pcm(harness.params.stop_secs + 0.3)
    overheads: list[float] = []
    ttfa: dict[str, list[float]] = {"one": [], "twenty": []}
    for trial in range(trials + 1):
        session = harness.session()
        try:
            fake.script_chat(_script(ONE_SENTENCE))
            feed_realtime(session, silence_pcm(0.3) + question + silence)
            snap = wait_for(session, lambda s: s.turns == 1 and s.state == "listening")
        finally:
            session.stop()
        if trial and snap.last_turn:  # the first trial warms up connections and the VAD
            overheads.append(overhead_ms(snap.last_turn))
            ttfa["one"].append(snap.last_turn.voice_to_voice_ms or 0.0)
    for _ in range(max(3, trials // 3)):
        session = harness.session()
        fake.script_chat(_script(TWENTY_SENTENCES))
        feed_realtime(session, silence_pcm(0.3) + question + silence)
        wait_for(session, lambda s: s.state == "speaking")
        session.stop()  # interrupts; the turn's metrics are final once stop() returns
        metrics = session.snapshot().last_turn
        assert metrics is not None
        ttfa["twenty"].append(metrics.voice_to_voice_ms or 0.0)
    naive = {
        "one": [harness.naive_ttfa_ms(fake, question, ONE_SENTENCE) for _ in range(2)],
        "twenty": [harness.naive_ttfa_ms(fake, question, TWENTY_SENTENCES) for _ in range(2)],
    }
    barge_ins: list[float] = []
    for _ in range(max(5, trials // 2)):
        session = harness.session()
        try:
            fake.script_chat(_script(TWENTY_SENTENCES))
            feed_realtime(session, silence_pcm(0.3) + question + silence)
            wait_for(session, lambda s: s.state == "speaking")
            time.sleep(0.5)
            feed_realtime(session, interruption + silence)
            snap = wait_for(session, lambda s: s.turns >= 1 and s.last_turn is not None)
        finally:
            session.stop()
        if snap.last_turn and snap.last_turn.barge_in_ms is not None:
            barge_ins.append(snap.last_turn.barge_in_ms)
    one, twenty = statistics.median(ttfa["one"]), statistics.median(ttfa["twenty"])
    naive_one, naive_twenty = statistics.median(naive["one"]), statistics.median(naive["twenty"])
    lines = [
        f"voice-to-voice, 1-sentence reply: median {one:.0f} ms; 20 sentences: {twenty:.0f} ms",
        f"naive pipeline, first audio: 1 sentence {naive_one:.0f} ms; 20 sentences {naive_twenty:.0f} ms",
        f"pipeline overhead: p50 {statistics.median(overheads):.1f} ms, p95 {p95(overheads):.1f} ms "
        f"({len(overheads)} turns)",
        f"barge-in reaction (speech onset -> playback cleared): p50 {statistics.median(barge_ins):.0f} ms, "
        f"p95 {p95(barge_ins):.0f} ms",
    ]
    print("\n".join(lines))
    return {
        "overhead_p95_ms": round(p95(overheads), 1),
        "ttfa_ratio": round(twenty / one, 3),
        "naive_ttfa_ratio": round(naive_twenty / naive_one, 3),
        "barge_in_p95_ms": round(p95(barge_ins), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=12)
    args = parser.parse_args()
    question = decode_upload(spoken_wav("What is the capital of France?")).pcm
    interruption = decode_upload(spoken_wav("Wait, stop, tell me about Berlin instead.")).pcm
    fake = FakeOpenAI().start()
    fake.transcription_delay, fake.speech_first_byte_delay, fake.speech_realtime = (
        STT_S,
        TTS_FIRST_BYTE_S,
        True,
    )
    try:
        with bench_store("bench_live") as store:
            settings = bench_settings(fake.base_url)
            user = store.users.get_or_create(email="bench@example.com", name="Bench")
            figures = run(Harness(store, settings, user), fake, question, interruption, args.trials)
    finally:
        fake.stop()
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
