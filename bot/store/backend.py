"""The utility's own data, behind one interface (`UtilityBackend`).

Handlers and the notice runs ask this interface, never the tables: the default
implementation (`SqlUtilityBackend`) reads our database filled with demo data; a real
deployment plugs in a client of the utility's customer-care API returning the same
records.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol, cast

from sqlalchemy import Table, and_, bindparam, exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from bot.store.db import Database
from bot.store.models import (
    Bill,
    Customer,
    CustomerPhone,
    ManagingUnit,
    MeterReading,
    Outage,
    OutageArea,
    PaymentPoint,
)


@dataclass(frozen=True)
class CustomerRecord:
    code: str
    name: str
    address: str
    ward_code: int | None
    ward_name: str
    province_code: int
    province_name: str
    former_district: str | None
    latitude: float | None
    longitude: float | None
    phones: tuple[str, ...]
    email: str | None
    tariff_group: str
    voltage_level: str | None
    households: int
    meter_number: str
    reading_day: int
    terms_per_month: int
    unit_code: str
    unit_name: str

    @property
    def full_address(self) -> str:
        return f"{self.address}, {self.ward_name}, {self.province_name}"


@dataclass(frozen=True)
class BillSettlement:
    """One payment of bills, all or none: `reference` is the payment order's."""

    bill_ids: tuple[int, ...]
    paid_at: datetime
    channel: str
    reference: str


@dataclass(frozen=True)
class BillRecord:
    customer_code: str
    term: int
    month: int
    year: int
    period_start: date
    period_end: date
    old_index: int
    new_index: int
    kwh: int
    before_vat: int
    vat_rate: int
    vat: int
    total: int
    issued_on: date
    due_date: date
    status: str
    paid_at: datetime | None
    paid_channel: str | None
    invoice: InvoiceRecord | None
    # The utility's id of the bill: it names the bill's notices ("bill:<id>:issued"), so a
    # notice run never tells about one bill twice. Records made by hand may go without.
    id: int | None = None


@dataclass(frozen=True)
class InvoiceRecord:
    form: str
    series: str
    number: int
    issued_on: date
    lines: tuple[dict[str, Any], ...]

    @property
    def symbol(self) -> str:
        """Ký hiệu as printed: form number then series, e.g. 1K25TAA."""
        return f"{self.form}{self.series}"


@dataclass(frozen=True)
class ReadingRecord:
    read_on: date
    term: int
    index_value: int
    kwh: int


@dataclass(frozen=True)
class OutageAreaRecord:
    province_code: int
    ward_code: int | None  # None: the whole province
    streets: tuple[str, ...] = ()  # the ward's streets it covers; empty: all of it


@dataclass(frozen=True)
class OutageRecord:
    id: int
    kind: str
    start_at: datetime
    end_at: datetime
    reason: str
    area_description: str
    status: str
    unit_code: str | None
    areas: tuple[OutageAreaRecord, ...]


@dataclass(frozen=True)
class PaymentPointRecord:
    name: str
    address: str
    ward_name: str
    province_name: str
    ward_code: int | None
    province_code: int
    latitude: float
    longitude: float
    opening_hours: str
    kind: str
    distance_km: float | None = None


@dataclass(frozen=True)
class BillFilter:
    """Which bills `UtilityBackend.bills_of` returns; a criterion left None holds for all."""

    status: str | None = None  # unpaid | paid
    issued_between: tuple[date, date] | None = None
    due_between: tuple[date, date] | None = None
    paid_since: datetime | None = None
    period: tuple[int, int] | None = None  # (year, month)


@dataclass(frozen=True)
class CustomerFilter:
    """Which customers `UtilityBackend.matching_customers` keeps; a criterion left None
    holds for all."""

    province_code: int | None = None
    ward_code: int | None = None
    tariff_group: str | None = None
    has_debt: bool = False  # an unpaid bill, due or not
    households: int | None = None  # on the meter (the quota's count)


@dataclass(frozen=True)
class AreaUsage:
    """What a group of customers used in one month (`UtilityBackend.area_usage`): how
    many had a bill then, and the mean of their kWh per day."""

    customers: int
    kwh_per_day: float


