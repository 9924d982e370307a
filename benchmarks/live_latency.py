"""Hands-free latency: voice-to-voice, end of turn, false cuts, pipeline overhead, long replies, barge-in.

The standard fakes (../shared/BENCHMARKS.md): file transcription 300 ms; streaming transcription a delta every
200 ms of audio and the final transcript 150 ms after commit; chat first token 400 ms then 40 tokens/s; speech
first byte 200 ms, streamed at real-time rate. The real engine with Silero VAD and the Smart Turn model, the
default (balanced) patience, SecantusDB for storage. User speech is the turn-ending set the benchmark builds
(``turn_set``: the local voice), fed in real time in 20 ms frames. Times are measured from the fed audio:

- voice-to-voice: the end of the user's last word -> the first reply audio pushed to the output track
- end of turn: the end of the last word -> the turn decided (the call shows "thinking")
- false cut: a turn decided inside a sentence's deliberate mid-clause pause (300-600 ms)
- overhead: voice-to-voice - the speech fake's first byte - whichever the reply waited for last: the end of
  the turn, or its first words (the last word -> the chat request, printed as "reply requested", + the chat
  fake's latency for the words spoken first)
- ttfa_ratio: voice-to-voice for a 20-sentence reply / for a 1-sentence reply (medians); the naive ratio
  measures full transcript -> full reply -> full synthesis with the same providers
- tool_extra_v2v_ms: voice-to-voice of a turn whose model first calls an instant built-in tool (the time),
  minus the same turn without it (medians; no filler: the tool answers long before the filler would be said);
  tool_overhead_ms: that, less the fake model's own second round (a first token of 400 ms again)
Prints each figure; the last line is one JSON object.
Usage: python benchmarks/live_latency.py [--trials N]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1]))

from benchmarks.bench_env import bench_settings, bench_store
from benchmarks.turn_set import Clip, mid_clause, questions
from tests.fakes.audio_samples import silence_pcm, spoken_wav
from tests.fakes.openai_server import ChatScript, FakeOpenAI
from voicechat import defaults
from voicechat.audio.decode import decode_upload
from voicechat.audio.vad import SileroVAD
from voicechat.config import Settings
from voicechat.models import User, VoicePreferences
from voicechat.providers.base import ChatMessage, ChatRequest, SpeechRequest, TranscriptionRequest
from voicechat.providers.openai.client import make_client
from voicechat.providers.openai.llm import OpenAIChat
from voicechat.providers.speech_factory import recogniser_for, speaker_for
from voicechat.sentences import SentenceSplitter
from voicechat.storage.store import Store
from voicechat.talk.session import TalkSession
from voicechat.talk.setup import talk_setup
from voicechat.talk.view import TalkSnapshot
from voicechat.turns.text import TurnOptions

STT_S, LIVE_FINAL_S, FIRST_TOKEN_S, TOKEN_S, TTS_FIRST_BYTE_S = 0.3, 0.15, 0.4, 1 / 40, 0.2
ONE_SENTENCE = "Paris is the capital of France."
TWENTY_SENTENCES = " ".join(f"Point {n} is short." for n in range(1, 21))
LEAD, AFTER = 0.3, defaults.PATIENCE_PAUSES_MS["balanced"][1] / 1000 + 0.3  # silence before and after a turn
TODAY = date(2026, 11, 24)


class TimedOutput:
    """The browser's track, minus the browser: when the first audio of a reply was pushed (wall clock)."""

    def __init__(self) -> None:
        self.first_push: float | None = None

    def push(self, pcm: bytes) -> None:
        if self.first_push is None and pcm:
            self.first_push = time.time()

    def clear(self) -> None:
        pass


class Decisions:
    """Watches a session from its own thread: when it first showed "thinking" (the turn decided)."""

    def __init__(self, session: TalkSession) -> None:
        self.decided: float | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, args=(session,), daemon=True)
        self._thread.start()

    def _watch(self, session: TalkSession) -> None:
        while not self._stop.is_set() and self.decided is None:
            if session.snapshot().state == "thinking":
                self.decided = time.time()
            time.sleep(0.001)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(2)


