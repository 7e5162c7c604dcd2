"""The dashboard's arithmetic without a server: Vietnam's days in SQL, the waits'
percentiles, and exports a spreadsheet or Rasa reads back as they were written."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
import yaml
from sqlalchemy import literal, select

from bot.console import stats
from bot.console.dashboard import csv_cell, nlu_yaml
from bot.store.db import Database
from bot.store.models import UTCDateTime

PERIOD = stats.Period(date(2026, 11, 20), date(2026, 11, 26))


@pytest.mark.parametrize(
    ("moment", "day"),
    [
        (datetime(2026, 11, 25, 16, 59, 59, tzinfo=UTC), date(2026, 11, 25)),  # 23:59:59
        (datetime(2026, 11, 25, 17, 0, tzinfo=UTC), date(2026, 11, 26)),  # midnight in Vietnam
        (datetime(2026, 12, 31, 20, 0, tzinfo=UTC), date(2027, 1, 1)),
    ],
)
async def test_a_moment_falls_on_its_day_in_vietnam(
    database_url: str, moment: datetime, day: date
) -> None:
    db = Database(database_url)
    try:
        async with db.reading() as session:
            value = await session.scalar(
                select(stats.local_day(db, literal(moment, UTCDateTime())))
            )
    finally:
        await db.dispose()
    assert stats.as_date(value) == day


def test_a_period_runs_from_its_first_local_midnight_to_the_one_after_its_last_day() -> None:
    assert PERIOD.start == datetime(2026, 11, 19, 17, 0, tzinfo=UTC)
    assert PERIOD.end == datetime(2026, 11, 26, 17, 0, tzinfo=UTC)
    assert len(PERIOD.days) == 7


def test_waits_median_and_95th_percentile() -> None:
    waits = [float(minute) for minute in range(1, 101)]
    assert stats.percentile(waits, 0.95) == pytest.approx(95.05)
    assert stats.percentile([4.0], 0.95) == 4.0
    assert stats.percentile([], 0.95) is None


def test_a_phrase_the_bot_missed_reads_back_from_the_export_exactly() -> None:
    phrases = [
        "tiền điện: sao cao vậy?",
        "# không phải comment",
        "- gạch đầu dòng",
        "'nháy đơn' và \"nháy kép\" | ống",
        "{ngoặc} [vuông] & *sao* !chấm than %",
        "có ký tự\x00 lạ\x1b",
    ]
    exported = yaml.safe_load(nlu_yaml(phrases, PERIOD))
    assert exported["version"] == "3.1"
    [block] = exported["nlu"]
    assert block["intent"] == "unsorted"
    assert block["examples"].splitlines() == [f"- {p}" for p in phrases[:-1]] + ["- có ký tự lạ"]


def test_a_cell_a_spreadsheet_would_run_as_a_formula_stays_text() -> None:
    assert csv_cell('=HYPERLINK("http://x","bấm")') == '\'=HYPERLINK("http://x","bấm")'
    assert csv_cell("+84905123456") == "'+84905123456"
    assert csv_cell(date(2026, 11, 26)) == "2026-11-26"
    assert csv_cell(4.5) == "4.5" and csv_cell(None) == ""
