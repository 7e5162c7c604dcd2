"""`cskh bills explain`: why a customer's bill differs from the one before it, for staff
on the phone with the customer (issue 18; the chat's "❓ Vì sao tăng/giảm?" words the
same figures, bot/billing/explain.py).

    cskh bills explain PC05CC0123456
    cskh bills explain PC05CC0123456 --period 2026-10 --json

An unknown code or a period without a bill exits with status 2 and one line on stderr
(nothing on stdout), like `cskh tariff estimate`.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
from typing import Any

from bot.billing import explain as bill_explain
from bot.billing.explain import ExplainError, Explanation
from bot.billing.explain_staff import lines
from bot.core.printable import printable, printable_json
from bot.settings import Settings

PROG = "cskh bills explain"


def register(commands: Any) -> None:
    """Add `bills explain` to the `cskh` command's sub-commands."""
    bills = commands.add_parser("bills", help="customers' bills: why one changed")
    sub = bills.add_subparsers(title="bills commands")
    explain = sub.add_parser(
        "explain",
        help="split the change of a bill into its causes, to the đồng",
        description="Compare a bill with the period before and the same period a year "
        "earlier, and split the difference into days, kWh per day, tiers, price changes, "
        "households, VAT and rounding.",
    )
    explain.add_argument("code", help="customer code, e.g. PC05CC0123456")
    explain.add_argument(
        "--period", type=_period, help="the bill's month, YYYY-MM (default: the latest bill)"
    )
    explain.add_argument("--json", action="store_true", help="print a JSON object")
    explain.set_defaults(run=_explain)


def _period(text: str) -> tuple[int, int]:
    match = re.fullmatch(r"(\d{4})-(\d{1,2})", text.strip())
    if not match or not 1 <= int(match.group(2)) <= 12:
        raise argparse.ArgumentTypeError(f"a month is written YYYY-MM, e.g. 2026-10: {text!r}")
    return int(match.group(1)), int(match.group(2))


def _fail(message: str) -> int:
    print(f"{PROG}: error: {message}", file=sys.stderr)
    return 2


def _explain(settings: Settings, args: argparse.Namespace) -> int:
    from bot.app import utility_backend
    from bot.billing.tariffs import default_tariffs
    from bot.store.db import Database

    code = args.code.strip().upper()

    async def run() -> Explanation | str:
        db = Database(settings.effective_database_url)
        try:
            backend = utility_backend(settings, db)
            customer = await backend.customer(code)
            if customer is None:
                return f"no customer has the code {code}"
            bills = await backend.bills(code, limit=200)
            found = bill_explain.explain(customer, bills, default_tariffs(), period=args.period)
            if found is None:
                asked = f" for {args.period[0]}-{args.period[1]:02d}" if args.period else ""
                return f"{code} has no bill{asked}"
            return found
        except ExplainError as error:
            return f"cannot explain this bill: {error}"
        finally:
            await db.dispose()

    outcome = asyncio.run(run())
    if isinstance(outcome, str):
        return _fail(outcome)
    if args.json:
        print(printable_json(outcome.as_json(), indent=2))
        return 0
    for line in lines(outcome):
        print(printable(line))  # a name from the database, never raw on a terminal (issue 12)
    return 0
