"""Contract suite for the repositories: runs on SecantusDB (and on MONGODB_URI when set), with each cache."""

from __future__ import annotations

import functools
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest
from pymongo.errors import DuplicateKeyError

from voicechat.errors import InvalidInput, NotAllowed, NotFound
from voicechat.models import ContextMessage, ToolStep, TurnMetrics, UsageEvent, User
from voicechat.storage.cache import MemoryContextCache
from voicechat.storage.database import Database, parse_id
from voicechat.storage.documents import MessageChange
from voicechat.storage.store import Store
from voicechat.storage.users import Identity, migrate_users


@pytest.fixture
def alice(store: Store) -> User:
    return store.users.get_or_create(email="Alice@Example.com", name="Alice")


@pytest.fixture
def bob(store: Store) -> User:
    return store.users.get_or_create(email="bob@example.com", name="Bob")


def test_users_are_created_once_per_identity(store: Store, alice: User) -> None:
    again = store.users.get_or_create(email="alice@example.com", name="Alice B")
    assert again.id == alice.id and again.email == "alice@example.com" and again.role == "user"
    assert store.users.get_or_create(email="alice@example.com", name="A", admin=True).is_admin
    with pytest.raises(DuplicateKeyError):
        store.db.run(lambda db: db.users.insert_one({"identity": "local|alice@example.com"}))


def _signed(issuer: str, subject: str, email: str, *, verified: bool = True) -> Identity:
    return Identity(issuer=issuer, subject=subject, email=email, email_verified=verified, name=email)


def test_the_same_email_from_another_issuer_is_another_account(store: Store) -> None:
    corp = store.users.sign_in(_signed("https://id.corp", "u-1", "boss@corp.example"), listed_admin=True)
    stranger = store.users.sign_in(
        _signed("https://other.example", "x-9", "boss@corp.example"), listed_admin=False
    )
    assert corp.id != stranger.id and corp.is_admin and not stranger.is_admin
    again = store.users.sign_in(_signed("https://id.corp", "u-1", "new@corp.example"), listed_admin=False)
    assert again.id == corp.id and again.email == "new@corp.example"  # same person, new address


def test_a_listed_admin_loses_the_role_when_unlisted_but_a_promoted_admin_keeps_it(store: Store) -> None:
    listed = store.users.sign_in(_signed("https://id.corp", "l-1", "listed@corp.example"), listed_admin=True)
    boss = store.users.sign_in(_signed("https://id.corp", "b-1", "boss@corp.example"), listed_admin=True)
    worker = store.users.sign_in(_signed("https://id.corp", "w-1", "worker@corp.example"), listed_admin=False)
    store.users.set_access(acting=boss, user_id=worker.id, role="admin", tier="default", tiers=())
    listed_again = store.users.sign_in(
        _signed("https://id.corp", "l-1", "listed@corp.example"), listed_admin=False
    )
    worker_again = store.users.sign_in(
        _signed("https://id.corp", "w-1", "worker@corp.example"), listed_admin=False
    )
    assert listed.is_admin and not listed_again.is_admin
    assert worker_again.is_admin


def test_an_account_from_before_identities_is_claimed_by_its_verified_email(store: Store) -> None:
    store.db.run(
        lambda db: db.users.insert_one(
            {"email": "old@corp.example", "name": "Old", "role": "user", "tier": "pro"}
        )
    )
    migrate_users(store.db)
    unverified = store.users.sign_in(
        _signed("https://id", "o-1", "old@corp.example", verified=False), listed_admin=False
    )
    assert unverified.tier == "default"  # an unverified address claims nothing
    claimed = store.users.sign_in(_signed("https://id", "o-2", "old@corp.example"), listed_admin=False)
    assert claimed.tier == "pro" and claimed.name == "old@corp.example"


