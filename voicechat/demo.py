"""Ninety days of believable use, written through the library's own repositories, so history, search and the
dashboard can be tried at once (``make demo``; the README's screenshots are taken on it).

Several people on two tiers; typed, push-to-talk and Talk turns with their usage priced like real calls;
replies cut short by barge-in; tool calls; a provider outage day whose replies failed; thumbs up and down
with comments. Deterministic (a fixed seed), and dated into the past.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, time, timedelta

from voicechat.models import MessageStatus, ToolStep, TurnMetrics, UsageEvent, User
from voicechat.storage.store import Store

PEOPLE = (
    ("maya@example.com", "Maya Chen", "pro"),
    ("tom@example.com", "Tom Okafor", "default"),
    ("ines@example.com", "Inès Moreau", "default"),
    ("raj@example.com", "Raj Patel", "pro"),
    ("lena@example.com", "Lena Vogel", "default"),
)
TOPICS = (
    (
        "Trip to Lisbon",
        "What should I pack for three days in Lisbon in October?",
        "Layers, comfortable shoes for the hills, and a light rain jacket; evenings by the river get cool.",
    ),
    (
        "Incident review",
        "Summarise yesterday's checkout incident for the team.",
        "Checkout latency rose above 2 seconds for 40 minutes after a cache node failed; traffic moved to "
        "the spare, and alerts now fire sooner.",
    ),
    (
        "Quarterly planning",
        "What did we decide about the Q1 roadmap?",
        "You agreed to ship voice search first, "
        "then the billing export, and to postpone the mobile redesign to Q2.",
    ),
    (
        "Recipe ideas",
        "Something quick with chickpeas and spinach?",
        "A fifteen-minute stew: garlic, cumin, "
        "chickpeas, tomatoes, then spinach until it wilts. Lemon and yoghurt on top.",
    ),
    ("Learning Spanish", "How do I say I'd like a table for two?", "Quisiera una mesa para dos, por favor."),
    (
        "Code review",
        "Is a retry with exponential backoff enough for the flaky upload?",
        "Add jitter and a cap, and make the upload idempotent so a retried request cannot store twice.",
    ),
    (
        "Running plan",
        "Plan three runs a week for a 10k in eight weeks.",
        "One easy run, one interval session and "
        "one long run; add a kilometre to the long run each week and ease off in the last one.",
    ),
)
MODELS = ("gpt-6-luna", "gpt-6.1-terra")
NEGATIVE = ("Too long for a spoken answer.", "It got the date wrong.", "Missed the point of my question.")


def seed(
    store: Store, *, days: int = 90, today: datetime | None = None, seed_value: int = 7
) -> dict[str, int]:
    """Write ``days`` days of use ending ``today``; returns what was written (conversations, messages...)."""
    rng = random.Random(seed_value)
    end = (today or datetime.now(UTC)).replace(hour=0, minute=0, second=0, microsecond=0)
    admin = store.users.get_or_create(email="local@localhost", name="Local user", admin=True)
    people = []
    for email, name, tier in PEOPLE:
        person = store.users.get_or_create(email=email, name=name)
        people.append(
            store.users.set_access(
                acting=admin, user_id=person.id, role="user", tier=tier, tiers=("default", "pro")
            )
        )
    outage = end - timedelta(days=rng.randrange(min(10, days), max(min(days, 40), min(10, days) + 1)))
    counts = {"conversations": 0, "messages": 0, "events": 0, "ratings": 0}
    for back in range(days, -1, -1):
        day = end - timedelta(days=back)
        weekend = day.weekday() >= 5
        for person in people:
            for _ in range(rng.choice((0, 1, 1, 2) if not weekend else (0, 0, 1))):
                _conversation(store, rng, person, day, failed=day == outage, counts=counts)
    return counts


def _conversation(
    store: Store, rng: random.Random, person: User, day: datetime, *, failed: bool, counts: dict[str, int]
) -> None:
    title, question, answer = rng.choice(TOPICS)
    model = rng.choice(MODELS)
    way = rng.choice(("typed", "typed", "push-to-talk", "talk"))
    at = datetime.combine(day.date(), time(rng.randrange(8, 20), rng.randrange(60)), tzinfo=UTC)
    conversation = store.conversations.create(owner_id=person.id, title=title, model=model, at=at)
    counts["conversations"] += 1
    events: list[UsageEvent] = []
    for turn in range(rng.randrange(1, 4)):
        at += timedelta(minutes=rng.randrange(1, 5))
        voice = way != "typed"
        asked = (
            question
            if turn == 0
            else rng.choice(("Tell me more.", "Can you make it shorter?", "Thanks, and what else?"))
        )
        store.conversations.add_message(
            owner_id=person.id,
            conversation_id=conversation.id,
            role="user",
            content=asked,
            is_voice=voice,
            at=at,
        )
        status: MessageStatus = (
            "failed" if failed else "interrupted" if way == "talk" and rng.random() < 0.2 else "complete"
        )
        said = "" if failed else answer if status == "complete" else answer.split(",")[0] + "…"
        steps = (
            (ToolStep("current_time", "{}", f"{at:%A %d %B %Y, %H:%M} (UTC)", "ok", 3.0),)
            if rng.random() < 0.1
            else ()
        )
        first_token = rng.gauss(450, 80)
        metrics = TurnMetrics(
            first_token_ms=round(first_token, 1),
            voice_to_voice_ms=round(first_token + rng.gauss(480, 90), 1) if way == "talk" else None,
        )
        reply = store.conversations.add_message(
            owner_id=person.id,
            conversation_id=conversation.id,
            role="assistant",
            content=said or "(no reply: the provider was down)",
            status=status,
            is_voice=voice,
            interrupted=status == "interrupted",
            model=model,
            error="ProviderUnavailable" if failed else None,
            metrics=metrics,
            tool_steps=steps,
            at=at + timedelta(seconds=3),
        )
        counts["messages"] += 2
        events.extend(
            _usage(
                rng,
                person,
                conversation_id=conversation.id,
                model=model,
                way=way,
                at=at,
                failed=failed,
                interrupted=status == "interrupted",
            )
        )
        if not failed and rng.random() < 0.15:
            down = rng.random() < 0.35
            store.feedback.rate(
                owner_id=person.id,
                message_id=reply.id,
                rating="down" if down else "up",
                comment=rng.choice(NEGATIVE) if down else None,
            )
            counts["ratings"] += 1
    store.usage.record_many(events)
    counts["events"] += len(events)


def _usage(
    rng: random.Random,
    person: User,
    *,
    conversation_id: str,
    model: str,
    way: str,
    at: datetime,
    failed: bool,
    interrupted: bool,
) -> list[UsageEvent]:
    tokens_in, tokens_out = rng.randrange(200, 1200), rng.randrange(40, 300)
    chat = UsageEvent(
        user_id=person.id,
        conversation_id=conversation_id,
        kind="chat",
        provider="openai",
        model=model,
        status="error" if failed else "interrupted" if interrupted else "ok",
        input_tokens=0 if failed else tokens_in,
        output_tokens=0 if failed else tokens_out,
        cost_usd=0.0 if failed else (tokens_in * 1.25 + tokens_out * 10) / 1e6,
        latency_ms=None if failed else round(rng.gauss(450, 80), 1),
        created_at=at,
    )
    events = [chat]
    if way != "typed" and not failed:
        seconds = rng.uniform(2, 12)
        events.append(
            UsageEvent(
                user_id=person.id,
                conversation_id=conversation_id,
                kind="stt",
                provider="openai",
                model="gpt-transcribe",
                audio_seconds=seconds,
                cost_usd=seconds / 60 * 0.003,
                latency_ms=round(rng.gauss(300, 50), 1),
                created_at=at,
            )
        )
        spoken = rng.uniform(3, 20)
        events.append(
            UsageEvent(
                user_id=person.id,
                conversation_id=conversation_id,
                kind="tts",
                provider="openai",
                model="gpt-4o-mini-tts",
                audio_seconds=spoken,
                characters=int(spoken * 15),
                cost_usd=spoken / 60 * 0.015,
                latency_ms=round(rng.gauss(220, 40), 1),
                created_at=at,
            )
        )
    return events
