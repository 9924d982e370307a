"""Storage benchmark on the embedded server (SecantusDB): history page, search, last page, cost chart.

Seeds 100,000 messages in 2,000 conversations for one user and 1,000,000 usage events over 90 days, then
prints latencies. The last line is one JSON object: history_page_p95_ms, search_p95_ms, last_page_ms,
cost_chart_ms. Usage: python benchmarks/storage.py [--events N] [--messages N]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from bson import ObjectId

sys.path.insert(0, str(Path(__file__).parents[1]))

from tests.fakes.servers import MongoServer
from voicechat.dashboard import build_report
from voicechat.models import UsageEvent
from voicechat.storage.cache import MemoryContextCache
from voicechat.storage.database import Database
from voicechat.storage.search import terms_of
from voicechat.storage.store import Store

VOCABULARY = [f"w{i:04d}" for i in range(3000)] + ["weather", "paris", "recipe", "budget", "python"]
KINDS = ["chat", "stt", "tts", "realtime"]
MODELS = {
    "chat": "gpt-6-luna",
    "stt": "gpt-4o-mini-transcribe",
    "tts": "gpt-4o-mini-tts",
    "realtime": "gpt-realtime",
}


def timed(fn: Callable[[], object], runs: int) -> list[float]:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20)[-1] if len(samples) >= 2 else samples[0]


def seed_messages(
    store: Store, user_id: str, conversations: int, messages: int, rng: random.Random
) -> list[str]:
    owner = ObjectId(user_id)
    start = datetime(2026, 8, 1, tzinfo=UTC)
    conv_ids = [ObjectId() for _ in range(conversations)]
    per_conv = messages // conversations
    conv_docs = []
    for i, cid in enumerate(conv_ids):
        updated = start + timedelta(minutes=i * 60 + rng.random())
        conv_docs.append(
            {
                "_id": cid,
                "owner_id": owner,
                "title": f"conversation {i}",
                "created_at": start,
                "updated_at": updated,
                "message_count": per_conv,
                "has_voice": i % 3 == 0,
                "model": "gpt-6-luna",
                "system_prompt": None,
                "last_message_id": None,
            }
        )
    store.db.run(lambda db: db.conversations.insert_many(conv_docs))
    batch = []
    for n in range(messages):
        cid = conv_ids[n % conversations]
        words = rng.choices(VOCABULARY, k=rng.randint(8, 20))
        content = " ".join(words)
        batch.append(
            {
                "_id": ObjectId(),
                "conversation_id": cid,
                "owner_id": owner,
                "role": "user" if n % 2 == 0 else "assistant",
                "content": content,
                "terms": terms_of(content),
                "created_at": start + timedelta(seconds=n),
                "status": "complete",
                "is_voice": False,
                "audio_id": None,
                "interrupted": False,
                "metrics": {},
            }
        )
        if len(batch) == 10_000:
            store.db.run(lambda db, docs=batch: db.messages.insert_many(docs, ordered=False))
            batch = []
    if batch:
        store.db.run(lambda db: db.messages.insert_many(batch, ordered=False))
    return [str(c) for c in conv_ids]


def seed_usage(store: Store, users: list[str], events: int, rng: random.Random) -> None:
    end = datetime(2026, 11, 24, tzinfo=UTC)
    batch: list[UsageEvent] = []
    for _ in range(events):
        kind = rng.choice(KINDS)
        batch.append(
            UsageEvent(
                user_id=rng.choice(users),
                kind=kind,
                provider="openai",
                model=MODELS[kind],  # type: ignore[arg-type]
                status="ok" if rng.random() > 0.02 else "error",
                input_tokens=rng.randint(10, 900),
                output_tokens=rng.randint(5, 400),
                cost_usd=rng.random() / 1000,
                created_at=end - timedelta(seconds=rng.randint(0, 90 * 86400)),
            )
        )
        if len(batch) == 100_000:
            store.usage.record_many(batch)
            batch = []
    store.usage.record_many(batch)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--conversations", type=int, default=2_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()
    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as tmp:
        server = MongoServer(Path(tmp)).start()
        db = Database.connect(server.uri + "bench")
        try:
            db.ensure_indexes()
            store = Store.over(db, cache=MemoryContextCache(), context_size=30)
            user = store.users.get_or_create(email="bench@example.com", name="Bench")
            admin = store.users.get_or_create(email="admin@example.com", name="Admin", admin=True)
            others = [store.users.get_or_create(email=f"u{i}@example.com", name="u").id for i in range(49)]
            t0 = time.perf_counter()
            conv_ids = seed_messages(store, user.id, args.conversations, args.messages, rng)
            print(f"seeded {args.messages:,} messages in {time.perf_counter() - t0:.1f} s", flush=True)
            t0 = time.perf_counter()
            seed_usage(store, [user.id, *others], args.events, rng)
            print(f"seeded {args.events:,} usage events in {time.perf_counter() - t0:.1f} s", flush=True)

            history = timed(lambda: store.conversations.list_page(owner_id=user.id), args.runs)
            cursor = store.conversations.list_page(owner_id=user.id).next_cursor
            later = timed(lambda: store.conversations.list_page(owner_id=user.id, cursor=cursor), args.runs)
            owner = ObjectId(user.id)
            queries = ["weather", "paris weather", "w0042", "recipe budget python", "w1234 w2345"]
            search = [
                s
                for q in queries
                for s in timed(lambda q=q: store.search.search(owner_id=user.id, query=q), args.runs // 5)
            ]
            # A conversation of 500 messages: append to one, then load its last page.
            long_id = conv_ids[0]
            extra = [
                {
                    "_id": ObjectId(),
                    "conversation_id": ObjectId(long_id),
                    "owner_id": owner,
                    "role": "user",
                    "content": "more",
                    "terms": ["more"],
                    "created_at": datetime.now(UTC),
                    "status": "complete",
                }
                for _ in range(500 - args.messages // args.conversations)
            ]
            if extra:
                store.db.run(lambda db: db.messages.insert_many(extra))
            last_page = timed(
                lambda: store.conversations.messages_page(owner_id=user.id, conversation_id=long_id),
                args.runs,
            )
            end = date(2026, 11, 24)
            chart = timed(lambda: store.usage.daily_by_model(start=end - timedelta(days=89), end=end), 10)
            dashboard = timed(
                lambda: build_report(store, acting=admin, start=end - timedelta(days=29), end=end), 5
            )
            figures = {
                "history_page_p95_ms": round(p95(history), 1),
                "history_next_page_p95_ms": round(p95(later), 1),
                "search_p95_ms": round(p95(search), 1),
                "search_p50_ms": round(statistics.median(search), 1),
                "history_page_p50_ms": round(statistics.median(history), 1),
                "last_page_ms": round(statistics.median(last_page), 1),
                "cost_chart_ms": round(statistics.median(chart), 1),
                "dashboard_30d_ms": round(statistics.median(dashboard), 1),
            }
            for key, value in figures.items():
                print(f"{key:>26}: {value}")
            print(f"{'load average (1, 5, 15 min)':>26}: {os.getloadavg()}")
            print(json.dumps(figures))
        finally:
            db.close()
            server.stop()


if __name__ == "__main__":
    main()