class UtilityBackend(Protocol):
    """The queries the bot needs from the utility's customer-care system.

    The notice runs (`bot/notify`) know the customers by the codes chats linked, which
    live in our database: they ask about many codes at once (`bills_of`,
    `matching_customers`, `customer_units`), one call per batch, never one per customer.
    """

    async def customer(self, code: str) -> CustomerRecord | None: ...

    async def customers_by_phone(self, phone: str) -> list[CustomerRecord]: ...

    async def bills(
        self,
        code: str,
        *,
        year: int | None = None,
        month: int | None = None,
        term: int | None = None,
        limit: int = 24,
    ) -> list[BillRecord]: ...

    async def unpaid_bills(self, code: str) -> list[BillRecord]: ...

    async def readings(self, code: str, start: date, end: date) -> list[ReadingRecord]: ...

    async def outages(
        self, province_code: int, ward_code: int | None, start: datetime, end: datetime
    ) -> list[OutageRecord]: ...

    async def payment_points_near(
        self, latitude: float, longitude: float, *, limit: int = 5, offset: int = 0
    ) -> list[PaymentPointRecord]: ...

    async def unit_name(self, unit_code: str) -> str | None: ...

    async def bills_of(self, codes: Sequence[str], where: BillFilter) -> list[BillRecord]:
        """The bills of these customers that `where` picks, by id."""

    async def matching_customers(self, codes: Sequence[str], where: CustomerFilter) -> set[str]:
        """Those of these customer codes that `where` picks."""

    async def customer_names(self, codes: Sequence[str]) -> dict[str, str]:
        """The name on each contract of `codes` that exists (the console's lists)."""

    async def count_customers(self, where: CustomerFilter) -> int:
        """How many of the utility's customers `where` picks, with a chat or not (the
        console's outage preview: how many customers an area holds)."""

    async def area_usage(
        self, where: CustomerFilter, year: int, month: int, *, excluding: str
    ) -> AreaUsage:
        """The kWh per day of the customers `where` picks, but `excluding`, in the bills
        of `month` (a new customer's bill beside similar households, issue 18)."""

    async def customer_units(self, codes: Sequence[str]) -> dict[str, str]:
        """The name of the Điện lực serving each of these customers ("Điện lực Hội An")."""

    async def area_unit(self, province_code: int, ward_code: int | None) -> str | None:
        """The code of the Điện lực serving the area (a ward, or the whole province), when
        its customers have only one."""

    async def upcoming_outages(self, now: datetime, starts_by: datetime) -> list[OutageRecord]:
        """Planned outages still scheduled that start after `now` and by `starts_by`, and
        incidents in progress not over at `now`, by id."""

    async def cancelled_outages(self, ended_after: datetime) -> list[int]:
        """The ids of the outages called off that end after `ended_after`."""

    async def bills_by_id(self, ids: Sequence[int]) -> list[BillRecord]:
        """These bills (those that exist), for a payment naming them."""

    async def settle_bills(
        self, session: AsyncSession, settlements: Sequence[BillSettlement]
    ) -> list[bool]:
        """Record each payment of all of its bills, or of none, in order: True where
        every bill was unpaid (and not taken by an earlier settlement of the list) and is
        now paid; False, changing nothing for it, where any was paid already.

        `session` is the payments' own transaction: over our database the bills change
        in it, so the orders and their bills commit together; a client of the utility's
        API posts each payment with its `reference` as its idempotency key instead."""


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine) in kilometres."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi, dlambda = phi2 - phi1, math.radians(lon2 - lon1)
    h = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlambda / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(h))


