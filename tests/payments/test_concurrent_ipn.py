"""Twenty identical IPNs at once, on SQLite and on PostgreSQL (where their transactions
really run side by side): the bill is paid once, one answer is "00" and the others
"02", one ledger line says paid and one receipt is queued (issue 16)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.store.models import Delivery, Notice
from bot.store.payment_models import PaymentEvent
from tests.handlers.payment_helpers import all_paid, link_of
from tests.handlers.rig import Rig, make_rig, password_login
from tests.handlers.test_payments import ipn


@pytest.fixture
async def rig(tmp_path: Path, own_seeded_url: str) -> AsyncIterator[Rig]:
    async for made in make_rig(tmp_path, own_seeded_url):
        yield made


async def test_twenty_identical_ipns_at_once_pay_once(rig: Rig) -> None:
    an = await password_login(rig, "rest", "an-race", "annguyen", "An@2026cskh")
    await an.press("⭐ PC05CC0123456 — Nguyễn Văn An")
    await an.say("/pay")
    await an.press("💳 Thẻ/ngân hàng (VNPay)")
    assert link_of(an)
    _, query = await ipn(rig)
    answers = await asyncio.gather(
        *(rig.server.get(f"/payments/vnpay/ipn?{query}") for _ in range(20))
    )
    assert sorted(body["RspCode"] for _, body in answers) == ["00"] + ["02"] * 19
    await all_paid(rig.runtime, "PC05CC0123456")
    async with rig.runtime.db.reading() as session:
        paid = await session.scalar(
            select(func.count()).select_from(PaymentEvent).where(PaymentEvent.event == "paid")
        )
        receipts = await session.scalar(
            select(func.count())
            .select_from(Delivery)
            .join(Notice)
            .where(Notice.kind == "payment_paid")
        )
    assert (paid, receipts) == (1, 1)