def test_conversation_round_trip_and_counters(store: Store, alice: User) -> None:
    conv = store.conversations.create(owner_id=alice.id, title="Trip", model="gpt-6-luna")
    first = store.conversations.add_message(
        owner_id=alice.id, conversation_id=conv.id, role="user", content="Hi"
    )
    store.conversations.add_message(
        owner_id=alice.id, conversation_id=conv.id, role="assistant", content="Hello", is_voice=True
    )
    loaded = store.conversations.get(owner_id=alice.id, conversation_id=conv.id)
    assert loaded.message_count == 2 and loaded.has_voice and loaded.updated_at >= conv.updated_at
    page = store.conversations.messages_page(owner_id=alice.id, conversation_id=conv.id)
    assert [m.content for m in page.items] == ["Hi", "Hello"] and page.next_cursor is None
    assert page.items[0].id == first.id


def test_foreign_and_malformed_ids_are_not_found(store: Store, alice: User, bob: User) -> None:
    conv = store.conversations.create(owner_id=alice.id, title="Private")
    for bad in (conv.id, "nope", "0" * 24, "", "64b0c0ffee" * 3, None, {"$ne": None}):
        with pytest.raises(NotFound):
            store.conversations.get(owner_id=bob.id, conversation_id=bad)  # type: ignore[arg-type]
    with pytest.raises(NotFound):
        store.conversations.add_message(owner_id=bob.id, conversation_id=conv.id, role="user", content="x")
    with pytest.raises(NotFound):
        store.conversations.rename(owner_id=bob.id, conversation_id=conv.id, title="Mine now")
    with pytest.raises(NotFound):
        store.delete_conversation(owner_id=bob.id, conversation_id=conv.id)
    with pytest.raises(NotFound):
        store.conversations.messages_page(owner_id=bob.id, conversation_id=conv.id)
    assert store.conversations.get(owner_id=alice.id, conversation_id=conv.id).title == "Private"


def test_history_pages_newest_first_without_gaps(store: Store, alice: User, bob: User) -> None:
    ids = [store.conversations.create(owner_id=alice.id, title=f"c{i}").id for i in range(7)]
    store.conversations.create(owner_id=bob.id, title="not alice's")
    # Touch c2 so it becomes the newest.
    store.conversations.add_message(owner_id=alice.id, conversation_id=ids[2], role="user", content="again")
    seen: list[str] = []
    cursor = None
    while True:
        page = store.conversations.list_page(owner_id=alice.id, cursor=cursor, limit=3)
        seen.extend(c.title for c in page.items)
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == ["c2", "c6", "c5", "c4", "c3", "c1", "c0"]
    with pytest.raises(NotFound):
        store.conversations.list_page(owner_id=alice.id, cursor="garbage")


def test_history_pages_survive_identical_timestamps(store: Store, alice: User) -> None:
    same = datetime(2026, 1, 1, tzinfo=UTC)
    ids = [store.conversations.create(owner_id=alice.id, title=f"t{i}").id for i in range(5)]
    store.db.run(lambda db: db.conversations.update_many({}, {"$set": {"updated_at": same}}))
    pages = []
    cursor = None
    for _ in range(5):
        page = store.conversations.list_page(owner_id=alice.id, cursor=cursor, limit=2)
        pages.extend(c.id for c in page.items)
        cursor = page.next_cursor
        if cursor is None:
            break
    assert sorted(pages) == sorted(ids) and len(pages) == 5


def test_message_pages_walk_backwards(store: Store, alice: User) -> None:
    conv = store.conversations.create(owner_id=alice.id, title="long")
    for i in range(12):
        store.conversations.add_message(
            owner_id=alice.id, conversation_id=conv.id, role="user", content=f"m{i}"
        )
    last = store.conversations.messages_page(owner_id=alice.id, conversation_id=conv.id, limit=5)
    assert [m.content for m in last.items] == ["m7", "m8", "m9", "m10", "m11"]
    older = store.conversations.messages_page(
        owner_id=alice.id, conversation_id=conv.id, before=last.next_cursor, limit=5
    )
    assert [m.content for m in older.items] == ["m2", "m3", "m4", "m5", "m6"]


