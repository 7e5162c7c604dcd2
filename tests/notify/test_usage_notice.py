"""The unusual-use line of a new bill's notice (issue 18 part 2), on the demo data: the
faulty-meter persona and the households that bought an air conditioner are told, a
normal household is not; a chat can switch the line off; two unusual periods running
bring the meter check."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, time
from pathlib import Path
from typing import Any

import pytest

from bot.app import usage_judge
from bot.billing.tariffs import default_tariffs
from bot.core.clock import FakeClock
from bot.core.fmt import LOCAL_TZ
from bot.core.texts import Texts
from bot.demo.generate import DemoData, generate
from bot.demo.seed import seed
from bot.notify import producers, scheduler, subscriptions
from bot.store.backend import BillRecord
from bot.store.db import Database
from bot.store.migrate import upgrade
from bot.store.models import ChatUser, Delivery
from tests.conftest import BACKENDS, DEMO_TODAY
from tests.helpers import PG_URL, copy_sqlite, create_pg_database, drop_pg_database, make_settings
from tests.notify.conftest import NOW, World
from tests.notify.test_producers import buttons_of, text_of

CUSTOMERS = 60
THU = "PP01000024680"  # the faulty-meter persona: her last two bills about doubled
AN = "PC05CC0123456"  # a household like any other
LINE = "mức thường"  # in both lines: "so với mức thường", "mức thường 5,1"
METER = "kiểm tra công tơ"


async def _seed_small(url: str) -> None:
    db = Database(url)
    try:
        await upgrade(db)
        await seed(db, today=DEMO_TODAY, customers=CUSTOMERS)
    finally:
        await db.dispose()


@pytest.fixture(scope="module")
def small_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo data of CUSTOMERS customers, seeded once; tests get copies."""
    path = tmp_path_factory.mktemp("small-demo") / "cskh.db"
    asyncio.run(_seed_small(f"sqlite+aiosqlite:///{path}"))
    return path


@pytest.fixture(scope="module")
def small_pg() -> Iterator[str | None]:
    if not PG_URL:
        yield None
        return

    async def create() -> str:
        url = await create_pg_database()
        await _seed_small(url)
        return url

    url = asyncio.run(create())
    yield url
    asyncio.run(drop_pg_database(url))


@pytest.fixture(params=BACKENDS)
async def world(
    request: pytest.FixtureRequest, tmp_path: Path, small_sqlite: Path, small_pg: str | None
) -> AsyncIterator[World]:
    """The notice tests' world over a copy of the small demo data set."""
    if request.param == "sqlite":
        url = copy_sqlite(small_sqlite, tmp_path / "own")
    else:
        url = await create_pg_database(small_pg)
    db = Database(url, media_dir=tmp_path / "media")
    try:
        yield World(db, Texts.load(), make_settings(tmp_path / "var", url), FakeClock(NOW))
    finally:
        await db.dispose()
        if request.param != "sqlite":
            await drop_pg_database(url)


@pytest.fixture(scope="module")
def demo() -> DemoData:
    return generate(default_tariffs(), today=DEMO_TODAY, customers=CUSTOMERS)


def air_conditioners(data: DemoData) -> list[tuple[str, tuple[int, int]]]:
    """Each air conditioner's first month that it added more than half the household's
    ordinary use, with a year-ago bill from before it: what the line is for."""
    found = []
    for index, event in data.events:
        if event["kind"] != "air_conditioner":
            continue
        code = data.customers[index]["code"]
        kwh = {(b["year"], b["month"]): b["kwh"] for i, b, _ in data.bills if i == index}
        added = {(year, month): extra for year, month, _, extra in event["periods"]}
        for (year, month), extra in sorted(added.items()):
            year_ago = (year - 1, month)
            if extra > (kwh[year, month] - extra) / 2 and year_ago in kwh and year_ago not in added:
                found.append((code, (year, month)))
                break
    return found


async def bill_of(world: World, code: str, period: tuple[int, int] | None = None) -> BillRecord:
    bills = await world.backend.bills(code, limit=30)
    if period is None:
        return bills[0]
    return next(b for b in bills if (b.year, b.month) == period)


async def notice(world: World, bill: BillRecord, *chats: ChatUser) -> dict[int, Any]:
    """The issued notice of `bill` as the daily run makes it on its day: each chat's row."""
    now = datetime.combine(bill.issued_on, time(9), LOCAL_TZ)
    async with world.db.transaction() as session:
        await producers.bill_notices(
            session,
            [bill],
            "issued",
            world.texts,
            now=now,
            judge=usage_judge(world.backend, default_tariffs()),
        )
    rows = await world.rows(f"bill:{bill.id}:issued")
    assert {row.chat_user_id for row in rows} == {chat.id for chat in chats}
    return {row.chat_user_id: row for row in rows}


def payloads(row: Any) -> list[str | None]:
    return [payload for line in buttons_of(row) for _, payload in line]


