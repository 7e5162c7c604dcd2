"""Settlement behind the IPN (issue 16's 200 IPNs a second): VNPay's money is recorded on
its order in one statement and confirmed at once, and a settlement worker pays the bills
and sends the receipt. Nothing is lost when the process that received it stops, and a
statement's matched lines are settled many to a transaction, each once. On SQLite and on
PostgreSQL."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import parse_qsl

import pytest
from sqlalchemy import func, select, text

from bot.app import payment_service, utility_backend
from bot.payments import service as service_module
from bot.payments.settle import ResolveError, resolve_held
from bot.payments.statement_import import import_statement
from bot.payments.vnpay import parse_result
from bot.store.db import Database
from bot.store.payment_models import HeldPayment, PaymentEvent
from tests.e2e.test_cli import CSKH, _env
from tests.handlers.payment_helpers import (
    all_paid,
    held,
    link_of,
    orders,
    pushed,
    statement,
    unpaid_totals,
)
from tests.handlers.rig import Rig, make_rig, password_login
from tests.handlers.test_payments import ipn
from tests.helpers import NLU_CACHE, create_pg_database, drop_pg_database, eventually

AN = ("annguyen", "An@2026cskh")
CODE = "PC05CC0123456"


@pytest.fixture
async def rig(
    tmp_path: Path, own_seeded_url: str, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Rig]:
    # The worker looks for money other processes recorded every 0.2 s instead of 5 s.
    monkeypatch.setattr(service_module, "RECEIVED_POLL", 0.2)
    async for made in make_rig(tmp_path, own_seeded_url):
        yield made


@pytest.fixture
async def pg_rig(
    tmp_path: Path, pg_seeded_template: str | None, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Rig]:
    """A rig on a seeded PostgreSQL database of the test's own (CSKH_TEST_DATABASE_URL)."""
    if pg_seeded_template is None:
        pytest.skip("CSKH_TEST_DATABASE_URL is not set")
    monkeypatch.setattr(service_module, "RECEIVED_POLL", 0.2)
    url = await create_pg_database(pg_seeded_template)
    try:
        async for made in make_rig(tmp_path, url):
            yield made
    finally:
        await drop_pg_database(url)


async def an_orders(rig: Rig, name: str, method: str = "💳 Thẻ/ngân hàng (VNPay)") -> object:
    an = await password_login(rig, "rest", name, *AN)
    await an.press(f"⭐ {CODE} — Nguyễn Văn An")
    await an.say("/pay")
    await an.press(method)
    return an


def other_process(rig: Rig) -> tuple[Database, service_module.PaymentService]:
    """The payments service of another `cskh serve` on the same database, whose
    settlement worker is not running (it stopped right after answering an IPN)."""
    runtime = rig.runtime
    db = Database(runtime.settings.database_url)
    texts = runtime.texts
    clock = runtime.engine.services.clock
    backend = utility_backend(runtime.settings, db)
    return db, payment_service(runtime.settings, db, backend, clock, texts)


async def gateway_calls(payments: service_module.PaymentService, query: str) -> str:
    """VNPay's IPN (its signed query string) as the payments service receives it."""
    return await payments.vnpay_result(parse_result(dict(parse_qsl(query))))


async def test_money_recorded_by_a_process_that_stopped_is_settled_by_another(
    rig: Rig,
) -> None:
    an = await an_orders(rig, "an-stopped")
    assert link_of(an)
    _, query = await ipn(rig)
    db, stopped = other_process(rig)
    try:
        answer = await gateway_calls(stopped, query)
    finally:
        await db.dispose()
    assert answer == "00"  # VNPay is told the money is ours: it must not be lost now
    # The process that answered never settled it; the bot's own worker finds it.
    await all_paid(rig.runtime, CODE)
    receipt = await pushed(an, "Đã nhận thanh toán")
    assert "320.652 đ" in receipt
    [order] = await orders(rig.runtime)
    assert order.status == "paid"
    async with rig.runtime.db.reading() as session:
        events = list(await session.scalars(select(PaymentEvent.event).order_by(PaymentEvent.id)))
    assert events == ["order_created", "paid"]
    # VNPay asking again is "already confirmed", and pays nothing more.
    answer_again = (await rig.server.get(f"/payments/vnpay/ipn?{query}"))[1]["RspCode"]
    assert answer_again == "02"