def a_clip(store: Store, owner_id: str, conversation_id: str) -> str:
    """A small stored clip of the conversation."""
    return store.audio.put(
        owner_id=owner_id,
        conversation_id=conversation_id,
        data=b"ID3" * 10,
        content_type="audio/mpeg",
        duration_seconds=1.0,
    )


def test_a_message_is_filled_in_and_given_its_audio_by_its_owner_only(
    store: Store, alice: User, bob: User
) -> None:
    conv = store.conversations.create(owner_id=alice.id, title="voice")
    pending = store.conversations.add_message(
        owner_id=alice.id, conversation_id=conv.id, role="user", content="", status="pending", is_voice=True
    )
    clip = a_clip(store, alice.id, conv.id)
    store.conversations.attach_audio(owner_id=alice.id, message_id=pending.id, audio_id=clip)
    amend = store.conversations.amend_message
    change = MessageChange(content="penguins in winter", status="complete", metrics=TurnMetrics(stt_ms=120.0))
    amend(owner_id=alice.id, message_id=pending.id, change=change)
    [filled] = store.conversations.messages_page(owner_id=alice.id, conversation_id=conv.id).items
    amend(
        owner_id=alice.id,
        message_id=pending.id,
        change=MessageChange(metrics=TurnMetrics(first_token_ms=300.0)),
    )
    [timed] = store.conversations.messages_page(owner_id=alice.id, conversation_id=conv.id).items
    # What is stored: earlier changes, the audio, and both timings merged.
    assert (filled.content, filled.status, filled.audio_id) == ("penguins in winter", "complete", clip)
    assert (timed.content, timed.audio_id, timed.metrics.stt_ms, timed.metrics.first_token_ms) == (
        "penguins in winter",
        clip,
        120.0,
        300.0,
    )
    assert [h.message_id for h in store.search.search(owner_id=alice.id, query="penguins")] == [pending.id]
    for owner, message_id in ((bob.id, pending.id), (alice.id, "0" * 24), (alice.id, "nope")):
        with pytest.raises(NotFound):
            store.conversations.attach_audio(owner_id=owner, message_id=message_id, audio_id=clip)
        with pytest.raises(NotFound):
            amend(owner_id=owner, message_id=message_id, change=MessageChange(status="failed"))
        with pytest.raises(NotFound):
            amend(owner_id=owner, message_id=message_id, change=MessageChange())
    page = store.conversations.messages_page(owner_id=alice.id, conversation_id=conv.id)
    assert [(m.status, m.audio_id) for m in page.items] == [("complete", clip)]  # Bob changed nothing


def test_a_message_added_without_reading_the_conversation_again_still_goes_only_to_its_live_owner(
    store: Store, alice: User, bob: User
) -> None:
    # owner_checked skips the ownership read (Talk turns add two messages each); the count's update still
    # refuses someone else's conversation, or a deleted one, and takes the message back out.
    mine = store.conversations.create(owner_id=alice.id, title="mine")
    theirs = store.conversations.create(owner_id=bob.id, title="theirs")
    add = functools.partial(store.conversations.add_message, role="user", content="hi", owner_checked=True)
    added = add(owner_id=alice.id, conversation_id=mine.id)
    assert store.conversations.get(owner_id=alice.id, conversation_id=mine.id).last_message_id == added.id
    with pytest.raises(NotFound):
        add(owner_id=alice.id, conversation_id=theirs.id)
    store.conversations.mark_deleted(owner_id=alice.id, conversation_id=mine.id)
    with pytest.raises(NotFound):
        add(owner_id=alice.id, conversation_id=mine.id)
    left = store.db.run(lambda db: db.messages.count_documents({}))
    assert left == 1  # only the first; nothing was written to Bob's, nor after the delete
    assert store.conversations.get(owner_id=bob.id, conversation_id=theirs.id).message_count == 0


