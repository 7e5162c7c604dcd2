"""The data store on SQLite and PostgreSQL: migrations, models, the utility backend."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import func, inspect, select

from bot.store.backend import BillFilter, CustomerFilter, SqlUtilityBackend, distance_km
from bot.store.db import Database
from bot.store.migrate import current_revision, head_revision, is_up_to_date, upgrade
from bot.store.models import Bill, ChatUser, Customer
from tests.conftest import DEMO_TODAY


async def test_migrations_create_every_table_and_are_idempotent(database_url: str) -> None:
    db = Database(database_url)
    try:
        assert await current_revision(db) is None
        assert not await is_up_to_date(db)
        assert await upgrade(db) == head_revision()
        assert await upgrade(db) == head_revision()  # a second run changes nothing
        async with db.engine.connect() as conn:
            tables = set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
    finally:
        await db.dispose()
    assert {
        "customers",
        "customer_phones",
        "meter_readings",
        "bills",
        "e_invoices",
        "payment_points",
        "outages",
        "outage_areas",
        "managing_units",
        "chat_users",
        "customer_links",
        "conversations",
        "transcript_messages",
        "service_requests",
        "service_request_events",
        "media",
        "rest_messages",
    } <= tables


async def test_concurrent_upgrades_do_not_collide(database_url: str) -> None:
    """Several processes starting together: the lock makes them take turns."""
    dbs = [Database(database_url) for _ in range(3)]
    try:
        results = await asyncio.gather(*(upgrade(db) for db in dbs))
    finally:
        for db in dbs:
            await db.dispose()
    assert results == [head_revision()] * 3


async def test_timestamps_come_back_timezone_aware(migrated_url: str) -> None:
    db = Database(migrated_url)
    moment = datetime(2026, 11, 26, 7, 30, tzinfo=UTC) + timedelta(hours=7)
    try:
        async with db.transaction() as session:
            session.add(ChatUser(channel="rest", platform_user_id="tz", activated_at=moment))
        async with db.reading() as session:
            user = await session.scalar(select(ChatUser).where(ChatUser.platform_user_id == "tz"))
    finally:
        await db.dispose()
    assert user is not None and user.activated_at == moment
    assert user.activated_at.tzinfo is not None


async def test_ping_fails_cleanly_when_the_database_is_unreachable() -> None:
    db = Database("postgresql+asyncpg://postgres@127.0.0.1:9/nowhere")
    try:
        assert await db.ping() is False
    finally:
        await db.dispose()


async def test_backend_reads_a_persona(seeded_url: str) -> None:
    db = Database(seeded_url)
    backend = SqlUtilityBackend(db)
    try:
        customer = await backend.customer("pc05cc0123456")  # codes are case-insensitive
        assert customer is not None
        assert customer.name == "Nguyễn Văn An"
        assert customer.full_address == "12 Trần Phú, Phường Hội An, Thành phố Đà Nẵng"
        assert customer.unit_name == "Điện lực Hội An"
        assert customer.phones == ("+84905123456",)
        assert [c.code for c in await backend.customers_by_phone("+84905123456")] == [
            "PC05CC0123456",
            "PC05CC0123457",
        ]
        assert await backend.customer("PC05CC9999999") is None

        bills = await backend.bills("PC05CC0123456")
        assert len(bills) == 24
        assert bills[0].period_end > bills[-1].period_end  # newest first
        latest = bills[0]
        assert latest.status == "unpaid" and latest.paid_at is None
        assert all(b.status == "paid" and b.paid_at is not None for b in bills[1:])
        assert latest.total == latest.before_vat + latest.vat
        assert latest.invoice is not None and latest.invoice.symbol.startswith("1K")
        assert sum(line["amount"] for line in latest.invoice.lines) == latest.before_vat
        one = await backend.bills("PC05CC0123456", year=latest.year, month=latest.month, term=1)
        assert [b.period_end for b in one] == [latest.period_end]
        assert [b.period_end for b in await backend.unpaid_bills("PC05CC0123456")] == [
            latest.period_end
        ]

        readings = await backend.readings(
            "PC05CC0123456", latest.period_start - timedelta(days=40), latest.period_end
        )
        assert readings[-1].index_value == latest.new_index
        assert readings[-1].kwh == latest.kwh
    finally:
        await db.dispose()


async def test_backend_finds_outages_and_payment_points(seeded_url: str) -> None:
    db = Database(seeded_url)
    backend = SqlUtilityBackend(db)
    try:
        start = datetime.combine(DEMO_TODAY, datetime.min.time(), UTC)
        pleiku = await backend.outages(52, 23575, start, start + timedelta(days=7))
        assert any(o.kind == "planned" and o.status == "scheduled" for o in pleiku)
        assert all(o.end_at >= start for o in pleiku)
        # A ward elsewhere in the province does not see Pleiku's outage.
        assert not [
            o
            for o in await backend.outages(52, 21583, start, start + timedelta(days=7))
            if o.id in {p.id for p in pleiku}
        ]

        points = await backend.payment_points_near(15.8801, 108.3380, limit=5)
        assert len(points) == 5
        distances = [p.distance_km for p in points]
        assert distances == sorted(distances) and distances[0] is not None
        assert distances[0] < 3  # the Hội An points are close to Hội An
        next_page = await backend.payment_points_near(15.8801, 108.3380, limit=5, offset=5)
        assert {p.name for p in next_page}.isdisjoint({p.name for p in points}) or (
            next_page[0].distance_km >= points[-1].distance_km  # type: ignore[operator]
        )
    finally:
        await db.dispose()


async def test_backend_answers_the_notice_runs_for_many_customers_at_once(
    seeded_url: str,
) -> None:
    """The notice runs ask about the codes chats linked, any number of them at once."""
    db = Database(seeded_url)
    backend = SqlUtilityBackend(db)
    binh, an, shop = "PC03BB0045678", "PC05CC0123456", "PC05CC0123457"
    # Unknown codes sorting between An's two, so they fall in different IN lists.
    asked = [shop, binh, *(f"{an}-{n:04d}" for n in range(1500)), an, an]
    try:
        every = await backend.bills_of(asked, BillFilter())
        assert [b.id for b in every] == sorted(b.id for b in every)  # by id, across lists
        for code in (binh, an, shop):
            own = await backend.bills(code, limit=99)
            assert {b.id for b in every if b.customer_code == code} == {b.id for b in own}
        unpaid = await backend.bills_of(asked, BillFilter(status="unpaid"))
        assert sorted((b.customer_code, b.status) for b in unpaid) == [
            (binh, "unpaid"),
            (binh, "unpaid"),
            (an, "unpaid"),
        ]
        [latest] = await backend.unpaid_bills(an)
        for where in (
            BillFilter(status="unpaid", period=(latest.year, latest.month)),
            BillFilter(issued_between=(latest.issued_on, latest.issued_on)),
            BillFilter(due_between=(latest.due_date, latest.due_date)),
        ):
            assert latest.id in [b.id for b in await backend.bills_of([an, shop], where)]
        paid = [b for b in every if b.paid_at is not None]
        last_paid = max(b.paid_at for b in paid if b.paid_at is not None)
        since = await backend.bills_of(asked, BillFilter(status="paid", paid_since=last_paid))
        assert [b.paid_at for b in since] == [last_paid]

        assert await backend.matching_customers(asked, CustomerFilter()) == {binh, an, shop}
        in_hoi_an = CustomerFilter(province_code=48, ward_code=20410)
        assert await backend.matching_customers(asked, in_hoi_an) == {an, shop}
        shops = CustomerFilter(province_code=48, tariff_group="business")
        assert await backend.matching_customers(asked, shops) == {shop}
        in_debt = CustomerFilter(has_debt=True)
        assert await backend.matching_customers(asked, in_debt) == {binh, an}
        assert await backend.matching_customers([], in_debt) == set()

        units = await backend.customer_units(asked)
        assert units[an] == units[shop] == "Điện lực Hội An" and set(units) == {binh, an, shop}
        customer = await backend.customer(an)
        assert customer is not None
        assert await backend.area_unit(48, 20410) == customer.unit_code  # Hội An's one unit
        assert await backend.area_unit(48, None) is None  # Đà Nẵng has several
        everyone = await backend.count_customers(CustomerFilter())
        assert 0 < await backend.count_customers(in_hoi_an) < everyone
        assert await backend.count_customers(CustomerFilter(province_code=99)) == 0
    finally:
        await db.dispose()


async def test_demo_data_set_has_the_promised_size(seeded_url: str) -> None:
    db = Database(seeded_url)
    try:
        async with db.reading() as session:
            customers = await session.scalar(select(func.count()).select_from(Customer))
            households = await session.scalar(
                select(func.count())
                .select_from(Customer)
                .where(Customer.tariff_group == "household")
            )
            unpaid = await session.scalar(
                select(func.count()).select_from(Bill).where(Bill.status == "unpaid")
            )
            first = await session.scalar(select(func.min(Bill.period_start)))
    finally:
        await db.dispose()
    assert customers is not None and customers >= 500
    assert households is not None and households > customers * 0.8
    assert unpaid and unpaid > 0
    assert first is not None and first <= date(2024, 12, 31)  # 24 months back


def test_distance_is_great_circle() -> None:
    assert round(distance_km(16.0, 108.0, 17.0, 108.0), 1) == 111.2  # one degree of latitude
    # Hải Châu (Đà Nẵng) to Hội An: about 23.6 km as the crow flies.
    assert round(distance_km(16.0600, 108.2200, 15.8801, 108.3380), 1) == 23.6


async def test_migrations_build_exactly_the_schema_the_models_describe(migrated_url: str) -> None:
    """A column added to a model without a migration (or the reverse) fails here, not on
    a customer's first message after an upgrade."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from bot.store import faq_models, staff_models  # noqa: F401  (the console's, the FAQ's)
    from bot.store.models import Base

    def differences(connection: object) -> list[object]:
        context = MigrationContext.configure(connection, opts={"compare_type": False})
        return compare_metadata(context, Base.metadata)

    db = Database(migrated_url)
    try:
        async with db.engine.connect() as conn:
            diff = await conn.run_sync(differences)
    finally:
        await db.dispose()
    # An index on an expression (the outbox's claim order) is compared only roughly by
    # Alembic: it shows as removed and added again, so expression indexes are left out.
    expression_indexes = {"ix_deliveries_claim"}
    real = [
        change
        for change in diff
        if not (
            isinstance(change, tuple)
            and change[0] in ("add_index", "remove_index")
            and change[1].name in expression_indexes
        )
    ]
    assert real == []