class SqlUtilityBackend:
    """`UtilityBackend` over our own database (the demo data, or a synced copy).

    It reads through `Database.reading()`, apart from the conversation's transaction,
    as a real utility API would be.
    """

    def __init__(self, db: Database) -> None:
        self.db = db

    async def customer(self, code: str) -> CustomerRecord | None:
        async with self.db.reading() as session:
            row = await session.scalar(select(Customer).where(Customer.code == code.upper()))
            return _customer(row) if row else None

    async def customer_names(self, codes: Sequence[str]) -> dict[str, str]:
        if not codes:
            return {}
        async with self.db.reading() as session:
            rows = await session.execute(
                select(Customer.code, Customer.name).where(Customer.code.in_(set(codes)))
            )
            return {code: name for code, name in rows}

    async def customers_by_phone(self, phone: str) -> list[CustomerRecord]:
        async with self.db.reading() as session:
            rows = await session.scalars(
                select(Customer)
                .join(CustomerPhone)
                .where(CustomerPhone.phone == phone)
                .order_by(Customer.code)
            )
            return [_customer(row) for row in rows.unique()]

    async def bills(
        self,
        code: str,
        *,
        year: int | None = None,
        month: int | None = None,
        term: int | None = None,
        limit: int = 24,
    ) -> list[BillRecord]:
        """The customer's bills, newest first, optionally for one kỳ/tháng/năm."""
        query = select(Bill).join(Customer).where(Customer.code == code.upper())
        if year is not None:
            query = query.where(Bill.year == year)
        if month is not None:
            query = query.where(Bill.month == month)
        if term is not None:
            query = query.where(Bill.term == term)
        query = query.order_by(Bill.period_end.desc()).limit(limit)
        return await self._bills(query, code)

    async def unpaid_bills(self, code: str) -> list[BillRecord]:
        query = (
            select(Bill)
            .join(Customer)
            .where(Customer.code == code.upper(), Bill.status == "unpaid")
            .order_by(Bill.period_end)
        )
        return await self._bills(query, code)

    async def _bills(self, query: Any, code: str) -> list[BillRecord]:
        async with self.db.reading() as session:
            rows = await session.scalars(query.options(selectinload(Bill.invoice)))
            return [_bill(row, code.upper()) for row in rows]

    async def readings(self, code: str, start: date, end: date) -> list[ReadingRecord]:
        async with self.db.reading() as session:
            rows = await session.scalars(
                select(MeterReading)
                .join(Customer)
                .where(
                    Customer.code == code.upper(),
                    MeterReading.read_on >= start,
                    MeterReading.read_on <= end,
                )
                .order_by(MeterReading.read_on)
            )
            return [ReadingRecord(r.read_on, r.term, r.index_value, r.kwh) for r in rows]

    async def outages(
        self, province_code: int, ward_code: int | None, start: datetime, end: datetime
    ) -> list[OutageRecord]:
        """Outages overlapping [start, end] in the ward, or anywhere in the province
        when `ward_code` is None; an outage of the whole province matches every ward."""
        area = OutageArea.province_code == province_code
        if ward_code is not None:
            area = and_(
                area, or_(OutageArea.ward_code.is_(None), OutageArea.ward_code == ward_code)
            )
        query = (
            select(Outage)
            .join(OutageArea)
            .where(area, Outage.end_at >= start, Outage.start_at <= end)
            .where(Outage.status != "cancelled")
            .order_by(Outage.start_at)
        )
        async with self.db.reading() as session:
            return [outage_record(row) for row in (await session.scalars(query)).unique()]

    async def payment_points_near(
        self, latitude: float, longitude: float, *, limit: int = 5, offset: int = 0
    ) -> list[PaymentPointRecord]:
        """The nearest payment points, closest first (paged by limit/offset)."""
        wanted = offset + limit
        async with self.db.reading() as session:
            # Widen a bounding box until it holds enough points, then sort exactly.
            for degrees in (0.1, 0.3, 1.0, 3.0, 180.0):
                rows = list(
                    await session.scalars(
                        select(PaymentPoint).where(
                            PaymentPoint.latitude.between(latitude - degrees, latitude + degrees),
                            PaymentPoint.longitude.between(
                                longitude - degrees, longitude + degrees
                            ),
                        )
                    )
                )
                if len(rows) >= wanted:
                    break
        ranked = sorted(
            (
                PaymentPointRecord(
                    p.name,
                    p.address,
                    p.ward_name,
                    p.province_name,
                    p.ward_code,
                    p.province_code,
                    p.latitude,
                    p.longitude,
                    p.opening_hours,
                    p.kind,
                    round(distance_km(latitude, longitude, p.latitude, p.longitude), 2),
                )
                for p in rows
            ),
            key=lambda point: point.distance_km or 0.0,
        )
        return ranked[offset:wanted]

    async def unit_name(self, unit_code: str) -> str | None:
        async with self.db.reading() as session:
            unit = await session.get(ManagingUnit, unit_code)
            return unit.name if unit else None

    # --- the notice runs' questions, about many customers at once -----------------------

    async def bills_of(self, codes: Sequence[str], where: BillFilter) -> list[BillRecord]:
        query = (
            select(Bill, Customer.code)
            .join(Customer, Customer.id == Bill.customer_id)
            .where(*_bill_filters(where))
            .order_by(Bill.id)
        )
        found: list[BillRecord] = []
        async with self.db.reading() as session:
            for batch in _batches(codes):
                rows = await session.execute(query.where(Customer.code.in_(batch)))
                found += [_bill(bill, code) for bill, code in rows]
        return sorted(found, key=lambda bill: bill.id or 0)

    async def matching_customers(self, codes: Sequence[str], where: CustomerFilter) -> set[str]:
        query = select(Customer.code).where(*_customer_filters(where))
        found: set[str] = set()
        async with self.db.reading() as session:
            for batch in _batches(codes):
                found.update(await session.scalars(query.where(Customer.code.in_(batch))))
        return found

    async def count_customers(self, where: CustomerFilter) -> int:
        async with self.db.reading() as session:
            query = select(func.count()).select_from(Customer).where(*_customer_filters(where))
            return int(await session.scalar(query) or 0)

    async def area_usage(
        self, where: CustomerFilter, year: int, month: int, *, excluding: str
    ) -> AreaUsage:
        query = (
            select(Bill.customer_id, Bill.kwh, Bill.period_start, Bill.period_end)
            .join(Customer, Customer.id == Bill.customer_id)
            .where(*_customer_filters(where), Customer.code != excluding)
            .where(Bill.year == year, Bill.month == month)
        )
        per_customer: dict[int, tuple[int, int]] = {}
        async with self.db.reading() as session:
            for customer_id, kwh, start, end in await session.execute(query):
                used, days = per_customer.get(customer_id, (0, 0))
                per_customer[customer_id] = (used + kwh, days + (end - start).days + 1)
        rates = [used / days for used, days in per_customer.values() if days]
        return AreaUsage(len(rates), sum(rates) / len(rates) if rates else 0.0)

    async def customer_units(self, codes: Sequence[str]) -> dict[str, str]:
        query = select(Customer.code, ManagingUnit.name).join(
            ManagingUnit, ManagingUnit.code == Customer.unit_code
        )
        units: dict[str, str] = {}
        async with self.db.reading() as session:
            for batch in _batches(codes):
                rows = await session.execute(query.where(Customer.code.in_(batch)))
                units.update({code: name for code, name in rows})
        return units

    async def area_unit(self, province_code: int, ward_code: int | None) -> str | None:
        query = select(Customer.unit_code).where(Customer.province_code == province_code)
        if ward_code is not None:
            query = query.where(Customer.ward_code == ward_code)
        async with self.db.reading() as session:
            units = list(await session.scalars(query.distinct().limit(2)))
        return units[0] if len(units) == 1 else None

    async def upcoming_outages(self, now: datetime, starts_by: datetime) -> list[OutageRecord]:
        planned = and_(
            Outage.kind == "planned",
            Outage.status == "scheduled",
            Outage.start_at > now,
            Outage.start_at <= starts_by,
        )
        incident = and_(
            Outage.kind == "incident", Outage.status == "in_progress", Outage.end_at > now
        )
        async with self.db.reading() as session:
            rows = await session.scalars(
                select(Outage).where(planned | incident).order_by(Outage.id)
            )
            return [outage_record(row) for row in rows]

    async def cancelled_outages(self, ended_after: datetime) -> list[int]:
        async with self.db.reading() as session:
            ids = await session.scalars(
                select(Outage.id).where(Outage.status == "cancelled", Outage.end_at > ended_after)
            )
            return list(ids)

    async def bills_by_id(self, ids: Sequence[int]) -> list[BillRecord]:
        if not ids:
            return []
        async with self.db.reading() as session:
            rows = await session.execute(
                select(Bill, Customer.code)
                .join(Customer)
                .where(Bill.id.in_(set(ids)))
                .options(selectinload(Bill.invoice))
            )
            return [_bill(bill, code) for bill, code in rows]

    async def settle_bills(
        self, session: AsyncSession, settlements: Sequence[BillSettlement]
    ) -> list[bool]:
        wanted = sorted({bill_id for s in settlements for bill_id in s.bill_ids})
        # FOR UPDATE: a second payment of the same bill on PostgreSQL waits for this one
        # and then finds it paid (SQLite has one writer at a time anyway).
        open_ids: set[int] = set()
        for start in range(0, len(wanted), 1000):
            open_ids.update(
                await session.scalars(_OPEN_BILLS, {"ids": wanted[start : start + 1000]})
            )
        done: list[bool] = []
        rows: list[dict[str, Any]] = []
        for settlement in settlements:
            ids = set(settlement.bill_ids)
            ok = ids <= open_ids
            done.append(ok)
            if ok:
                open_ids -= ids
                rows += [
                    {"bill_id": i, "at": settlement.paid_at, "via": settlement.channel}
                    for i in sorted(ids)
                ]
        if rows:
            await session.execute(_PAY_BILL, rows)
        return done