def test_a_change_applied_to_a_message_is_the_message_then_stored(store: Store, alice: User) -> None:
    # Talk turns amend messages without reading them back, trusting applied_to to say what is stored.
    conv = store.conversations.create(owner_id=alice.id, title="voice")
    message = store.conversations.add_message(
        owner_id=alice.id,
        conversation_id=conv.id,
        role="assistant",
        content="Penguins live",
        is_voice=True,
        metrics=TurnMetrics(end_of_turn_ms=40.0),
    )
    clip = a_clip(store, alice.id, conv.id)
    step = ToolStep(name="current_time", arguments="{}", result="noon", status="ok")
    changes = (
        MessageChange(metrics=TurnMetrics(first_token_ms=300.0, total_ms=900.0)),
        MessageChange(content="Penguins", status="interrupted", interrupted=True, audio_id=clip),
        MessageChange(error="cut", tool_steps=(step,), metrics=TurnMetrics(total_ms=950.0)),
    )
    for change in changes:
        store.conversations.amend_message(owner_id=alice.id, message_id=message.id, change=change)
        message = change.applied_to(message)
        [stored] = store.conversations.messages_page(owner_id=alice.id, conversation_id=conv.id).items
        assert replace(message, created_at=stored.created_at) == stored
    assert (message.metrics.end_of_turn_ms, message.metrics.first_token_ms, message.metrics.total_ms) == (
        40.0,
        300.0,
        950.0,
    )
    assert [h.message_id for h in store.search.search(owner_id=alice.id, query="penguins noon")] == [
        message.id
    ]


def test_search_finds_all_words_only_in_own_messages(store: Store, alice: User, bob: User) -> None:
    conv = store.conversations.create(owner_id=alice.id, title="s")
    other = store.conversations.create(owner_id=bob.id, title="b")
    add = store.conversations.add_message
    add(owner_id=alice.id, conversation_id=conv.id, role="user", content="The weather in Paris is lovely")
    add(owner_id=alice.id, conversation_id=conv.id, role="assistant", content="Paris has a café culture")
    add(owner_id=alice.id, conversation_id=conv.id, role="user", content="Weather report for Lyon")
    add(owner_id=bob.id, conversation_id=other.id, role="user", content="Paris weather secrets of Bob")
    hits = store.search.search(owner_id=alice.id, query="paris WEATHER")
    assert [h.snippet for h in hits] == ["The weather in Paris is lovely"]
    assert hits[0].conversation_id == conv.id
    assert [h.snippet for h in store.search.search(owner_id=alice.id, query="cafe")] == [
        "Paris has a café culture"
    ]
    newest_first = store.search.search(owner_id=alice.id, query="weather")
    assert [h.snippet[:7] for h in newest_first] == ["Weather", "The wea"]
    assert store.search.search(owner_id=alice.id, query="  !! ") == []
    assert store.search.search(owner_id=alice.id, query="nothing-like-this") == []


def test_delete_removes_messages_and_cuts_usage_links(store: Store, alice: User) -> None:
    conv = store.conversations.create(owner_id=alice.id, title="gone")
    store.conversations.add_message(owner_id=alice.id, conversation_id=conv.id, role="user", content="bye")
    store.usage.record(
        UsageEvent(user_id=alice.id, conversation_id=conv.id, kind="chat", provider="openai", model="m")
    )
    store.delete_conversation(owner_id=alice.id, conversation_id=conv.id)
    with pytest.raises(NotFound):
        store.conversations.get(owner_id=alice.id, conversation_id=conv.id)
    assert store.db.run(lambda db: db.messages.count_documents({"conversation_id": parse_id(conv.id)})) == 0
    events = store.usage.events_for(user_id=alice.id)
    assert len(events) == 1 and events[0].conversation_id is None


