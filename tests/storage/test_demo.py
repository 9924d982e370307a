"""The demo data (``make demo``): written through the repositories, dated into the past, and readable by
history, search and the dashboard like real use."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from voicechat.dashboard import build_report
from voicechat.demo import seed
from voicechat.storage.store import Store


def test_two_weeks_of_demo_use_fill_history_search_and_the_dashboard(store: Store) -> None:
    today = datetime(2026, 11, 30, tzinfo=UTC)
    written = seed(store, days=14, today=today)
    assert written["conversations"] > 20 and written["ratings"] > 0

    admin = store.users.get_or_create(email="local@localhost", name="Local user", admin=True)
    start = (today - timedelta(days=14)).date()
    report = build_report(store, acting=admin, start=start, end=today.date())
    assert report.headline.turns * 2 == written["messages"]  # every turn counted once, on its own day
    assert report.headline.conversations == written["conversations"]
    days_with_use = {day for day, _, cost in report.cost_by_day_kind if cost > 0}
    assert len(days_with_use) >= 10  # spread over the fortnight, not all today
    assert any(rate.error_rate > 0.5 for rate in report.rates)  # the outage day
    assert len(report.per_user) == 5 and {"pro", "default"} <= {
        u.tier for u in store.users.list_all(acting=admin)
    }
    feedback = store.feedback.summary(start=start, end=datetime.now(UTC).date())
    assert feedback.up + feedback.down == written["ratings"]

    maya = next(u for u in store.users.list_all(acting=admin) if u.email == "maya@example.com")
    conversations = store.conversations.list_page(owner_id=maya.id, limit=100).items
    assert len({c.created_at.date() for c in conversations}) > 3  # dated into the past
    assert store.search.search(owner_id=maya.id, query="Lisbon") or store.search.search(
        owner_id=maya.id, query="roadmap"
    )
