"""Fixtures of the notice tests: a small utility world (customers, bills, chats) on
each backend, and the running bot rig of the conversation tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.core.clock import FakeClock
from bot.core.texts import Texts
from bot.notify.scheduler import Job, Summary
from bot.settings import Settings
from bot.store.backend import SqlUtilityBackend
from bot.store.db import Database
from bot.store.models import (
    Bill,
    ChatUser,
    Customer,
    CustomerLink,
    Delivery,
    ManagingUnit,
    Notice,
    NoticeOptOut,
)
from bot.store.places import province_name, ward_name, ward_province
from tests.handlers.rig import Rig, make_rig
from tests.helpers import make_settings

NOW = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)  # 15:00 in Vietnam, the rig's clock too
TODAY = date(2026, 11, 26)
HOI_AN, HAI_CHAU, PLEIKU = 20410, 20242, 23575  # wards of Đà Nẵng (48) and Gia Lai (52)


@dataclass
class World:
    """A database with a few customers, bills and chats made to measure for a test."""

    db: Database
    texts: Texts
    settings: Settings
    clock: FakeClock

    @property
    def backend(self) -> SqlUtilityBackend:
        """The utility's data: the tables this world's customers and bills are written to."""
        return SqlUtilityBackend(self.db)

    async def run(self, job: Job, now: datetime = NOW) -> Summary:
        """A scheduled notice job, run once at `now`."""
        return await job(self.db, self.backend, self.texts, self.settings, now)

    async def customer(
        self,
        code: str,
        *,
        ward: int = HOI_AN,
        tariff: str = "household",
        address: str = "1 Trần Phú",
    ) -> Customer:
        async with self.db.transaction() as session:
            unit = code[:6]
            if await session.get(ManagingUnit, unit) is None:
                session.add(ManagingUnit(code=unit, name=f"Điện lực {unit}"))
            customer = Customer(
                code=code,
                name=f"Khách hàng {code}",
                address=address,
                ward_code=ward,
                ward_name=ward_name(ward),
                province_code=ward_province(ward),
                province_name=province_name(ward_province(ward)),
                tariff_group=tariff,
                meter_number=f"M{code}",
                reading_day=15,
                unit_code=unit,
            )
            session.add(customer)
        return customer

    async def bill(
        self,
        code: str,
        *,
        month: int = 11,
        total: int = 305_230,
        issued_on: date = TODAY,
        due_in: int = 9,
        paid_at: datetime | None = None,
    ) -> Bill:
        async with self.db.transaction() as session:
            customer = await session.scalar(select(Customer).where(Customer.code == code))
            assert customer is not None
            bill = Bill(
                customer_id=customer.id,
                term=1,
                month=month,
                year=2026,
                period_start=date(2026, month - 1, 16),
                period_end=date(2026, month, 15),
                old_index=1000,
                new_index=1134,
                kwh=134,
                before_vat=total * 100 // 108,
                vat_rate=8,
                vat=total - total * 100 // 108,
                total=total,
                issued_on=issued_on,
                due_date=issued_on + timedelta(days=due_in),
                status="paid" if paid_at else "unpaid",
                paid_at=paid_at,
            )
            session.add(bill)
        return bill

    async def chat(
        self,
        name: str,
        *codes: str,
        channel: str = "telegram",
        language: str = "vi",
        activated: bool = True,
        reachable: bool = True,
        linked_at: datetime = NOW - timedelta(days=30),
    ) -> ChatUser:
        async with self.db.transaction() as session:
            user = ChatUser(
                channel=channel,
                platform_user_id=name,
                language=language,
                activated_at=NOW - timedelta(days=30) if activated else None,
                reachable=reachable,
                links=[CustomerLink(customer_code=code, linked_at=linked_at) for code in codes],
            )
            session.add(user)
        return user

    async def opt_out(self, user: ChatUser, category: str, code: str = "") -> None:
        async with self.db.transaction() as session:
            session.add(NoticeOptOut(chat_user_id=user.id, customer_code=code, category=category))

    async def rows(self, key_prefix: str = "") -> list[Delivery]:
        """Outbox rows of the notices whose key starts with `key_prefix`, in order."""
        async with self.db.reading() as session:
            found = await session.scalars(
                select(Delivery)
                .join(Notice, Notice.id == Delivery.notice_id)
                .where(Notice.key.startswith(key_prefix))
                .order_by(Delivery.id)
            )
            return list(found)

    async def notices(self) -> list[Notice]:
        async with self.db.reading() as session:
            return list(await session.scalars(select(Notice).order_by(Notice.id)))


@pytest.fixture
async def world(migrated_url: str, tmp_path: Path) -> AsyncIterator[World]:
    settings = make_settings(tmp_path / "var", migrated_url)
    db = Database(migrated_url, media_dir=tmp_path / "media")
    try:
        yield World(db, Texts.load(), settings, FakeClock(NOW))
    finally:
        await db.dispose()


@pytest.fixture
async def rig(tmp_path: Path, seeded_sqlite_template: Path) -> AsyncIterator[Rig]:
    async for running in make_rig(tmp_path, seeded_sqlite_template):
        yield running
