"""Importing a bank statement (issue 16: 100,000 lines in under 30 s).

    python bench/statement_import_bench.py [--database sqlite|postgresql|both]
                                           [--lines 100000] [--orders 3000]

Seeds a fresh database with the demo data (a temporary SQLite file; PostgreSQL: a
database created on CSKH_BENCH_PG, default postgres@127.0.0.1:5432, and dropped
afterwards), makes `--orders` pending VietQR orders (bench/ipn_bench.py's
`make_orders`: one demo bill each, for a chat user linked to its code), then writes a
statement of `--lines` incoming transfers as a bank exports it: one line per order
whose text carries the order's transfer text the way banks mangle it (1 in 50 for
another amount: held for staff), the rest other people's transfers (salaries, rent,
other payments, some with a reference-like word that is no order of ours), a bank
reference on 9 lines in 10, a debit or an unreadable amount now and then.

Times `import_statement` on it (the whole call: parsing, matching, settling the
matched lines of each thousand-line batch in one transaction with their receipts, the
unmatched lines in batches), then the same file again, where every line is "already
imported".
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import random
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from ipn_bench import BenchOrder, make_orders, paid_counts, seeded_database

from bot.core.texts import Texts
from bot.notify.payment_notices import OutboxPaymentNotifier
from bot.payments.settle import Settler
from bot.payments.statement import parse_statement
from bot.payments.statement_import import ImportReport, import_statement
from bot.payments.vietqr import reference, transfer_text
from bot.store.backend import SqlUtilityBackend
from bot.store.db import Database

# How banks write a customer's transfer text into the statement.
OURS = (
    "MBVCB.{trace}.{text}.CT tu 0011001234567 {name}",
    "IBFT {glued}",
    "MB {phone}-{text}- Ma GD ACSP/ FT26341{trace}",
    "{name} CHUYEN TIEN {text} GD {trace}-071226",
    "{lower}",
    "TKThe :0071000{trace}, tai VCB. {glued} -CTLNHIDI000{trace}",
)
# Everything else the utility's account receives.
OTHERS = (
    "{name} chuyen tien",
    "MBVCB.{trace}.{name} chuyen khoan.CT tu 0451000{trace}",
    "Thanh toan tien dien thang 11 {code}",
    "TRA TIEN DIEN {code} {name}",
    "IBFT {name} nop tien dien ky 1",
    "CTY TNHH {company} TT HD {trace}",
    "Hoan tien giao dich {trace}",
    "{name} chuyen tien TT{junk} hoa don",  # a reference-like word that is no order
    "NHAN TU {phone} {name} ND tien dien",
)
NAMES = (
    "NGUYEN VAN AN",
    "TRAN THI BINH",
    "LE HOANG CUONG",
    "HO MINH DUC",
    "PHAM THI EM",
    "VO THANH GIANG",
    "DANG THU HA",
    "BUI QUOC KHANH",
)
COMPANIES = ("THANH DAT", "MINH PHAT", "SAO VIET", "AN KHANG", "HOANG LONG")


def statement(orders: list[BenchOrder], lines: int, seed: int = 16) -> str:
    """A CSV statement of `lines` incoming transfers, one per order among them."""
    rng = random.Random(seed)
    kinds = ["ours"] * len(orders) + ["other"] * (lines - len(orders))
    rng.shuffle(kinds)
    pending = iter(orders)
    out = ["Ngày giao dịch,Số tiền,Nội dung,Số tham chiếu"]
    for n, kind in enumerate(kinds):
        name = rng.choice(NAMES)
        trace = rng.randrange(10**6, 10**7)
        if kind == "ours":
            order = next(pending)
            text = transfer_text(order.ref, order.code)
            description = rng.choice(OURS).format(
                trace=trace,
                text=text,
                lower=text.lower(),
                glued=text.replace(" ", ""),
                phone=f"09{rng.randrange(10**8):08d}",
                name=name,
            )
            amount = order.amount if rng.random() >= 0.02 else order.amount + 1000
        else:
            description = rng.choice(OTHERS).format(
                trace=trace,
                name=name,
                code=f"PC05CC{rng.randrange(10**7):07d}",
                company=rng.choice(COMPANIES),
                junk=reference()[2:],  # a well-formed reference, but not ours
                phone=f"09{rng.randrange(10**8):08d}",
            )
            amount = rng.randrange(10, 5000) * 1000
            if n % 997 == 0:
                amount = -amount  # a debit: listed as an error
        shown = f'"{amount:,}"' if n % 2 else f"{amount:,}".replace(",", ".") + " VND"
        if kind == "other" and n % 1499 == 0:
            shown = "12a"  # an unreadable amount: listed as an error
        day = f"{rng.randrange(1, 8):02d}/12/2026 {rng.randrange(24):02d}:{rng.randrange(60):02d}"
        ref = f"FT26{n:09d}" if n % 10 else ""
        out.append(f'{day},{shown},"{description}",{ref}')
    return "\n".join(out) + "\n"


def show(what: str, seconds: float, lines: int, report: ImportReport) -> None:
    print(
        f"| {what} | {seconds:.2f} | {lines / seconds:,.0f} | {report.paid:,} | "
        f"{report.held:,} | {report.unmatched:,} | {report.already_imported:,} | "
        f"{len(report.errors):,} |"
    )


async def run(kind: str, lines: int, count: int) -> None:
    with tempfile.TemporaryDirectory() as tmp_name:
        logging.basicConfig(  # as `cskh payments import` logs, to a file
            filename=Path(tmp_name) / "import.log",
            level=logging.INFO,
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
            force=True,
        )
        started = time.perf_counter()
        async with seeded_database(kind, Path(tmp_name)) as url:
            db = Database(url)
            now = datetime.now(UTC)
            orders = await make_orders(db, count, "vietqr", now)
            text = statement(orders, lines)
            notifier = OutboxPaymentNotifier(Texts.load(), "19001006")
            settler = Settler(SqlUtilityBackend(db), notifier)
            print(
                f"\n{kind}: set-up {time.perf_counter() - started:.1f} s; {lines:,} lines "
                f"({len(text) / 1e6:.1f} MB), {count:,} naming an order"
            )
            began = time.perf_counter()
            parse_statement(text)
            parsing = time.perf_counter() - began
            print(f"parse_statement alone: {parsing:.2f} s")
            print("| import | seconds | lines/s | paid | held | unmatched | already | errors |")
            print("|---|---:|---:|---:|---:|---:|---:|---:|")
            began = time.perf_counter()
            first = await import_statement(db, settler, text, now=now, actor="bench")
            show("first", time.perf_counter() - began, lines, first)
            began = time.perf_counter()
            again = await import_statement(db, settler, text, now=now, actor="bench")
            show("again (same file)", time.perf_counter() - began, lines, again)
            ledger, paid, bills = await paid_counts(db, orders)
            await db.dispose()
    assert first.paid + first.held == count, "a line naming an order was not settled"
    assert first.paid == ledger == paid == bills, "an order was not paid exactly once"
    assert again.paid == again.held == again.unmatched == 0
    assert again.already_imported == lines - len(again.errors)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--orders", type=int, default=3000)
    args = parser.parse_args()
    kinds = ("sqlite", "postgresql") if args.database == "both" else (args.database,)
    for kind in kinds:
        asyncio.run(run(kind, args.lines, args.orders))


if __name__ == "__main__":
    main()
