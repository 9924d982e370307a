"""The admin usage page (AppTest): figures equal sums of seeded events; the user filter narrows them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from streamlit.testing.v1 import AppTest

from tests.app.conftest import APP
from voicechat.models import UsageEvent
from voicechat.storage.store import Store


@pytest.fixture
def dashboard(mongo_uri: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=30)
    at.secrets["MONGODB_URI"] = mongo_uri
    at.secrets["OPENAI_BASE_URL"] = (
        "http://127.0.0.1:9/v1"  # no provider: the model list is simply unavailable
    )
    at.secrets["VOICECHAT_CHAT_MODELS"] = "gpt-6-luna,gpt-4o-mini"
    at.run()
    at.switch_page("app_pages/admin_usage.py").run()
    return at


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def test_figures_and_user_filter(dashboard: AppTest, store: Store) -> None:
    now = datetime.now(UTC)
    ann = store.users.get_or_create(email="ann@example.com", name="Ann")
    ben = store.users.get_or_create(email="ben@example.com", name="Ben")
    events = [
        UsageEvent(
            user_id=ann.id,
            kind="chat",
            provider="openai",
            model="gpt-6-luna",
            input_tokens=100,
            output_tokens=50,
            cost_usd=0.25,
            latency_ms=420,
            created_at=now - timedelta(days=1),
        ),
        UsageEvent(
            user_id=ann.id,
            kind="stt",
            provider="openai",
            model="stt",
            audio_seconds=90,
            cost_usd=1.5,
            created_at=now - timedelta(days=2),
        ),
        UsageEvent(
            user_id=ben.id,
            kind="chat",
            provider="openai",
            model="gpt-6-luna",
            input_tokens=10,
            output_tokens=5,
            cost_usd=0.75,
            status="rate_limited",
            created_at=now,
        ),
        UsageEvent(
            user_id=ben.id,
            kind="tts",
            provider="elevenlabs",
            model="tts",
            audio_seconds=30,
            cost_usd=2.0,
            created_at=now - timedelta(days=40),
        ),  # outside the default 30 days
    ]
    store.usage.record_many(events)
    store.conversations.create(owner_id=ann.id, title="one")
    dashboard.run()
    assert not dashboard.exception
    shown = metrics(dashboard)
    assert shown["Cost"] == "$2.50"  # 0.25 + 1.5 + 0.75, as money
    assert shown["Tokens"] == "165" and shown["Turns"] == "2" and shown["Active users"] == "2"
    assert shown["Audio in (min)"] == "1.5" and shown["Audio out (min)"] == "0.0"
    assert shown["Conversations"] == "1"
    per_user = dashboard.dataframe[0].value
    assert list(per_user["email"]) == ["ann@example.com", "ben@example.com"]  # by cost, highest first
    providers = next(d.value for d in dashboard.dataframe if "rate_limited" in d.value.columns)
    providers = providers.set_index("provider")
    assert providers.loc["openai", "rate_limited"] == 1 and "elevenlabs" not in providers.index
    assert any("gpt-4o-mini" in w.value and "2027-01-14" in w.value for w in dashboard.warning)
    dashboard.selectbox[0].select(ben.id).run()
    shown = metrics(dashboard)
    assert shown["Cost"] == "$0.750" and shown["Active users"] == "1" and shown["Conversations"] == "0"


def test_empty_period_says_what_will_appear(dashboard: AppTest) -> None:
    assert not dashboard.exception
    assert any("No usage recorded in this period" in i.value for i in dashboard.info)
    # The speech model's shutdown is handled by the auto route, so it is news, not a warning.
    assert any("gpt-4o-mini-tts" in i.value and "Realtime route" in i.value for i in dashboard.info)
    assert not any("gpt-4o-mini-tts" in w.value for w in dashboard.warning)


def test_alerts_at_the_top_for_budgets_and_an_error_spike(mongo_uri: str, store: Store) -> None:
    now = datetime.now(UTC)
    cara = store.users.get_or_create(email="cara@example.com", name="Cara")
    store.users.get_or_create(email="dan@example.com", name="Dan")
    calls = [
        UsageEvent(
            user_id=cara.id, kind="chat", provider="openai", model="gpt-6-luna", cost_usd=4.2, created_at=now
        )
    ] + [
        UsageEvent(
            user_id=cara.id,
            kind="tts",
            provider="openai",
            model="tts",
            status="error",
            cost_usd=0.0,
            created_at=now,
        )
        for _ in range(3)
    ]
    store.usage.record_many(calls)
    at = AppTest.from_file(APP, default_timeout=30)
    at.secrets["MONGODB_URI"] = mongo_uri
    at.secrets["OPENAI_BASE_URL"] = "http://127.0.0.1:9/v1"
    at.secrets["VOICECHAT_MONTHLY_BUDGETS"] = "default=5"
    at.run()
    at.switch_page("app_pages/admin_usage.py").run()
    assert not at.exception
    shown = [e.value for e in at.error]
    assert "cara@example.com has used 84% of the default budget this month ($4.20 of $5.00)." in shown
    assert any("75% of provider calls failed since yesterday (3 of 4)" in e for e in shown)
    assert not any("dan@example.com" in e for e in shown)  # nothing spent: no alert
    budgets = next(d.value for d in at.dataframe if "over 80%" in d.value.columns)
    assert list(budgets["over 80%"])[:1] == ["yes"]  # said in words, not by colour alone