async def test_a_transfer_for_money_vnpay_just_confirmed_is_held_not_paid_twice(
    rig: Rig,
) -> None:
    """VNPay's IPN recorded the money; before it is settled, a bank transfer naming the
    same order arrives: the transfer is held for staff, the bill paid once."""
    an = await an_orders(rig, "an-both")
    assert link_of(an)
    [order] = await orders(rig.runtime)
    _, query = await ipn(rig)
    db, stopped = other_process(rig)
    try:
        assert await gateway_calls(stopped, query) == "00"
        report = await import_statement(
            db,
            stopped.settler,
            statement(("07/12/2026", order.amount, f"{order.ref} {CODE}", "FT1")),
            now=rig.clock.now(),
            actor="staff:test",
        )
    finally:
        await db.dispose()
    assert (report.paid, report.held) == (0, 1)
    await all_paid(rig.runtime, CODE)
    [money_held] = await held(rig.runtime)
    assert (money_held.reason, money_held.amount) == ("already_paid", order.amount)
    async with rig.runtime.db.reading() as session:
        paid = await session.scalar(
            select(func.count()).select_from(PaymentEvent).where(PaymentEvent.event == "paid")
        )
    assert paid == 1


async def test_two_lines_for_one_order_in_one_statement_pay_it_once(rig: Rig) -> None:
    an = await an_orders(rig, "an-twice", "🏦 Chuyển khoản VietQR")
    transfer = next(line for line in an.text.splitlines() if line.startswith("TT"))
    [order] = await orders(rig.runtime)
    file = statement(
        ("07/12/2026", order.amount, transfer, "FT26341001"),
        ("07/12/2026", order.amount, f"IBFT {transfer.replace(' ', '')}", "FT26341002"),
    )
    report = await import_statement(
        rig.runtime.db,
        rig.runtime.engine.services.payments.settler,
        file,
        now=rig.clock.now(),
        actor="staff:test",
    )
    assert (report.paid, report.held) == (1, 1)
    assert await unpaid_totals(rig.runtime, CODE) == []
    [second] = await held(rig.runtime)
    assert (second.reason, second.gateway_ref) == ("already_paid", "FT26341002")
    assert "Đã nhận thanh toán" in await pushed(an, "Đã nhận thanh toán")


async def test_the_same_statement_imported_twice_at_once_is_imported_once(rig: Rig) -> None:
    an = await an_orders(rig, "an-race-import", "🏦 Chuyển khoản VietQR")
    transfer = next(line for line in an.text.splitlines() if line.startswith("TT"))
    [order] = await orders(rig.runtime)
    file = statement(
        ("07/12/2026", order.amount, transfer, "FT26341001"),
        ("07/12/2026", 50_000, "chuyen tien an trua", "FT26341002"),
    )
    databases = [Database(rig.runtime.settings.database_url) for _ in range(2)]
    settler = rig.runtime.engine.services.payments.settler
    try:
        reports = await asyncio.gather(
            *(
                import_statement(db, settler, file, now=rig.clock.now(), actor="staff:test")
                for db in databases
            ),
            return_exceptions=True,
        )
    finally:
        for db in databases:
            await db.dispose()
    finished = [r for r in reports if not isinstance(r, BaseException)]
    assert finished, reports
    # However the two runs interleave: the order is paid once and nothing is held.
    assert sum(r.paid for r in finished) == 1
    assert sum(r.held for r in finished) == 0
    assert await unpaid_totals(rig.runtime, CODE) == []
    assert await held(rig.runtime) == []


