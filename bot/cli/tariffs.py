"""`cskh tariff estimate`: what a given consumption costs, line by line, as EVN bills it.

    cskh tariff estimate --kwh 134 --from 2025-09-16 --to 2025-10-15
    cskh tariff estimate --kwh 2150 --group business --voltage below_6kv --json

Bad input exits with status 2 and one line on stderr (nothing on stdout), so scripts
can rely on stdout being a breakdown (or a JSON object) whenever the status is 0.
"""

from __future__ import annotations

import argparse
import calendar
import json
import sys
from collections.abc import Callable
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from bot.billing.tariffs import (
    BillBreakdown,
    TariffError,
    TariffGroup,
    VoltageLevel,
    default_tariffs,
)
from bot.cli import OneLineErrorParser
from bot.core.fmt import LOCAL_TZ, day, money, number

if TYPE_CHECKING:
    from bot.settings import Settings

PROG = "cskh tariff estimate"
GROUP_NAMES = {"household": "sinh hoạt", "business": "kinh doanh", "production": "sản xuất"}
VOLTAGE_NAMES = {"below_6kv": "dưới 6 kV", "6_22kv": "từ 6 kV đến dưới 22 kV"}


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `tariff estimate` to the `cskh` command's sub-commands."""
    tariff = commands.add_parser("tariff", help="electricity tariffs (EVN retail prices)")
    tariff.set_defaults(run=_tariff_help(tariff))
    actions = tariff.add_subparsers(title="tariff commands", parser_class=OneLineErrorParser)
    estimate = actions.add_parser(
        "estimate",
        help="price a consumption the way EVN bills it",
        description="Price a consumption line by line, as on an EVN bill (VAT included).",
    )
    estimate.add_argument(
        "--kwh", type=_kwh, required=True, help="consumption in kWh (whole number)"
    )
    estimate.add_argument(
        "--from",
        dest="start",
        type=_date,
        help="first day of the period, counted (YYYY-MM-DD or DD/MM/YYYY)",
    )
    estimate.add_argument(
        "--to",
        dest="end",
        type=_date,
        help="last day of the period, counted (default: the current calendar month in Viet Nam)",
    )
    estimate.add_argument(
        "--households", type=_households, default=1, help="households on the meter (default 1)"
    )
    estimate.add_argument(
        "--group",
        choices=[g.value for g in TariffGroup],
        default=TariffGroup.HOUSEHOLD.value,
        help="customer group (default household)",
    )
    estimate.add_argument(
        "--voltage",
        choices=[v.value for v in VoltageLevel],
        help="supply voltage; required for business and production",
    )
    estimate.add_argument("--json", action="store_true", help="print one JSON object")
    estimate.set_defaults(run=run)


def run(settings: Settings | None, args: argparse.Namespace) -> int:
    """Print the estimate; 2 with one line on stderr when the input cannot be billed."""
    if (args.start is None) != (args.end is None):
        return _fail("give both --from and --to, or neither (for the current month)")
    if args.group != TariffGroup.HOUSEHOLD and args.voltage is None:
        choices = " or ".join(v.value for v in VoltageLevel)
        return _fail(f"--voltage is required for the {args.group} group ({choices})")
    start, end = (args.start, args.end) if args.start else _current_month()
    try:
        bill = default_tariffs().compute(
            args.kwh,
            start,
            end,
            group=args.group,
            voltage=args.voltage,
            households=args.households,
        )
    except TariffError as error:
        return _fail(str(error))
    if sys.stdout.encoding and sys.stdout.encoding.lower().replace("-", "") != "utf8":
        sys.stdout.reconfigure(encoding="utf-8", errors="replace")  # type: ignore[union-attr]
    print(json.dumps(as_json(bill), ensure_ascii=False) if args.json else as_text(bill))
    return 0


def as_json(bill: BillBreakdown) -> dict[str, Any]:
    """The estimate as plain JSON values: money in whole VND, dates ISO 8601."""
    return {
        "kwh": bill.kwh,
        "period_start": bill.period_start.isoformat(),
        "period_end": bill.period_end.isoformat(),
        "days": (bill.period_end - bill.period_start).days + 1,
        "households": bill.households,
        "group": bill.group.value,
        "voltage": bill.voltage.value if bill.voltage else None,
        "lines": [line.as_json() for line in bill.lines],
        "vat_lines": [{"rate": v.rate, "base": v.base, "vat": v.vat} for v in bill.vat_lines],
        "before_vat": bill.before_vat,
        "vat": bill.vat,
        "total": bill.total,
    }


def as_text(bill: BillBreakdown) -> str:
    """The estimate as a customer reads a bill: one line per tier, then the totals."""
    days = (bill.period_end - bill.period_start).days + 1
    who = GROUP_NAMES[bill.group]
    if bill.voltage:
        who += f", {VOLTAGE_NAMES[bill.voltage]}"
    if bill.group is TariffGroup.HOUSEHOLD:
        who += f", {bill.households} hộ"
    out = [
        f"Ước tính tiền điện {number(bill.kwh)} kWh, từ {day(bill.period_start)} "
        f"đến {day(bill.period_end)} ({days} ngày), {who}:"
    ]
    several_tariffs = len({line.tariff_from for line in bill.lines}) > 1
    several_rates = len(bill.vat_lines) > 1
    rows = []
    for line in bill.lines:
        label = "Giá bình thường" if line.tier is None else f"Bậc {line.tier}"
        # As on the invoice: say which price table (and VAT rate) a line is billed at
        # when the period straddles a change.
        notes = [f"giá từ {day(line.tariff_from)}"] if several_tariffs else []
        notes += [f"thuế GTGT {line.vat_rate}%"] if several_rates else []
        label += f" ({'; '.join(notes)})" if notes else ""
        rows.append(
            (label, f"{number(line.kwh)} kWh × {number(line.unit_price)} đ", money(line.amount))
        )
    rows.append(("Cộng tiền điện", "", money(bill.before_vat)))
    rows += [(f"Thuế GTGT {v.rate}%", "", money(v.vat)) for v in bill.vat_lines]
    rows.append(("Tổng cộng", "", money(bill.total)))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    for label, quantity, amount in rows:
        equals = "=" if quantity else " "
        out.append(
            f"  {label:<{widths[0]}}  {quantity:>{widths[1]}}  {equals} {amount:>{widths[2]}}"
        )
    return "\n".join(out)


def _tariff_help(
    parser: argparse.ArgumentParser,
) -> Callable[[Settings | None, argparse.Namespace], int]:
    def show(settings: Settings | None, args: argparse.Namespace) -> int:
        parser.print_help(sys.stderr)
        return 2

    return show


def _fail(message: str) -> int:
    print(f"{PROG}: error: {message}", file=sys.stderr)
    return 2


def _current_month() -> tuple[date, date]:
    today = datetime.now(LOCAL_TZ).date()
    last = calendar.monthrange(today.year, today.month)[1]
    return today.replace(day=1), today.replace(day=last)


def _kwh(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(
            f"a whole number of kWh, 0 or more, e.g. 134 (not {text!r})"
        )
    return value


def _households(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"a whole number of households, 1 or more (not {text!r})")
    return value


def _date(text: str) -> date:
    for parse in (date.fromisoformat, lambda t: datetime.strptime(t, "%d/%m/%Y").date()):
        try:
            return parse(text.strip())
        except ValueError:
            continue
    raise argparse.ArgumentTypeError(f"a date like 2025-09-16 or 16/09/2025 (not {text!r})")
