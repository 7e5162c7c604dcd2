"""The notice runs need nothing but the `UtilityBackend` protocol: against a backend
that keeps its customers, bills and outages in lists (as a client of the utility's API
would hand them over), with no utility rows in our database, they tell the same chats."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import date, datetime, timedelta

from bot.notify import scheduler
from bot.notify.campaigns import audience, create_campaign, start_campaign
from bot.notify.outbox import replies_of
from bot.notify.segments import Segment, linked_users
from bot.store.backend import (
    BillFilter,
    BillRecord,
    CustomerFilter,
    CustomerRecord,
    OutageAreaRecord,
    OutageRecord,
    PaymentPointRecord,
    ReadingRecord,
    UtilityBackend,
)
from bot.store.places import province_name, ward_name, ward_province
from tests.notify.conftest import HAI_CHAU, HOI_AN, NOW, PLEIKU, TODAY, World

A, B, P = "PC05CC0000001", "PC05CC0000002", "PC10AA0000004"


class ListBackend:
    """`UtilityBackend` over plain lists."""

    def __init__(
        self,
        customers: Sequence[CustomerRecord],
        bills: Sequence[BillRecord],
        outages: Sequence[OutageRecord] = (),
    ) -> None:
        self.customers = {customer.code: customer for customer in customers}
        self.bill_list = list(bills)
        self.outage_list = list(outages)

    async def customer(self, code: str) -> CustomerRecord | None:
        return self.customers.get(code.upper())

    async def customers_by_phone(self, phone: str) -> list[CustomerRecord]:
        return [c for c in self.customers.values() if phone in c.phones]

    async def bills(
        self,
        code: str,
        *,
        year: int | None = None,
        month: int | None = None,
        term: int | None = None,
        limit: int = 24,
    ) -> list[BillRecord]:
        found = [
            bill
            for bill in self.bill_list
            if bill.customer_code == code.upper()
            and year in (None, bill.year)
            and month in (None, bill.month)
            and term in (None, bill.term)
        ]
        return sorted(found, key=lambda bill: bill.period_end, reverse=True)[:limit]

    async def unpaid_bills(self, code: str) -> list[BillRecord]:
        unpaid = [bill for bill in await self.bills(code, limit=99) if bill.status == "unpaid"]
        return unpaid[::-1]

    async def readings(self, code: str, start: date, end: date) -> list[ReadingRecord]:
        return []

    async def outages(
        self, province_code: int, ward_code: int | None, start: datetime, end: datetime
    ) -> list[OutageRecord]:
        return [
            outage
            for outage in self.outage_list
            if outage.status != "cancelled"
            and outage.end_at >= start
            and outage.start_at <= end
            and any(
                area.province_code == province_code
                and (ward_code is None or area.ward_code in (None, ward_code))
                for area in outage.areas
            )
        ]

    async def payment_points_near(
        self, latitude: float, longitude: float, *, limit: int = 5, offset: int = 0
    ) -> list[PaymentPointRecord]:
        return []

    async def unit_name(self, unit_code: str) -> str | None:
        names = {c.unit_code: c.unit_name for c in self.customers.values()}
        return names.get(unit_code)

    async def bills_of(self, codes: Sequence[str], where: BillFilter) -> list[BillRecord]:
        return sorted(
            (bill for bill in self.bill_list if bill.customer_code in codes and picks(where, bill)),
            key=lambda bill: bill.id or 0,
        )

    async def matching_customers(self, codes: Sequence[str], where: CustomerFilter) -> set[str]:
        in_debt = {bill.customer_code for bill in self.bill_list if bill.status == "unpaid"}
        return {
            code
            for code in codes
            if (customer := self.customers.get(code)) is not None
            and where.province_code in (None, customer.province_code)
            and where.ward_code in (None, customer.ward_code)
            and where.tariff_group in (None, customer.tariff_group)
            and (not where.has_debt or code in in_debt)
        }

    async def count_customers(self, where: CustomerFilter) -> int:
        return len(await self.matching_customers(list(self.customers), where))

    async def customer_units(self, codes: Sequence[str]) -> dict[str, str]:
        return {code: self.customers[code].unit_name for code in codes if code in self.customers}

    async def area_unit(self, province_code: int, ward_code: int | None) -> str | None:
        units = {
            c.unit_code
            for c in self.customers.values()
            if c.province_code == province_code and ward_code in (None, c.ward_code)
        }
        return units.pop() if len(units) == 1 else None

    async def upcoming_outages(self, now: datetime, starts_by: datetime) -> list[OutageRecord]:
        return [
            outage
            for outage in self.outage_list
            if (
                (outage.kind, outage.status) == ("planned", "scheduled")
                and now < outage.start_at <= starts_by
            )
            or ((outage.kind, outage.status) == ("incident", "in_progress") and outage.end_at > now)
        ]

    async def cancelled_outages(self, ended_after: datetime) -> list[int]:
        return [
            outage.id
            for outage in self.outage_list
            if outage.status == "cancelled" and outage.end_at > ended_after
        ]


def picks(where: BillFilter, bill: BillRecord) -> bool:
    def within(day: date, window: tuple[date, date] | None) -> bool:
        return window is None or window[0] <= day <= window[1]

    return (
        where.status in (None, bill.status)
        and within(bill.issued_on, where.issued_between)
        and within(bill.due_date, where.due_between)
        and (
            where.paid_since is None
            or (bill.paid_at is not None and bill.paid_at >= where.paid_since)
        )
        and (where.period is None or where.period == (bill.year, bill.month))
    )


def customer(code: str, ward: int, tariff: str = "household") -> CustomerRecord:
    province = ward_province(ward)
    return CustomerRecord(
        code=code,
        name=f"Khách hàng {code}",
        address="1 Trần Phú",
        ward_code=ward,
        ward_name=ward_name(ward),
        province_code=province,
        province_name=province_name(province),
        former_district=None,
        latitude=None,
        longitude=None,
        phones=(),
        email=None,
        tariff_group=tariff,
        voltage_level=None,
        households=1,
        meter_number=f"M{code}",
        reading_day=15,
        terms_per_month=1,
        unit_code=code[:6],
        unit_name=f"Điện lực {code[:6]} (API)",
    )


def bill(
    bill_id: int,
    code: str,
    *,
    issued_on: date = TODAY,
    due_in: int = 9,
    paid_at: datetime | None = None,
) -> BillRecord:
    return BillRecord(
        customer_code=code,
        term=1,
        month=11,
        year=2026,
        period_start=date(2026, 10, 16),
        period_end=date(2026, 11, 15),
        old_index=1000,
        new_index=1134,
        kwh=134,
        before_vat=282_620,
        vat_rate=8,
        vat=22_610,
        total=305_230,
        issued_on=issued_on,
        due_date=issued_on + timedelta(days=due_in),
        status="paid" if paid_at else "unpaid",
        paid_at=paid_at,
        paid_channel="bank_app" if paid_at else None,
        invoice=None,
        id=bill_id,
    )


TOWN = [customer(A, HOI_AN), customer(B, HAI_CHAU, "business"), customer(P, PLEIKU)]


async def test_the_bill_runs_need_only_the_backend(world: World) -> None:
    backend: UtilityBackend = ListBackend(
        TOWN,
        [
            bill(7001, A),  # issued today
            bill(7002, B, issued_on=TODAY - timedelta(days=10)),  # due yesterday
            bill(7003, P, issued_on=TODAY - timedelta(days=3), paid_at=NOW - timedelta(hours=1)),
            bill(7004, A, issued_on=TODAY - timedelta(days=40)),  # told long ago
        ],
    )
    an = await world.chat("an", A, B)
    bao = await world.chat("bao", B, language="en")
    phuong = await world.chat("phuong", P)

    daily = await scheduler.run_bill_notices(world.db, backend, world.texts, world.settings, NOW)
    paid = await scheduler.run_payments_received(
        world.db, backend, world.texts, world.settings, NOW
    )

    assert daily == {"issued": (1, 1), "reminder": (0, 0), "debt": (1, 2)}
    assert paid == {"paid": (1, 1)}
    told = {
        (notice.key, row.chat_user_id, row.customer_code)
        for notice in await world.notices()
        for row in await world.rows(notice.key)
    }
    assert told == {
        ("bill:7001:issued", an.id, A),
        ("bill:7002:debt", an.id, B),
        ("bill:7002:debt", bao.id, B),
        ("bill:7003:paid", phuong.id, P),
    }
    [issued] = await world.rows("bill:7001:")
    assert replies_of(issued)[0].text == (
        "🧾 Thông báo tiền điện kỳ 1 tháng 11/2026 (16/10–15/11), mã PC05CC0000001:\n"
        "134 kWh · 305.230 đ · hạn thanh toán 05/12/2026."
    )
    # Our own tables hold no customer and no bill: the SQL backend finds nothing to tell.
    assert await world.run(scheduler.run_bill_notices) == {
        "issued": (0, 0),
        "reminder": (0, 0),
        "debt": (0, 0),
    }


async def test_a_campaign_segment_needs_only_the_backend(world: World) -> None:
    backend: UtilityBackend = ListBackend(
        TOWN, [bill(7001, A, issued_on=TODAY - timedelta(days=20)), bill(7002, P)]
    )
    an = await world.chat("an", A, B)
    await world.chat("bao", B, channel="web")
    phuong = await world.chat("phuong", P)
    await world.chat("no-code")
    in_debt = Segment(province_code=48, has_debt=True)

    async with world.db.transaction() as session:
        found = await linked_users(session, backend, Segment(has_debt=True))
        assert [(p.chat_user.id, p.codes) for p in found] == [(an.id, [A]), (phuong.id, [P])]
        campaign = await create_campaign(session, text="Tri ân", segment=in_debt, now=NOW)
        assert await audience(session, campaign, backend=backend, now=NOW) == 1
        await start_campaign(
            session, campaign.id, world.texts, backend=backend, now=NOW, marketing_per_week=2
        )

    [row] = await world.rows(f"campaign:{campaign.id}")
    assert (row.chat_user_id, row.customer_code) == (an.id, A)


async def test_outage_notices_need_only_the_backend(world: World) -> None:
    pleiku = OutageRecord(
        id=512,
        kind="planned",
        start_at=NOW + timedelta(days=2),
        end_at=NOW + timedelta(days=2, hours=8),
        reason="Thay máy biến áp",
        area_description="Phường Pleiku",
        status="scheduled",
        unit_code="PC10AA",
        areas=(OutageAreaRecord(52, PLEIKU),),
    )
    backend = ListBackend(TOWN, [], [pleiku])
    phuong = await world.chat("phuong", P)
    await world.chat("an", A)

    async def run() -> scheduler.Summary:
        job = scheduler.run_outage_notices
        return await job(world.db, backend, world.texts, world.settings, NOW)

    assert await run() == {"outages": (2, 2), "cancelled": (0, 0)}  # first notice and eve
    rows = await world.rows("outage:512:")
    assert {row.chat_user_id for row in rows} == {phuong.id}
    assert "Điện lực PC10AA (API) xin lỗi" in replies_of(rows[0])[0].text

    backend.outage_list = [replace(pleiku, status="cancelled")]
    assert await run() == {"outages": (0, 0), "cancelled": (0, 2)}
    assert {row.status for row in await world.rows("outage:512:")} == {"skipped"}