async def test_an_ipn_gets_through_when_the_database_dropped_the_connections(
    pg_rig: Rig,
) -> None:
    """A database restart leaves dead connections in the IPN's pool (it does not ping
    them first): the IPN tries once more on a new one instead of answering 99."""
    rig = pg_rig
    an = await an_orders(rig, "an-dropped")
    assert link_of(an)
    _, unknown = await ipn(rig, vnp_TxnRef="TT00000000X")
    assert (await rig.server.get(f"/payments/vnpay/ipn?{unknown}"))[1]["RspCode"] == "01"
    async with rig.runtime.db.engine.connect() as conn:
        await conn.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        )
    _, query = await ipn(rig)
    assert (await rig.server.get(f"/payments/vnpay/ipn?{query}"))[1]["RspCode"] == "00"
    await all_paid(rig.runtime, CODE)


async def test_staff_cannot_apply_held_money_while_vnpay_money_is_being_applied(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Here the bot's worker never looks for money other processes recorded.
    monkeypatch.setattr(service_module, "RECEIVED_POLL", 3600.0)
    await asyncio.sleep(0.3)  # its current wait (0.2 s) ends; the next is an hour
    an = await an_orders(rig, "an-resolve")
    assert link_of(an)
    [order] = await orders(rig.runtime)
    _, query = await ipn(rig)
    db, stopped = other_process(rig)
    try:
        assert await gateway_calls(stopped, query) == "00"
        await import_statement(
            db,
            stopped.settler,
            statement(("07/12/2026", order.amount, f"{order.ref} {CODE}", "FT9")),
            now=rig.clock.now(),
            actor="staff:test",
        )
        [money_held] = await held(rig.runtime)

        async def staff_apply() -> None:
            async with db.transaction() as session:
                await resolve_held(
                    session,
                    stopped.settler,
                    money_held.id,
                    apply=True,
                    note=None,
                    actor="staff:test",
                    now=rig.clock.now(),
                )

        with pytest.raises(ResolveError, match="VNPay payment being applied"):
            await staff_apply()
        # Once settled, applying it would pay twice: staff are told to note a refund.
        assert await stopped.settle_received() == 1
        with pytest.raises(ResolveError, match="note a refund"):
            await staff_apply()
    finally:
        await db.dispose()
    assert await unpaid_totals(rig.runtime, CODE) == []
    async with rig.runtime.db.reading() as session:
        still = await session.get(HeldPayment, money_held.id)
    assert still is not None and still.status == "held"


async def test_the_right_amount_after_a_wrong_one_pays_and_the_wrong_one_stays_held(
    rig: Rig,
) -> None:
    """An sends 1.000 đ short, is told it is being checked, then sends the right amount:
    that pays the bill; the first transfer waits for staff to refund it."""
    an = await an_orders(rig, "an-short", "🏦 Chuyển khoản VietQR")
    transfer = next(line for line in an.text.splitlines() if line.startswith("TT"))
    [order] = await orders(rig.runtime)
    settler = rig.runtime.engine.services.payments.settler

    async def bank_sends(amount: int, reference: str) -> tuple[int, int]:
        report = await import_statement(
            rig.runtime.db,
            settler,
            statement(("07/12/2026", amount, transfer, reference)),
            now=rig.clock.now(),
            actor="staff:test",
        )
        return report.paid, report.held

    assert await bank_sends(order.amount - 1000, "FT1") == (0, 1)
    assert await unpaid_totals(rig.runtime, CODE) == [order.amount]
    assert await bank_sends(order.amount, "FT2") == (1, 0)
    assert await unpaid_totals(rig.runtime, CODE) == []
    [short] = await held(rig.runtime)
    assert (short.reason, short.amount, short.status) == (
        "amount_mismatch",
        order.amount - 1000,
        "held",
    )
    assert (await orders(rig.runtime))[0].status == "paid"
    assert "Đã nhận thanh toán" in await pushed(an, "Đã nhận thanh toán")


async def test_a_wrong_amount_and_the_right_one_in_one_statement_leave_the_order_paid(
    rig: Rig,
) -> None:
    an = await an_orders(rig, "an-short-same-file", "🏦 Chuyển khoản VietQR")
    transfer = next(line for line in an.text.splitlines() if line.startswith("TT"))
    [order] = await orders(rig.runtime)
    report = await import_statement(
        rig.runtime.db,
        rig.runtime.engine.services.payments.settler,
        statement(
            ("07/12/2026", order.amount - 1000, transfer, "FT1"),
            ("07/12/2026", order.amount, transfer, "FT2"),
        ),
        now=rig.clock.now(),
        actor="staff:test",
    )
    assert (report.paid, report.held) == (1, 1)
    assert await unpaid_totals(rig.runtime, CODE) == []
    assert (await orders(rig.runtime))[0].status == "paid"
    [short] = await held(rig.runtime)
    assert (short.reason, short.gateway_ref) == ("amount_mismatch", "FT1")


@pytest.fixture
async def recording_rig(
    tmp_path: Path, own_seeded_url: str, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Rig]:
    """A `cskh serve` that only records payments and queues notices
    (CSKH_PAYMENT_WORKER=0, CSKH_NOTIFY_WORKER=0): `cskh worker` does the rest."""
    monkeypatch.setattr(service_module, "RECEIVED_POLL", 0.2)
    async for made in make_rig(tmp_path, own_seeded_url, payment_worker=False, notify_worker=False):
        yield made


async def test_with_payment_worker_off_a_cskh_worker_process_settles_and_sends_the_receipt(
    recording_rig: Rig, tmp_path: Path
) -> None:
    rig = recording_rig
    an = await an_orders(rig, "an-worker")
    assert link_of(an)
    _, query = await ipn(rig)
    assert (await rig.server.get(f"/payments/vnpay/ipn?{query}"))[1]["RspCode"] == "00"
    await asyncio.sleep(0.5)  # more than the serve process would have taken
    [order] = await orders(rig.runtime)
    assert order.status == "received"  # recorded, confirmed to VNPay, not yet applied
    assert await unpaid_totals(rig.runtime, CODE) != []

    env = _env(
        CSKH_DATABASE_URL=rig.runtime.settings.database_url,
        CSKH_VAR_DIR=str(rig.runtime.settings.var_dir),  # its secret key too
        CSKH_REST_TOKEN=rig.runtime.settings.rest_token.get_secret_value(),  # REST's pushes
        CSKH_QUIET_HOURS="0-0",  # whatever the hour the test runs at
        CSKH_DEMO_SEED="0",
        CSKH_NLU_CACHE_DIR=str(NLU_CACHE),
    )
    worker = await asyncio.create_subprocess_exec(
        *CSKH, "worker", env=env, cwd=tmp_path, stderr=asyncio.subprocess.PIPE
    )
    try:
        # The worker process starts (imports, database) first: slow on a busy machine.
        async def settled() -> bool:
            return await unpaid_totals(rig.runtime, CODE) == []

        await eventually(settled, within=60, message=lambda: unpaid_totals(rig.runtime, CODE))
        receipt = await pushed(an, "Đã nhận thanh toán")
        assert "320.652 đ" in receipt
    finally:
        worker.send_signal(signal.SIGTERM)
        _, errors = await asyncio.wait_for(worker.communicate(), 20)
    assert worker.returncode == 0, errors.decode()
    assert "settling received payments" in errors.decode()
    async with rig.runtime.db.reading() as session:
        events = list(await session.scalars(select(PaymentEvent.event).order_by(PaymentEvent.id)))
    assert events == ["order_created", "paid"]