def test_a_delete_cut_short_leaves_nothing_reachable_and_is_finished_at_the_next_start(
    store: Store, alice: User
) -> None:
    conv = store.conversations.create(owner_id=alice.id, title="half deleted")
    store.conversations.add_message(owner_id=alice.id, conversation_id=conv.id, role="user", content="zebra")
    clip = store.audio.put(
        owner_id=alice.id,
        conversation_id=conv.id,
        data=b"OggS" * 9,
        content_type="audio/ogg",
        duration_seconds=1,
    )
    store.conversations.mark_deleted(owner_id=alice.id, conversation_id=conv.id)  # ...and the process dies
    with pytest.raises(NotFound):
        store.conversations.get(owner_id=alice.id, conversation_id=conv.id)
    assert store.conversations.list_page(owner_id=alice.id).items == []
    assert store.search.search(owner_id=alice.id, query="zebra") == []
    with pytest.raises(NotFound):  # nothing more can be written into it
        store.conversations.add_message(owner_id=alice.id, conversation_id=conv.id, role="user", content="x")
    with pytest.raises(NotFound):
        store.audio.put(
            owner_id=alice.id,
            conversation_id=conv.id,
            data=b"OggS",
            content_type="audio/ogg",
            duration_seconds=1,
        )

    assert store.finish_deletes() == 1  # the next start
    assert store.db.run(lambda db: db.messages.count_documents({"conversation_id": parse_id(conv.id)})) == 0
    assert store.db.run(lambda db: db["audio.files"].count_documents({})) == 0
    assert store.db.run(lambda db: db.conversations.count_documents({"_id": parse_id(conv.id)})) == 0
    with pytest.raises(NotFound):
        store.audio.get(owner_id=alice.id, audio_id=clip)
    assert store.finish_deletes() == 0


def test_oversized_content_is_refused_before_the_database(store: Store, alice: User) -> None:
    conv = store.conversations.create(owner_id=alice.id, title="big")
    with pytest.raises(InvalidInput):
        store.conversations.add_message(
            owner_id=alice.id, conversation_id=conv.id, role="user", content="x" * 16_000_000
        )
    assert store.conversations.get(owner_id=alice.id, conversation_id=conv.id).message_count == 0


def test_usage_rollups_match_the_events(store: Store, alice: User, bob: User) -> None:
    day1 = datetime(2026, 11, 1, 10, tzinfo=UTC)
    events = [
        UsageEvent(
            user_id=alice.id,
            kind="chat",
            provider="openai",
            model="a",
            cost_usd=0.5,
            input_tokens=10,
            output_tokens=5,
            created_at=day1,
        ),
        UsageEvent(user_id=bob.id, kind="chat", provider="openai", model="a", cost_usd=0.25, created_at=day1),
        UsageEvent(
            user_id=bob.id,
            kind="tts",
            provider="openai",
            model="t",
            cost_usd=1.0,
            status="error",
            created_at=day1 + timedelta(days=1),
        ),
    ]
    store.usage.record_many(events)
    store.usage.record(
        UsageEvent(
            user_id=alice.id,
            kind="chat",
            provider="openai",
            model="a",
            cost_usd=0.25,
            created_at=day1 + timedelta(hours=1),
        )
    )
    rows = store.usage.daily_by_model(start=date(2026, 11, 1), end=date(2026, 11, 2))
    summary = {(r.day, r.kind, r.model): (r.cost_usd, r.events, r.errors, r.input_tokens) for r in rows}
    assert summary == {
        ("2026-11-01", "chat", "a"): (1.0, 3, 0, 10),
        ("2026-11-02", "tts", "t"): (1.0, 1, 1, 0),
    }
    assert store.usage.daily_by_model(start=date(2026, 11, 3), end=date(2026, 11, 30)) == []
    bob_rows = store.usage.daily_by_user(start=date(2026, 11, 1), end=date(2026, 11, 2), user_id=bob.id)
    assert sorted((r.day, r.kind, r.cost_usd, r.errors) for r in bob_rows) == [
        ("2026-11-01", "chat", 0.25, 0),
        ("2026-11-02", "tts", 1.0, 1),
    ]


