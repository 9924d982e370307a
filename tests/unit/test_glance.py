"""The dashboard's figures at a glance: money, continuous days, rates."""

from __future__ import annotations

from datetime import date

from voicechat.glance import daily_rates, daily_totals, every_day, money
from voicechat.models import DailyUsage


def test_money_reads_as_currency_with_sensible_precision() -> None:
    assert [money(v) for v in (0, 0.000014, 0.0123, 0.5, 1, 1234.5)] == [
        "$0.00",
        "< $0.001",
        "$0.012",
        "$0.500",
        "$1.00",
        "$1,234.50",
    ]


def test_days_without_use_are_zeros_on_a_continuous_axis() -> None:
    start, end = date(2026, 11, 28), date(2026, 12, 2)
    assert every_day(start, end) == ["2026-11-28", "2026-11-29", "2026-11-30", "2026-12-01", "2026-12-02"]
    series = daily_totals(
        [("2026-11-29", "chat", 1.5), ("2026-11-29", "chat", 0.5), ("2026-12-02", "tts", 1.0)], start, end
    )
    assert series["chat"] == {
        "2026-11-28": 0.0,
        "2026-11-29": 2.0,
        "2026-11-30": 0.0,
        "2026-12-01": 0.0,
        "2026-12-02": 0.0,
    }
    assert series["tts"]["2026-12-02"] == 1.0 and sum(series["tts"].values()) == 1.0


def test_error_and_refusal_rates_per_day() -> None:
    rows = [
        DailyUsage(day="2026-12-01", kind="chat", events=20, errors=2, turns=10),
        DailyUsage(day="2026-12-01", kind="tts", events=10, errors=1),
    ]
    rates = daily_rates(rows, {"2026-12-01": 10}, date(2026, 11, 30), date(2026, 12, 1))
    assert [(r.day, round(r.error_rate, 3), r.refusal_rate) for r in rates] == [
        ("2026-11-30", 0.0, 0.0),
        ("2026-12-01", 0.1, 0.5),  # 3 of 30 calls failed; 10 refused of 20 turns asked
    ]


def test_the_charts_frame_has_every_day_with_values_and_zeros() -> None:
    from ui.usage_charts import _daily

    frame = _daily(
        [("2026-11-29", "chat", 1.5), ("2026-12-01", "tts", 0.25)], date(2026, 11, 28), date(2026, 12, 1)
    )
    assert list(frame.columns) == ["chat", "tts"] and len(frame) == 4
    assert frame["chat"].tolist() == [0.0, 1.5, 0.0, 0.0] and frame["tts"].tolist() == [0.0, 0.0, 0.0, 0.25]
    assert str(frame.index.dtype).startswith("datetime64")