# Built once: on a payment's path (issue 16: 200 IPNs a second).
_OPEN_BILLS = (
    select(Bill.id)
    .where(Bill.id.in_(bindparam("ids", expanding=True)), Bill.status == "unpaid")
    .with_for_update()
)
_BILLS = cast(Table, Bill.__table__)
_PAY_BILL = (
    update(_BILLS)  # Core: executemany, no ORM bookkeeping
    .where(_BILLS.c.id == bindparam("bill_id"))
    .values(status="paid", paid_at=bindparam("at"), paid_channel=bindparam("via"))
)


def _batches(codes: Sequence[str]) -> list[list[str]]:
    """The codes, each once, in IN lists of a reasonable size."""
    unique = sorted(set(codes))
    return [unique[start : start + 1000] for start in range(0, len(unique), 1000)]


def _bill_filters(where: BillFilter) -> list[Any]:
    filters: list[Any] = []
    if where.status is not None:
        filters.append(Bill.status == where.status)
    if where.issued_between is not None:
        filters.append(Bill.issued_on.between(*where.issued_between))
    if where.due_between is not None:
        filters.append(Bill.due_date.between(*where.due_between))
    if where.paid_since is not None:
        filters += [Bill.paid_at.is_not(None), Bill.paid_at >= where.paid_since]
    if where.period is not None:
        filters += [Bill.year == where.period[0], Bill.month == where.period[1]]
    return filters


