"""Write the demo data set into the database (`cskh demo seed`, or on first start)."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime
from datetime import time as dt_time
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.auth.passwords import hash_secret
from bot.auth.staff import add_staff
from bot.auth.staff import find as find_staff
from bot.billing.tariffs import TariffBook, default_tariffs
from bot.core.fmt import LOCAL_TZ
from bot.core.texts import Texts
from bot.demo.definitions import definitions
from bot.demo.generate import DEFAULT_CUSTOMERS, DemoData, generate
from bot.demo.history import write_history
from bot.store.db import Database
from bot.store.models import (
    Bill,
    Customer,
    CustomerPhone,
    EInvoice,
    ManagingUnit,
    MeterReading,
    Notice,
    Outage,
    OutageArea,
    PaymentPoint,
    PortalAccount,
    PortalAccountCode,
)

log = logging.getLogger(__name__)

# Child tables first, so deleting for a reset never trips a foreign key.
UTILITY_TABLES = (
    EInvoice,
    Bill,
    MeterReading,
    CustomerPhone,
    Customer,
    PaymentPoint,
    OutageArea,
    Outage,
    ManagingUnit,
    PortalAccountCode,
    PortalAccount,
)


@dataclass(frozen=True)
class SeedSummary:
    customers: int
    bills: int
    readings: int
    payment_points: int
    outages: int
    seconds: float


async def customer_count(db: Database) -> int:
    async with db.reading() as session:
        return int(await session.scalar(select(func.count()).select_from(Customer)) or 0)


async def seed(
    db: Database,
    *,
    tariffs: TariffBook | None = None,
    today: date | None = None,
    customers: int = DEFAULT_CUSTOMERS,
    reset: bool = False,
) -> SeedSummary:
    """Fill the utility tables with the demo data set.

    Raises:
        RuntimeError: the database already holds customers and `reset` is False.
    """
    started = time.perf_counter()
    now = datetime.now(LOCAL_TZ)
    if today is not None and today != now.date():  # a demo anchored on another day
        now = datetime.combine(today, dt_time(12, 0), LOCAL_TZ)
    data = generate(tariffs or default_tariffs(), today=today, customers=customers)
    async with db.transaction() as session:
        existing = await session.scalar(select(func.count()).select_from(Customer))
        if existing and not reset:
            raise RuntimeError(f"the database already holds {existing} customers")
        if reset:
            for table in UTILITY_TABLES:
                await session.execute(delete(table))
            # The personas' past notices name the bills just deleted.
            await session.execute(delete(Notice).where(Notice.key.startswith("history:")))
        await _insert(session, data)
    await write_history(db, Texts.load(), now=now)
    summary = SeedSummary(
        customers=len(data.customers),
        bills=len(data.bills),
        readings=len(data.readings),
        payment_points=len(data.payment_points),
        outages=len(data.outages),
        seconds=round(time.perf_counter() - started, 2),
    )
    log.info("demo data seeded: %s", summary)
    return summary


async def _insert_staff(session: AsyncSession) -> None:
    """One console account per role (data/demo.yml `staff:`), argon2id-hashed. Staff
    are not utility data: a reset keeps the accounts there are and adds what is missing."""
    now = datetime.now(UTC)
    for member in definitions()["staff"]:
        if await find_staff(session, member["username"]) is not None:
            continue
        await add_staff(
            session,
            member["username"],
            member["role"],
            member["password"],
            display_name=member["name"],
            now=now,
        )


async def _insert_accounts(session: AsyncSession) -> None:
    """The personas' cskh.cpc.vn accounts (username/password), argon2id-hashed."""
    for persona in definitions()["personas"]:
        account = PortalAccount(
            username=persona["username"].lower(),
            password_hash=await hash_secret(persona["password"]),
            phone=persona["phone"],
            email=persona["email"],
            codes=[PortalAccountCode(customer_code=c["code"]) for c in persona["customers"]],
        )
        session.add(account)


async def _insert(session: AsyncSession, data: DemoData) -> None:
    await session.execute(insert(ManagingUnit), data.units)
    rows = [{k: v for k, v in c.items() if not k.startswith("_")} for c in data.customers]
    customer_ids = await _insert_returning_ids(session, Customer, rows)
    await session.execute(
        insert(CustomerPhone),
        [{"customer_id": customer_ids[i], "phone": phone} for i, phone in data.phones],
    )
    await session.execute(
        insert(MeterReading),
        [{"customer_id": customer_ids[i], **reading} for i, reading in data.readings],
    )
    bill_ids = await _insert_returning_ids(
        session, Bill, [{"customer_id": customer_ids[i], **bill} for i, bill, _ in data.bills]
    )
    await session.execute(
        insert(EInvoice),
        [
            {"bill_id": bill_id, **invoice}
            for bill_id, (_, _, invoice) in zip(bill_ids, data.bills, strict=True)
        ],
    )
    await session.execute(insert(PaymentPoint), data.payment_points)
    await _insert_accounts(session)
    await _insert_staff(session)
    outage_ids = await _insert_returning_ids(session, Outage, [o for o, _ in data.outages])
    await session.execute(
        insert(OutageArea),
        [
            {"outage_id": outage_id, **area}
            for outage_id, (_, areas) in zip(outage_ids, data.outages, strict=True)
            for area in areas
        ],
    )


async def _insert_returning_ids(
    session: AsyncSession, model: Any, rows: list[dict[str, Any]]
) -> list[int]:
    """Bulk insert, returning the new ids in the order of `rows` (batched for speed)."""
    ids: list[int] = []
    for start in range(0, len(rows), 2000):
        batch = rows[start : start + 2000]
        result = await session.scalars(
            insert(model).returning(model.id, sort_by_parameter_order=True), batch
        )
        ids.extend(result.all())
    return ids
