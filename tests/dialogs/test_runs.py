"""Form runs (bot/dialogs/runs.py): every form a customer begins is one row of
form_runs that says how far they got and how it ended, for the dashboard's funnel."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.store.models import FormRun
from tests.drivers import Driver
from tests.handlers.rig import LightRig, make_light_rig
from tests.handlers.test_services import FORMS, complete, logged_in

RECONNECT = FORMS["svc_reconnect"].title["vi"]


@pytest.fixture
async def rig(tmp_path: Path, seeded_sqlite_template: Path) -> AsyncIterator[LightRig]:
    async for running in make_light_rig(tmp_path, seeded_sqlite_template):
        yield running


async def _runs(rig: LightRig) -> list[tuple[str, str | None, int, str | None, bool]]:
    async with rig.runtime.db.reading() as session:
        rows = await session.scalars(select(FormRun).order_by(FormRun.id))
        return [
            (r.form_id, r.step, r.steps_done, r.outcome, r.finished_at is not None) for r in rows
        ]


async def _pick_code(driver: Driver) -> None:
    await driver.press(next(t for t in driver.button_titles if "PC05CC0123456" in t))


async def test_a_submitted_form_is_one_run_that_reached_the_summary(rig: LightRig) -> None:
    an = await logged_in(rig, "rest", "an")
    answer = await complete(an, "svc_reconnect")
    assert answer.startswith("✅")
    assert await _runs(rig) == [("svc_reconnect", "(summary)", 4, "submitted", True)]


async def reconnection_begun(rig: LightRig) -> Driver:
    """An, signed in, opens "Cấp điện trở lại" from the Dịch vụ tab."""
    an = await logged_in(rig, "rest", "an")
    await an.say("/services")
    await an.press("📝 Dịch vụ trong quá trình thực hiện hợp đồng mua bán điện")
    await an.press(RECONNECT)
    return an


async def test_a_run_follows_the_questions_and_a_cancel_closes_it(rig: LightRig) -> None:
    an = await reconnection_begun(rig)
    assert await _runs(rig) == [("svc_reconnect", "customer_code", 0, None, False)]
    await _pick_code(an)
    await an.say("ngày mai")
    assert await _runs(rig) == [("svc_reconnect", "suspension_reason", 2, None, False)]
    await an.press("⬅ Quay lại")
    assert await _runs(rig) == [("svc_reconnect", "reconnect_date", 1, None, False)]
    await an.press("✖ Hủy")
    await an.press("✖ Hủy đơn")
    assert await _runs(rig) == [("svc_reconnect", "reconnect_date", 1, "cancelled", True)]


async def test_a_form_left_until_its_draft_expires_stays_abandoned(rig: LightRig) -> None:
    an = await reconnection_begun(rig)
    await _pick_code(an)
    rig.clock.advance(days=8)
    await an.say("/services")
    assert "đã quá 7 ngày nên đã được hủy" in an.text
    assert await _runs(rig) == [("svc_reconnect", "reconnect_date", 1, None, False)]
