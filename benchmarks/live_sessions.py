"""How many hands-free sessions one process carries on this machine with frame-processing lag p95 under 20 ms.

Each session gets browser-shaped audio in real time (48 kHz stereo 16-bit frames of 20 ms through
``push_frame``, as aiortc delivers them): a spoken question, then silence, over and over, so every session
keeps taking turns (transcription, reply, speech, storage). The fake provider runs in its own process (as a
remote API would), and so does SecantusDB. Lag = a frame's arrival -> its VAD and turn-taking done on the
session's loop. The last line is one JSON object with ``max_sessions``.
With ``--engine openai-realtime`` each session streams its audio to the fake Realtime WebSocket instead
(resampling, base64, one WebSocket message per frame, and the server's events on the same loop).
Every session of the process runs on the one shared audio loop (``talk.runtime.audio_loop``). It also prints
the process's resident memory idle (``rss_mb_idle``: imports, models, no call) and per session
(``rss_mb_per_session``: the growth with the largest count measured, divided by it).
Usage: python benchmarks/live_sessions.py [--seconds S] [--counts 5,10,20] [--engine cascaded|openai-realtime]
       [--silence 2]  (the seconds of silence after each question; the target is measured with 2)
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import threading
import time
from datetime import date
from pathlib import Path

import av
import numpy as np

sys.path.insert(0, str(Path(__file__).parents[1]))

from benchmarks.bench_env import bench_settings, bench_store, fake_provider_process
from tests.fakes.audio_samples import silence_pcm, spoken_wav
from voicechat.audio.decode import decode_upload
from voicechat.audio.smart_turn import load_turn_model
from voicechat.config import Settings
from voicechat.models import VoicePreferences
from voicechat.storage.store import Store
from voicechat.talk.session import TalkSession
from voicechat.talk.setup import talk_setup
from voicechat.turns.text import TurnOptions

LAG_TARGET_MS = 20.0
RSS_IDLE: list[float] = [0.0]
PER_SESSION: list[float] = []
FRAME = 960  # 20 ms at 48 kHz


class NullOutput:
    def push(self, pcm: bytes) -> None:
        pass

    def clear(self) -> None:
        pass


def browser_frames(silence: float = 2.0) -> list[np.ndarray]:
    """A question then ``silence`` seconds, as 48 kHz stereo s16 frames (interleaved, aiortc's shape)."""
    pcm = decode_upload(spoken_wav("What is the capital of France?"), sample_rate=48_000).pcm + silence_pcm(
        silence, sample_rate=48_000
    )
    mono = np.frombuffer(pcm, dtype="<i2")
    mono = mono[: len(mono) - len(mono) % FRAME]
    stereo = np.repeat(mono, 2)
    return [stereo[i * 2 * FRAME : (i + 1) * 2 * FRAME].reshape(1, -1) for i in range(len(mono) // FRAME)]


def frame_of(samples: np.ndarray) -> av.AudioFrame:
    frame = av.AudioFrame.from_ndarray(samples, format="s16", layout="stereo")
    frame.sample_rate = 48_000
    return frame


def thread_cpu_seconds() -> dict[str, float]:
    """CPU seconds used so far by this process's threads, by kind (their name without a ``-<n>`` ending)."""
    names = {thread.native_id: thread.name for thread in threading.enumerate()}
    ticks = os.sysconf("SC_CLK_TCK")
    used: dict[str, float] = {}
    for task in Path("/proc/self/task").iterdir():
        try:
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the thread ended meanwhile
        name = names.get(int(task.name), "native")
        kind = re.sub(r"[-_]\d+(_\d+)?$", "", name)
        used[kind] = used.get(kind, 0.0) + (int(fields[11]) + int(fields[12])) / ticks
    return used


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine has been busy (all cores, all processes), from /proc/stat."""
    fields = [int(f) for f in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def cpu_shares(before: dict[str, float], after: dict[str, float], seconds: float) -> str:
    """Each kind of thread's CPU over ``seconds``, as % of one core, the busiest first."""
    shares = {kind: (after[kind] - before.get(kind, 0.0)) / seconds * 100 for kind in after}
    busiest = sorted(shares.items(), key=lambda item: -item[1])
    return ", ".join(f"{kind} {share:.0f}%" for kind, share in busiest if share >= 1)


def turn_model_ms() -> float | None:
    """This machine's speed, for comparing counts across machines: the median time of one end-of-turn model
    inference (None without the model). The same figure was 43-64 ms on one 2-core machine, 125-175 on
    another, whose counts were about half."""
    model = load_turn_model()
    if model is None:
        return None
    times = []
    for _ in range(7):
        started = time.perf_counter()
        model(b"\0\0" * 16_000 * 3)  # its cost does not depend on what it hears (always the last 8 s)
        times.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(times), 1)


def rss_mb() -> float:
    """This process's resident memory in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def measure(
    count: int,
    seconds: float,
    store: Store,
    settings: Settings,
    frames: list[np.ndarray],
    *,
    engine: str = "cascaded",
) -> list[float]:
    user = store.users.get_or_create(email=f"load{count}@example.com", name="Load")
    options = TurnOptions(model=settings.chat_model, system_prompt="Be brief.")
    sessions = []
    for _ in range(count):
        preferences = VoicePreferences(talk_engine=engine)  # type: ignore[arg-type]
        setup = talk_setup(
            settings, user=user, preferences=preferences, options=options, today=date(2026, 11, 24)
        )
        sessions.append(TalkSession(store=store, settings=settings, setup=setup, output=NullOutput()))
    stop = threading.Event()

    def feed() -> None:
        started, tick = time.perf_counter(), 0
        offsets = [i * 37 % len(frames) for i in range(count)]  # sessions speak out of phase
        while not stop.is_set():
            for index, session in enumerate(sessions):
                session.push_frame(frame_of(frames[(offsets[index] + tick) % len(frames)]))
            tick += 1
            delay = started + tick * 0.02 - time.perf_counter()
            if delay > 0:
                time.sleep(delay)

    feeder = threading.Thread(target=feed, name="feeder", daemon=True)
    feeder.start()
    time.sleep(2.0)  # the part of the run the lags below skip
    cpu_before, busy_before, cpu_started = thread_cpu_seconds(), machine_busy_seconds(), time.perf_counter()
    time.sleep(seconds - 2.0)
    elapsed = time.perf_counter() - cpu_started
    cpu = cpu_shares(cpu_before, thread_cpu_seconds(), elapsed)
    machine = (machine_busy_seconds() - busy_before) / elapsed * 100
    stop.set()
    feeder.join()
    lags = [lag for session in sessions for lag in session.frame_lags_ms()[100:]]  # skip the first 2 s
    turns = sum(session.snapshot().turns for session in sessions)
    grown = rss_mb() - RSS_IDLE[0]
    for session in sessions:
        session.stop()
    print(
        f"  {count:3d} sessions: lag p50 {statistics.median(lags):6.2f} ms, p95 {p95(lags):6.2f} ms, "
        f"max {max(lags):7.1f} ms, {turns} turns answered, {grown / count:.2f} MB per session"
    )
    print(f"       CPU (% of a core): the machine {machine:.0f}%, this process's threads: {cpu}")
    PER_SESSION.append(grown / count)
    return lags


def warm_up(store: Store, settings: Settings, frames: list[np.ndarray], *, engine: str) -> None:
    """One short call first, so the idle figure includes the models and libraries a call loads."""
    measure(1, 3.0, store, settings, frames, engine=engine)
    PER_SESSION.clear()


def p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20)[-1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--counts", default="5,10,20,25,30,40")
    parser.add_argument("--engine", default="cascaded", choices=["cascaded", "openai-realtime"])
    parser.add_argument(
        "--silence",
        type=float,
        default=2.0,
        help="seconds between questions (2: a turn every ~4.4 s, the target's pace; 6 leaves time to hear"
        " a 3-4 s reply, a conversation's pace)",
    )
    args = parser.parse_args()
    frames = browser_frames(args.silence)
    spoken = len(frames) * FRAME / 48_000 - args.silence
    print(f"each session asks a {spoken:.1f} s question, then {args.silence:g} s of silence, over and over")
    reference = turn_model_ms()
    print(f"this machine: one end-of-turn model inference takes {reference} ms (median of 7)")
    best = 0
    with fake_provider_process() as base_url, bench_store("bench_sessions") as store:
        settings = bench_settings(base_url)
        warm_up(store, settings, frames, engine=args.engine)
        RSS_IDLE[0] = rss_mb()
        for count in (int(c) for c in args.counts.split(",")):
            if p95(measure(count, args.seconds, store, settings, frames, engine=args.engine)) < LAG_TARGET_MS:
                best = count
            else:
                break
    print(f"most sessions with frame lag p95 under {LAG_TARGET_MS:.0f} ms: {best}")
    key = "max_sessions" if args.engine == "cascaded" else "max_sessions_realtime"
    figures = {
        "engine": args.engine,
        key: best,
        "rss_mb_idle": round(RSS_IDLE[0], 1),
        "turn_model_ms": reference,
    }
    if args.silence != 2.0:
        figures["silence_s"] = args.silence
    figures["rss_mb_per_session"] = round(PER_SESSION[-1], 2) if PER_SESSION else None
    print(f"resident memory: {RSS_IDLE[0]:.0f} MB idle")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