def p50(samples: list[float]) -> float:
    return statistics.median(samples)


def p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20)[-1] if len(samples) > 1 else samples[0]


def feed_realtime(session: TalkSession, pcm: bytes) -> float:
    """Push 20 ms frames at real-time pace; returns the wall time the first frame was pushed."""
    frame, started, wall = 640, time.perf_counter(), time.time()
    for index, start in enumerate(range(0, len(pcm), frame)):
        session.push_pcm(pcm[start : start + frame])
        delay = started + (index + 1) * 0.02 - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
    return wall


def wait_for(
    session: TalkSession, check: Callable[[TalkSnapshot], bool], timeout: float = 60
) -> TalkSnapshot:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check(snap := session.snapshot()):
            return snap
        time.sleep(0.005)
    raise TimeoutError(session.snapshot())


def chat_latency_s(reply: str) -> float:
    """The chat fake's own time until the first piece of ``reply`` we speak is complete."""
    splitter = SentenceSplitter(
        max_chars=defaults.LIVE_CLAUSE_CHARS, first_clause_chars=defaults.FIRST_CLAUSE_CHARS
    )
    tokens = [w if i == 0 else " " + w for i, w in enumerate(reply.split(" "))]
    for index, token in enumerate(tokens):
        if splitter.push(token):
            return FIRST_TOKEN_S + index * TOKEN_S
    return FIRST_TOKEN_S + (len(tokens) - 1) * TOKEN_S  # spoken once the stream ends