def test_context_is_read_through_and_rebuilt_when_stale(store: Store, alice: User) -> None:
    conv = store.conversations.create(owner_id=alice.id, title="ctx")
    for i in range(12):
        store.conversations.add_message(
            owner_id=alice.id, conversation_id=conv.id, role="user", content=f"m{i}"
        )
    fresh = store.conversations.get(owner_id=alice.id, conversation_id=conv.id)
    context = store.context.load(fresh)
    assert [m.content for m in context] == [f"m{i}" for i in range(2, 12)]  # context_size=10
    # A write the cache never saw (another process, or Redis was down): the head no longer matches.
    store.conversations.add_message(owner_id=alice.id, conversation_id=conv.id, role="user", content="m12")
    reloaded = store.context.load(store.conversations.get(owner_id=alice.id, conversation_id=conv.id))
    assert reloaded[-1].content == "m12" and len(reloaded) == 10
    extended = store.context.extend(
        conv.id, reloaded, ContextMessage(id="x" * 24, role="assistant", content="r")
    )
    assert extended[-1].content == "r" and len(extended) == 10


def test_audio_round_trips_and_is_private(store: Store, alice: User, bob: User) -> None:
    clip = bytes(range(256)) * 2400  # ~600 KB, several GridFS chunks
    conv = store.conversations.create(owner_id=alice.id, title="voice")
    audio_id = store.audio.put(
        owner_id=alice.id, conversation_id=conv.id, data=clip, content_type="audio/ogg", duration_seconds=3.5
    )
    loaded = store.audio.get(owner_id=alice.id, audio_id=audio_id)
    assert (loaded.data, loaded.content_type, loaded.duration_seconds) == (clip, "audio/ogg", 3.5)
    for owner, bad in ((bob.id, audio_id), (alice.id, "zzz"), (alice.id, "0" * 24)):
        with pytest.raises(NotFound):
            store.audio.get(owner_id=owner, audio_id=bad)
    with pytest.raises(InvalidInput):
        store.audio.put(
            owner_id=alice.id, conversation_id=conv.id, data=b"", content_type="audio/ogg", duration_seconds=0
        )
    with pytest.raises(NotFound):  # only into the owner's own conversation
        store.audio.put(
            owner_id=bob.id, conversation_id=conv.id, data=clip, content_type="audio/ogg", duration_seconds=1
        )
    # Nothing of the refused clip is left behind: one file (Alice's) and its three chunks.
    assert store.db.run(lambda db: db["audio.files"].count_documents({})) == 1
    assert store.db.run(lambda db: db["audio.chunks"].count_documents({})) == 3


def test_deleting_a_conversation_removes_its_audio(store: Store, alice: User) -> None:
    conv = store.conversations.create(owner_id=alice.id, title="voice")
    other = store.conversations.create(owner_id=alice.id, title="kept")
    audio_id = store.audio.put(
        owner_id=alice.id,
        conversation_id=conv.id,
        data=b"OggS" * 100,
        content_type="audio/ogg",
        duration_seconds=1,
    )
    unattached_id = store.audio.put(  # stored for the conversation, never named by a message
        owner_id=alice.id,
        conversation_id=conv.id,
        data=b"OggS" * 20,
        content_type="audio/ogg",
        duration_seconds=1,
    )
    kept_id = store.audio.put(
        owner_id=alice.id,
        conversation_id=other.id,
        data=b"OggS" * 10,
        content_type="audio/ogg",
        duration_seconds=1,
    )
    store.conversations.add_message(
        owner_id=alice.id,
        conversation_id=conv.id,
        role="user",
        content="spoken",
        is_voice=True,
        audio_id=audio_id,
    )
    store.delete_conversation(owner_id=alice.id, conversation_id=conv.id)
    for gone in (audio_id, unattached_id):
        with pytest.raises(NotFound):
            store.audio.get(owner_id=alice.id, audio_id=gone)
    assert store.audio.get(owner_id=alice.id, audio_id=kept_id).data == b"OggS" * 10


