"""`cskh payments held|resolve|import|query` and `cskh requests set-fee`: staff's side of
payments from the shell (the console's Thanh toán giữ lại page calls the same code)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

from bot.cli import local_minute
from bot.core.printable import printable
from bot.settings import Settings


def register(commands: Any) -> None:
    payments = commands.add_parser(
        "payments", help="payments: held money, statement import, gateway queries"
    )
    sub = payments.add_subparsers(title="payments commands")
    held = sub.add_parser("held", help="money received that staff must decide on")
    held.add_argument("--all", action="store_true", help="resolved ones too")
    held.set_defaults(run=_held, clock=None)
    resolve = sub.add_parser("resolve", help="apply held money, or note its refund")
    resolve.add_argument("id", type=int)
    how = resolve.add_mutually_exclusive_group(required=True)
    how.add_argument("--apply", action="store_true", help="pay what its order covers")
    how.add_argument("--refund-note", metavar="TEXT", help="how the money went back")
    resolve.set_defaults(run=_resolve, clock=None)
    imported = sub.add_parser("import", help="match a bank statement (CSV) to VietQR orders")
    imported.add_argument("file", type=Path)
    imported.set_defaults(run=_import, clock=None)
    query = sub.add_parser("query", help="ask VNPay about an order whose IPN never came")
    query.add_argument("txn_ref")
    query.set_defaults(run=_query, clock=None)


def register_fee(requests_sub: Any) -> None:
    """`cskh requests set-fee CODE AMOUNT`, beside the other request commands."""
    fee = requests_sub.add_parser(
        "set-fee", help="set the fee of an approved request; the customer can pay it in chat"
    )
    fee.add_argument("code", help="e.g. YC-2026-000123")
    fee.add_argument("amount", type=int, help="in đồng, e.g. 2500000")
    fee.set_defaults(run=_set_fee, clock=None)


async def _with_runtime(
    settings: Settings, work: Any, *, sending: bool = False, clock: Any = None
) -> Any:
    """Run `work(runtime)`; `clock`: a test's (the commands' `clock` default is None,
    the wall clock, as `cskh notify`'s)."""
    from bot.app import build_runtime, open_for_sending

    runtime = await build_runtime(settings, prepare=False, understand=False, clock=clock)
    try:
        if sending:
            await open_for_sending(runtime)
        return await work(runtime)
    finally:
        await runtime.close()


def _held(settings: Settings, args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from bot.store.payment_models import HeldPayment, PaymentOrder

    async def work(runtime: Any) -> list[tuple[Any, Any]]:
        async with runtime.db.reading() as session:
            query = select(HeldPayment, PaymentOrder).outerjoin(
                PaymentOrder, PaymentOrder.id == HeldPayment.order_id
            )
            if not args.all:
                query = query.where(HeldPayment.status == "held")
            return list((await session.execute(query.order_by(HeldPayment.id))).all())

    rows = asyncio.run(_with_runtime(settings, work, clock=args.clock))
    if not rows:
        print("no held payments" if not args.all else "no payments were ever held")
        return 0
    for held, order in rows:
        what = (
            f"order {order.ref} ({order.customer_code or '-'}, {order.amount:,} đ)"
            if order
            else "no order"
        )
        print(
            f"#{held.id}  {local_minute(held.created_at.isoformat())}  {held.amount:,} đ  "
            f"{held.source}  "
            f"{held.reason}  {what}  {held.status}"
            + (f"  — {printable(held.description)}" if held.description else "")
            + (f"  [{printable(held.note)}]" if held.note else "")
        )
    return 0


def _resolve(settings: Settings, args: argparse.Namespace) -> int:
    from bot.payments.settle import ResolveError, resolve_held

    async def work(runtime: Any) -> str:
        service = runtime.engine.services.payments
        async with runtime.db.transaction() as session:
            held = await resolve_held(
                session,
                service.settler,
                args.id,
                apply=args.apply,
                note=args.refund_note,
                actor="staff:cli",
                now=runtime.engine.services.clock.now(),
            )
            return str(held.status)

    try:
        status = asyncio.run(_with_runtime(settings, work, clock=args.clock))
    except ResolveError as error:
        print(f"cskh: {error}", file=sys.stderr)
        return 2
    print(f"held payment #{args.id}: {status}")
    return 0


def _import(settings: Settings, args: argparse.Namespace) -> int:
    from bot.payments.statement_import import import_statement

    try:
        text = args.file.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        print(f"cskh: cannot read {args.file}: {error}", file=sys.stderr)
        return 2

    async def work(runtime: Any) -> Any:
        service = runtime.engine.services.payments
        return await import_statement(
            runtime.db,
            service.settler,
            text,
            now=runtime.engine.services.clock.now(),
            actor=f"statement:{args.file.name}"[:80],
        )

    try:
        report = asyncio.run(_with_runtime(settings, work, clock=args.clock))
    except ValueError as error:
        print(f"cskh: {args.file}: {error}", file=sys.stderr)
        return 2
    print(
        f"{report.lines} lines: {report.paid} paid, {report.held} held for staff, "
        f"{report.unmatched} not ours, {report.already_imported} imported before, "
        f"{len(report.errors)} with errors"
    )
    for line, reason in report.errors:
        print(f"  line {line}: {reason}")
    if report.held_ids:
        print("held: " + ", ".join(f"#{i}" for i in report.held_ids) + " (cskh payments held)")
    return 1 if report.errors else 0


def _query(settings: Settings, args: argparse.Namespace) -> int:
    from bot.payments.vnpay import GatewayError

    async def work(runtime: Any) -> Any:
        return await runtime.engine.services.payments.query(args.txn_ref)

    try:
        answer, outcome = asyncio.run(_with_runtime(settings, work, clock=args.clock))
    except LookupError as error:
        print(f"cskh: {error}", file=sys.stderr)
        return 2
    except GatewayError as error:
        print(f"cskh: VNPay did not answer: {error}", file=sys.stderr)
        return 3
    print(
        f"{args.txn_ref}: VNPay says response {answer.response_code}, "
        f"transaction status {answer.transaction_status}" + (f"; {outcome}" if outcome else "")
    )
    return 0


def _set_fee(settings: Settings, args: argparse.Namespace) -> int:
    from bot.payments.fees import FeeError, set_fee

    async def work(runtime: Any) -> bool:
        return await set_fee(
            runtime.db,
            runtime.pusher,
            runtime.texts,
            runtime.engine.services.clock,
            args.code,
            args.amount,
            actor="staff:cli",
        )

    try:
        told = asyncio.run(_with_runtime(settings, work, sending=True, clock=args.clock))
    except FeeError as error:
        print(f"cskh: {error}", file=sys.stderr)
        return 2
    print(
        f"{args.code}: fee {args.amount:,} đ"
        + ("; the customer was told" if told else "; the customer could not be told")
    )
    return 0