class Harness:
    def __init__(self, store: Store, settings: Settings, user: User, fake: FakeOpenAI) -> None:
        self.store, self.settings, self.user, self.fake = store, settings, user, fake
        prefs = VoicePreferences()
        self.recogniser = recogniser_for(settings, prefs)
        self.voice = speaker_for(settings, prefs, today=TODAY)
        self.llm = OpenAIChat(client=make_client(settings))

    def session(self, output: TimedOutput) -> TalkSession:
        options = TurnOptions(model=self.settings.chat_model, system_prompt="Be brief.")
        setup = talk_setup(
            self.settings, user=self.user, preferences=VoicePreferences(), options=options, today=TODAY
        )
        return TalkSession(
            store=self.store,
            settings=self.settings,
            setup=setup,
            output=output,
            output_rate=24_000,
            vad=SileroVAD(),
        )

    def turn(self, clip: Clip, reply: str, *, tool: bool = False) -> dict[str, float]:
        """One question answered (with ``tool``: after one instant tool call): its figures (ms)."""
        self.fake.live_transcription.texts.extend(clip.parts)
        self.fake.script_chat(_tool_script(reply) if tool else _script(reply, repeat=True))
        output = TimedOutput()
        session = self.session(output)
        decisions = Decisions(session)
        try:
            started = feed_realtime(session, silence_pcm(LEAD) + clip.pcm + silence_pcm(AFTER))
            snap = wait_for(session, lambda s: s.turns == 1 and s.state == "listening")
            pushed = output.first_push or 0.0
            asked = [r.received_at for r in self.fake.chat_requests() if r.received_at < pushed]
        finally:
            decisions.stop()
            session.stop()
            self.fake.reset_chat()
        last_word = started + LEAD + clip.last_word_end
        metrics = snap.last_turn
        assert output.first_push and decisions.decided and asked and metrics and metrics.tts_first_byte_ms
        v2v = (output.first_push - last_word) * 1000
        requested = (asked[-1] - last_word) * 1000
        eot = (decisions.decided - last_word) * 1000
        return {
            "v2v": v2v,
            "eot": eot,
            "requested": requested,
            # The reply waits for whichever comes last: its first words, or the end of the turn.
            "overhead": v2v - max(requested + chat_latency_s(reply) * 1000, eot) - metrics.tts_first_byte_ms,
        }

    def cut(self, clip: Clip) -> bool:
        """Whether the mid-clause pause ended a turn (the sentence came out as two turns)."""
        self.fake.live_transcription.texts.extend(clip.parts)
        self.fake.script_chat(_script("All right.", repeat=True))
        session = self.session(TimedOutput())
        try:
            feed_realtime(session, silence_pcm(LEAD) + clip.pcm + silence_pcm(AFTER))
            snap = wait_for(
                session,
                lambda s: s.turns >= 1 and s.state == "listening" and s.turns == _user_lines(s),
            )
        finally:
            session.stop()
            self.fake.reset_chat()
            self.fake.live_transcription.texts.clear()
        cut = _user_lines(snap) > 1
        if cut:
            print(f"  cut: {clip.parts[0]!r} / {clip.parts[1]!r}")
        return cut

    def naive_ttfa_ms(self, question: bytes, reply: str) -> float:
        """Full transcript -> full reply -> full synthesis, then the first audio (same providers)."""
        self.fake.script_chat(_script(reply))
        started = time.perf_counter()
        self.recogniser.stt.transcribe(
            TranscriptionRequest(pcm=question, sample_rate=16_000, model=self.recogniser.model)
        )
        request = ChatRequest(messages=(ChatMessage("user", "question"),), model=self.settings.chat_model)
        with self.llm.stream_chat(request) as stream:
            text = "".join(stream)
        speaking = SpeechRequest(text=text, voice="alloy", model=self.voice.model)
        with self.voice.tts.synthesize(speaking) as speech:
            for _ in speech:
                pass
        silence_wait = defaults.DEFAULT_END_OF_TURN_SILENCE_MS
        return silence_wait + (time.perf_counter() - started) * 1000

    def barge_in_ms(self, clip: Clip, interruption: bytes) -> float | None:
        self.fake.live_transcription.texts.extend(clip.parts)
        self.fake.script_chat(_script(TWENTY_SENTENCES, repeat=True))
        session = self.session(TimedOutput())
        try:
            feed_realtime(session, silence_pcm(LEAD) + clip.pcm + silence_pcm(AFTER))
            wait_for(session, lambda s: s.state == "speaking")
            time.sleep(0.5)
            feed_realtime(session, interruption + silence_pcm(AFTER))
            snap = wait_for(session, lambda s: s.turns >= 1 and s.last_turn is not None)
        finally:
            session.stop()
            self.fake.reset_chat()
            self.fake.live_transcription.texts.clear()
        return snap.last_turn.barge_in_ms if snap.last_turn else None


def _user_lines(snap: TalkSnapshot) -> int:
    return sum(1 for line in snap.transcript if line.role == "user")


def _script(reply: str, *, repeat: bool = False) -> ChatScript:
    return ChatScript(reply=reply, first_token_delay=FIRST_TOKEN_S, token_delay=TOKEN_S, repeat=repeat)


def _tool_script(reply: str) -> ChatScript:
    """The model calls an instant built-in tool (the time), then answers ``reply`` at the same pace."""
    return replace(_script(reply, repeat=True), tool_calls=(("current_time", {}),), after_tools=reply)


