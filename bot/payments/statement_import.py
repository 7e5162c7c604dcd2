"""`cskh payments import FILE.csv`: a bank statement's incoming transfers matched to
VietQR orders by the reference in their transfer text.

Every line is remembered by its key (the bank's reference, else a hash of the line), so
running the same file again, or an overlapping one, imports nothing twice. A line whose
text names an order pays it (or is held, as reconciliation decides) in the same
transaction that records the line; lines naming no order are recorded as unmatched in
batches (a statement holds every transfer the account received, not only ours).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import cast

from sqlalchemy import Table, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.payments.settle import Arrival, Settler
from bot.payments.statement import StatementRow, parse_statement
from bot.payments.vietqr import find_references
from bot.store.db import Database
from bot.store.payment_models import PaymentOrder, StatementLine

log = logging.getLogger(__name__)

BATCH = 1000
# Matched lines settled at once on PostgreSQL (each its own transaction and connection):
# a line spends most of its time waiting for the database's answers, so a few overlap
# well; SQLite has one writer, so there they take turns. Lines naming the same order
# still go one after the other, in the file's order.
CONCURRENT_SETTLES = 4


@dataclass
class ImportReport:
    """What an import did, line by line counted; `errors` are (line number, reason)."""

    lines: int = 0
    paid: int = 0
    held: int = 0
    unmatched: int = 0
    already_imported: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)
    held_ids: list[int] = field(default_factory=list)


async def import_statement(
    db: Database, settler: Settler, text: str, *, now: datetime, actor: str
) -> ImportReport:
    """Import the statement `text` (CSV); malformed lines are listed, never imported.

    Raises:
        ValueError: the file has no header with the columns it needs.
    """
    parsed = parse_statement(text)
    report = ImportReport(lines=len(parsed.rows) + len(parsed.errors), errors=list(parsed.errors))
    seen: set[str] = set()
    rows: list[StatementRow] = []
    for row in parsed.rows:  # the same line twice in one file counts once
        if row.key in seen:
            report.already_imported += 1
        else:
            seen.add(row.key)
            rows.append(row)
    for start in range(0, len(rows), BATCH):
        batch = rows[start : start + BATCH]
        async with db.reading() as session:
            known = await _known_keys(session, [row.key for row in batch])
        report.already_imported += len(known)
        fresh = [row for row in batch if row.key not in known]
        # A text may hold a chance look-alike besides the real reference ("TT TIEN..."
        # reads as one): each candidate is tried against our orders, the likeliest first.
        candidates = {row.key: find_references(row.description) for row in fresh}
        async with db.reading() as session:
            ours = await _order_refs(session, [r for refs in candidates.values() for r in refs])
        matched = []
        unmatched = []
        for row in fresh:
            ref = next((r for r in candidates[row.key] if r in ours), None)
            if ref is None:
                unmatched.append(row)
            else:
                matched.append((row, ref))
        if unmatched:
            async with db.transaction() as session:
                # Core's executemany: the ORM's bulk insert costs as much again per row.
                await session.execute(
                    insert(cast(Table, StatementLine.__table__)),
                    [_line(row, "unmatched", None, now) for row in unmatched],
                )
            report.unmatched += len(unmatched)
        await _settle_lines(db, settler, matched, now=now, actor=actor, report=report)
    log.info(
        "statement imported: %d lines, %d paid, %d held, %d unmatched, %d already, %d errors",
        report.lines,
        report.paid,
        report.held,
        report.unmatched,
        report.already_imported,
        len(report.errors),
    )
    return report


async def _settle_lines(
    db: Database,
    settler: Settler,
    matched: Sequence[tuple[StatementRow, str]],
    *,
    now: datetime,
    actor: str,
    report: ImportReport,
) -> None:
    """Settle the matched lines of a batch, each in its own transaction."""
    by_order: dict[str, list[StatementRow]] = {}
    for row, ref in matched:
        by_order.setdefault(ref, []).append(row)
    queue = list(by_order.items())
    queue.reverse()  # popped from the end: the file's order

    async def settle_some() -> None:
        while queue:
            ref, rows = queue.pop()
            for row in rows:
                await _settle_line(db, settler, row, ref, now=now, actor=actor, report=report)

    lanes = 1 if db.is_sqlite else CONCURRENT_SETTLES
    async with asyncio.TaskGroup() as group:  # a failing line stops the others too
        for _ in range(min(lanes, len(queue))):
            group.create_task(settle_some())


async def _settle_line(
    db: Database,
    settler: Settler,
    row: StatementRow,
    ref: str,
    *,
    now: datetime,
    actor: str,
    report: ImportReport,
) -> None:
    async with db.transaction() as session:
        if await _known_keys(session, [row.key]):  # another import took it meanwhile
            report.already_imported += 1
            return
        outcome = await settler.arrive(
            session,
            Arrival(
                ref=ref,
                amount=row.amount,
                source="statement",
                gateway_ref=(row.bank_reference or row.key)[:64],
                actor=actor,
                paid_at=now,
                description=row.description,
            ),
            strict=False,
        )
        session.add(StatementLine(**_line(row, outcome.result, outcome.order_id, now)))
    if outcome.result == "paid":
        report.paid += 1
    else:
        report.held += 1
        if outcome.held_id is not None:
            report.held_ids.append(outcome.held_id)


async def _known_keys(session: AsyncSession, keys: Sequence[str]) -> set[str]:
    rows = await session.scalars(select(StatementLine.key).where(StatementLine.key.in_(keys)))
    return set(rows)


async def _order_refs(session: AsyncSession, refs: Sequence[str]) -> set[str]:
    found: set[str] = set()
    unique = sorted(set(refs))
    for start in range(0, len(unique), BATCH):
        rows = await session.scalars(
            select(PaymentOrder.ref).where(PaymentOrder.ref.in_(unique[start : start + BATCH]))
        )
        found.update(rows)
    return found


def _line(
    row: StatementRow, outcome: str, order_id: int | None, now: datetime
) -> dict[str, object]:
    return {
        "key": row.key,
        "booked_on": row.booked_on,
        "amount": row.amount,
        "description": row.description,
        "bank_reference": row.bank_reference or None,
        "order_id": order_id,
        "outcome": outcome,
        "imported_at": now,
    }