async def test_the_air_conditioner_households_are_told_and_offered_the_explanation(
    world: World, demo: DemoData
) -> None:
    bought = air_conditioners(demo)
    assert len(bought) >= 2  # the demo's population has some
    for code, period in bought:
        chat = await world.chat(f"chat-{code}", code)
        bill = await bill_of(world, code, period)
        row = (await notice(world, bill, chat))[chat.id]
        text = text_of(row)
        lines = text.split("\n")
        assert len(lines) == 3, text  # the bill's two lines and one more
        assert lines[2].startswith("Điện tiêu thụ kỳ này ") and LINE in lines[2]
        assert "kWh/ngày" in lines[2] and METER not in text.lower()
        assert f"lk_why:{code}:{bill.year}-{bill.month}-1" in payloads(row)
        assert f"lk_why_meter:{code}" not in payloads(row)
        # The month before, the same household was told nothing.
        earlier = await bill_of(world, code, (period[0], period[1] - 1))
        row = (await notice(world, earlier, chat))[chat.id]
        assert len(text_of(row).split("\n")) == 2 and LINE not in text_of(row)


async def test_a_normal_household_gets_the_bill_notice_as_before(
    world: World, demo: DemoData
) -> None:
    chat = await world.chat("an", AN)
    for bill in (await world.backend.bills(AN, limit=12))[:12]:
        row = (await notice(world, bill, chat))[chat.id]
        assert LINE not in text_of(row), text_of(row)
        assert not any(str(p).startswith("lk_why") for p in payloads(row))


async def test_the_faulty_meter_is_told_then_checked_after_two_periods(
    world: World, demo: DemoData
) -> None:
    thu = await world.chat("thu", THU)
    latest, before, usual = (await world.backend.bills(THU, limit=3))[:3]
    assert LINE not in text_of((await notice(world, usual, thu))[thu.id])

    first = (await notice(world, before, thu))[thu.id]
    assert LINE in text_of(first) and METER not in text_of(first).lower()
    assert f"lk_why_meter:{THU}" not in payloads(first)

    second = (await notice(world, latest, thu))[thu.id]
    text = text_of(second)
    assert text.split("\n")[2].startswith("Đã hai kỳ liền điện tiêu thụ cao bất thường (")
    assert "nên yêu cầu kiểm tra công tơ" in text
    assert payloads(second)[:3] == [
        f"payments:{THU}",
        f"lk_why:{THU}:{latest.year}-{latest.month}-1",
        f"lk_why_meter:{THU}",
    ]
    assert payloads(second)[-2:] == [f"unsub:bill:{THU}", f"nreply:{second.notice_id}"]


async def test_the_daily_run_adds_the_line_to_the_new_bill(world: World, demo: DemoData) -> None:
    thu = await world.chat("thu", THU)
    latest = (await world.backend.bills(THU, limit=1))[0]
    now = datetime.combine(latest.issued_on, time(9), LOCAL_TZ)
    judge = usage_judge(world.backend, default_tariffs())
    without = await world.run(scheduler.run_bill_notices, now)  # no judge: the bill alone
    assert without["issued"] == (1, 1)
    (row,) = await world.rows(f"bill:{latest.id}:issued")
    assert "kiểm tra công tơ" not in text_of(row)
    async with world.db.transaction() as session:
        await session.delete(await session.get(Delivery, row.id))
    summary = await world.run(functools.partial(scheduler.run_bill_notices, judge=judge), now)
    assert summary["issued"] == (1, 1)
    (row,) = await world.rows(f"bill:{latest.id}:issued")
    assert row.chat_user_id == thu.id
    assert "kiểm tra công tơ" in text_of(row)


async def test_a_chat_that_switched_the_line_off_gets_the_bill_without_it(
    world: World, demo: DemoData
) -> None:
    wants = await world.chat("thu", THU)
    per_code = await world.chat("thu-husband", THU)
    whole_chat = await world.chat("thu-daughter", THU, AN)
    async with world.db.transaction() as session:
        await subscriptions.switch(
            session, per_code.id, "usage", THU, on=False, now=datetime.now(LOCAL_TZ)
        )
        await subscriptions.switch(
            session, whole_chat.id, "usage", "", on=False, now=datetime.now(LOCAL_TZ)
        )
    latest = (await world.backend.bills(THU, limit=1))[0]
    rows = await notice(world, latest, wants, per_code, whole_chat)
    assert LINE in text_of(rows[wants.id])
    for chat in (per_code, whole_chat):
        text = text_of(rows[chat.id])
        assert text.startswith("🧾 Thông báo tiền điện") and LINE not in text
        assert not any(str(p).startswith("lk_why") for p in payloads(rows[chat.id]))
    async with world.db.reading() as session:
        shown = await subscriptions.switches(session, per_code.id, [THU])
    assert [(s.category, s.on) for s in shown] == [
        ("bill", True),
        ("usage", False),
        ("outage", True),
        ("other", True),
    ]