def run(harness: Harness, trials: int) -> dict[str, float]:
    asked, paused = questions(), mid_clause()
    figures: dict[str, list[float]] = {"v2v": [], "eot": [], "requested": [], "overhead": []}
    for trial in range(trials + 1):
        turn = harness.turn(asked[trial % len(asked)], ONE_SENTENCE)
        if trial:  # the first trial warms up connections and the models
            for name, value in turn.items():
                figures[name].append(value)
    twenty = [
        harness.turn(asked[n % len(asked)], TWENTY_SENTENCES)["v2v"] for n in range(max(3, trials // 3))
    ]
    with_tool = [
        harness.turn(asked[n % len(asked)], ONE_SENTENCE, tool=True)["v2v"]
        for n in range(max(6, trials // 2) + 1)
    ][1:]  # the first warms up the tool path
    cuts = [harness.cut(clip) for clip in paused]
    naive = {
        "one": [harness.naive_ttfa_ms(asked[0].pcm, ONE_SENTENCE) for _ in range(2)],
        "twenty": [harness.naive_ttfa_ms(asked[0].pcm, TWENTY_SENTENCES) for _ in range(2)],
    }
    interruption = decode_upload(spoken_wav("Wait, stop, tell me about Berlin instead.")).pcm
    barge_ins = [
        b
        for n in range(max(5, trials // 2))
        if (b := harness.barge_in_ms(asked[n % len(asked)], interruption)) is not None
    ]
    one = p50(figures["v2v"])
    tool_extra = p50(with_tool) - one
    lines = [
        f"load average {os.getloadavg()[0]:.2f}; {len(figures['v2v'])} questions, "
        f"{len(paused)} mid-clause pauses",
        f"voice-to-voice (1-sentence reply): p50 {one:.0f} ms, p95 {p95(figures['v2v']):.0f} ms; "
        f"20 sentences: p50 {p50(twenty):.0f} ms",
        f"end of turn after the last word: p50 {p50(figures['eot']):.0f} ms, "
        f"p95 {p95(figures['eot']):.0f} ms",
        f"reply requested after the last word: p50 {p50(figures['requested']):.0f} ms",
        f"false cuts: {sum(cuts)} of {len(cuts)} mid-clause pauses",
        f"naive pipeline, first audio: 1 sentence {p50(naive['one']):.0f} ms; "
        f"20 sentences {p50(naive['twenty']):.0f} ms",
        f"pipeline overhead: p50 {p50(figures['overhead']):.1f} ms, p95 {p95(figures['overhead']):.1f} ms",
        f"barge-in reaction (speech onset -> playback cleared): p50 {p50(barge_ins):.0f} ms, "
        f"p95 {p95(barge_ins):.0f} ms",
        f"one instant tool call: voice-to-voice p50 {p50(with_tool):.0f} ms, {tool_extra:+.0f} ms over the "
        f"same turn without a tool; {tool_extra - FIRST_TOKEN_S * 1000:+.0f} ms beyond the fake model's own "
        f"second round ({FIRST_TOKEN_S * 1000:.0f} ms first token)",
    ]
    print("\n".join(lines))
    return {
        "v2v_p50_ms": round(one, 1),
        "eot_p50_ms": round(p50(figures["eot"]), 1),
        "false_cut_rate": round(sum(cuts) / len(cuts), 3),
        "overhead_p95_ms": round(p95(figures["overhead"]), 1),
        "ttfa_ratio": round(p50(twenty) / one, 3),
        "naive_ttfa_ratio": round(p50(naive["twenty"]) / p50(naive["one"]), 3),
        "barge_in_p95_ms": round(p95(barge_ins), 1),
        "tool_extra_v2v_ms": round(tool_extra, 1),
        "tool_overhead_ms": round(tool_extra - FIRST_TOKEN_S * 1000, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=12)
    args = parser.parse_args()
    print(
        f"standard fakes: transcription {STT_S * 1000:.0f} ms (file) / final {LIVE_FINAL_S * 1000:.0f} ms "
        f"after commit (live); first token {FIRST_TOKEN_S * 1000:.0f} ms, {1 / TOKEN_S:.0f} tokens/s; "
        f"speech first byte {TTS_FIRST_BYTE_S * 1000:.0f} ms"
    )
    fake = FakeOpenAI().start()
    fake.transcription_delay, fake.speech_first_byte_delay, fake.speech_realtime = (
        STT_S,
        TTS_FIRST_BYTE_S,
        True,
    )
    fake.live_transcription.completed_delay = LIVE_FINAL_S
    try:
        with bench_store("bench_live") as store:
            settings = bench_settings(fake.base_url)
            user = store.users.get_or_create(email="bench@example.com", name="Bench")
            figures = run(Harness(store, settings, user, fake), args.trials)
    finally:
        fake.stop()
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