def test_history_pages_reach_conversations_of_any_age(store: Store, alice: User) -> None:
    ids = [store.conversations.create(owner_id=alice.id, title=f"old{i}").id for i in range(30)]
    now = datetime.now(UTC)
    for i, conversation_id in enumerate(ids):  # one every ~2 weeks, the newest today
        when = now - timedelta(days=14 * (29 - i), minutes=i)
        store.db.run(
            lambda db, c=conversation_id, w=when: db.conversations.update_one(
                {"_id": parse_id(c)}, {"$set": {"updated_at": w}}
            )
        )
    titles: list[str] = []
    cursor = None
    while True:
        page = store.conversations.list_page(owner_id=alice.id, cursor=cursor, limit=4)
        titles.extend(c.title for c in page.items)
        cursor = page.next_cursor
        if cursor is None:
            break
    assert titles == [f"old{i}" for i in range(29, -1, -1)]


def test_preferences_round_trip(store: Store, alice: User, bob: User) -> None:
    from voicechat.preferences import validate

    assert store.users.preferences(alice.id) == validate({})
    chosen = validate({"voice": "verse", "speed": 1.25, "barge_in": False, "persona": "Pirate voice."})
    store.users.save_preferences(alice.id, chosen)
    assert store.users.preferences(alice.id) == chosen
    assert store.users.preferences(bob.id) == validate({})


def test_only_admins_change_roles_and_tiers_and_never_their_own_admin_role(
    store: Store, alice: User, bob: User
) -> None:
    boss = store.users.get_or_create(email="boss@example.com", name="Boss", admin=True)
    tiers = ("default", "pro")
    with pytest.raises(NotAllowed):  # a plain user cannot, not even for themself
        store.users.set_access(acting=alice, user_id=alice.id, role="admin", tier="pro", tiers=tiers)
    promoted = store.users.set_access(acting=boss, user_id=alice.id, role="admin", tier="pro", tiers=tiers)
    assert (promoted.role, promoted.tier) == ("admin", "pro")
    assert store.users.get(alice.id) == promoted
    # The promotion survives the next sign-in (only listed admins are forced to admin; nobody is demoted).
    assert store.users.get_or_create(email="alice@example.com", name="Alice").is_admin
    with pytest.raises(NotAllowed, match="own admin role"):
        store.users.set_access(acting=boss, user_id=boss.id, role="user", tier="default", tiers=tiers)
    for role, tier in (("owner", "pro"), ("user", "platinum"), ("", "default")):
        with pytest.raises(InvalidInput):
            store.users.set_access(acting=boss, user_id=bob.id, role=role, tier=tier, tiers=tiers)
    for bad_id in ("not-an-id", "0" * 24, "", "{'$ne': 1}"):
        with pytest.raises(NotFound):
            store.users.set_access(acting=boss, user_id=bad_id, role="user", tier="pro", tiers=tiers)
    assert store.users.get(bob.id).role == "user" and store.users.get(bob.id).tier == "default"


def test_a_database_from_before_identities_is_migrated(mongo_uri: str) -> None:
    db = Database.connect(mongo_uri)
    try:
        db.run(lambda raw: raw.users.create_index([("email", 1)], unique=True))  # the old key
        db.run(lambda raw: raw.users.insert_many([{"email": "a@corp.example"}, {"email": "b@corp.example"}]))
        migrate_users(db)
        db.ensure_indexes()
        migrate_users(db)  # idempotent
        store = Store.over(db, cache=MemoryContextCache(), context_size=5)
        first = store.users.sign_in(_signed("https://one.example", "1", "a@corp.example"), listed_admin=False)
        second = store.users.sign_in(
            _signed("https://two.example", "2", "a@corp.example"), listed_admin=False
        )
        assert first.id != second.id  # the same email twice: no unique index on it any more
        keys = db.run(lambda raw: sorted(u["identity"] for u in raw.users.find({}, {"identity": 1})))
        assert keys == ["https://one.example|1", "https://two.example|2", "legacy:b@corp.example"]
    finally:
        db.close()
