"""`cskh payments import FILE.csv`: a bank statement's incoming transfers matched to
VietQR orders by the reference in their transfer text.

Every line is remembered by its key (the bank's reference, else a hash of the line), so
running the same file again, or an overlapping one, imports nothing twice. A line whose
text names an order pays it (or is held, as reconciliation decides) in the same
transaction that records the line, a thousand lines' worth at a time; lines naming no
order are recorded as unmatched in batches (a statement holds every transfer the account
received, not only ours).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from bot.payments.settle import Arrival, Settler
from bot.payments.statement import StatementRow, parse_statement
from bot.payments.vietqr import find_references
from bot.store.db import Database
from bot.store.payment_models import PaymentOrder, StatementLine

log = logging.getLogger(__name__)

BATCH = 1000


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
    """Settle the matched lines of a batch in one transaction, in the file's order (a
    second line for an order finds it paid): the lines are recorded first, so a line
    another import recorded meanwhile is theirs, not paid twice."""
    if not matched:
        return
    async with db.transaction() as session:
        module: Any = postgresql if db.is_postgres else sqlite
        recorded = await session.scalars(
            module.insert(StatementLine)
            .on_conflict_do_nothing(index_elements=["key"])
            .returning(StatementLine.key, sort_by_parameter_order=True),
            [_line(row, "pending", None, now) for row, _ in matched],
        )
        ours = set(recorded)
        lines = [(row, ref) for row, ref in matched if row.key in ours]
        report.already_imported += len(matched) - len(lines)
        outcomes = await settler.arrive_many(
            session,
            [
                Arrival(
                    ref=ref,
                    amount=row.amount,
                    source="statement",
                    gateway_ref=(row.bank_reference or row.key)[:64],
                    actor=actor,
                    paid_at=now,
                    description=row.description,
                )
                for row, ref in lines
            ],
            strict=False,
        )
        if lines:
            await session.execute(
                _RECORD_OUTCOME,
                [
                    {"line_key": row.key, "result": outcome.result, "order": outcome.order_id}
                    for (row, _), outcome in zip(lines, outcomes, strict=True)
                ],
            )
    for outcome in outcomes:
        if outcome.result == "paid":
            report.paid += 1
        else:
            report.held += 1
            if outcome.held_id is not None:
                report.held_ids.append(outcome.held_id)


_LINES = cast(Table, StatementLine.__table__)
_RECORD_OUTCOME = (
    update(_LINES)
    .where(_LINES.c.key == bindparam("line_key"))
    .values(outcome=bindparam("result"), order_id=bindparam("order"))
)


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