def _customer_filters(where: CustomerFilter) -> list[Any]:
    filters: list[Any] = []
    if where.province_code is not None:
        filters.append(Customer.province_code == where.province_code)
    if where.ward_code is not None:
        filters.append(Customer.ward_code == where.ward_code)
    if where.tariff_group is not None:
        filters.append(Customer.tariff_group == where.tariff_group)
    if where.households is not None:
        filters.append(Customer.households == where.households)
    if where.has_debt:
        filters.append(
            exists().where(and_(Bill.customer_id == Customer.id, Bill.status == "unpaid"))
        )
    return filters


def outage_record(row: Outage) -> OutageRecord:
    """The record of an outage row (its areas loaded), e.g. one a producer just wrote."""
    return OutageRecord(
        row.id,
        row.kind,
        row.start_at,
        row.end_at,
        row.reason,
        row.area_description,
        row.status,
        row.unit_code,
        tuple(
            OutageAreaRecord(area.province_code, area.ward_code, tuple(area.streets or ()))
            for area in row.areas
        ),
    )


def _customer(row: Customer) -> CustomerRecord:
    return CustomerRecord(
        code=row.code,
        name=row.name,
        address=row.address,
        ward_code=row.ward_code,
        ward_name=row.ward_name,
        province_code=row.province_code,
        province_name=row.province_name,
        former_district=row.former_district,
        latitude=row.latitude,
        longitude=row.longitude,
        phones=tuple(phone.phone for phone in row.phones),
        email=row.email,
        tariff_group=row.tariff_group,
        voltage_level=row.voltage_level,
        households=row.households,
        meter_number=row.meter_number,
        reading_day=row.reading_day,
        terms_per_month=row.terms_per_month,
        unit_code=row.unit_code,
        unit_name=row.unit.name,
    )


def _bill(row: Bill, code: str) -> BillRecord:
    invoice = row.invoice
    return BillRecord(
        customer_code=code,
        term=row.term,
        month=row.month,
        year=row.year,
        period_start=row.period_start,
        period_end=row.period_end,
        old_index=row.old_index,
        new_index=row.new_index,
        kwh=row.kwh,
        before_vat=row.before_vat,
        vat_rate=row.vat_rate,
        vat=row.vat,
        total=row.total,
        issued_on=row.issued_on,
        due_date=row.due_date,
        status=row.status,
        paid_at=row.paid_at,
        paid_channel=row.paid_channel,
        invoice=InvoiceRecord(
            invoice.form, invoice.series, invoice.number, invoice.issued_on, tuple(invoice.lines)
        )
        if invoice
        else None,
        id=row.id,
    )
