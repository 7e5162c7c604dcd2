"""`cskh incidents list|confirm|dismiss|restored`: operations deal with the suspected
incidents that customers' outage reports opened (issue 19, bot/outages/).

The commands write outbox rows and exit; the delivery workers send them. Bad input or a
decision that cannot be made (an unknown id, an incident already closed): exit status 2
and one line on stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from typing import Any

from bot.cli import iso_moment, on_database
from bot.core import fmt
from bot.core.clock import Clock
from bot.settings import Settings

STAFF = "cli"


def register(commands: Any) -> None:
    """Add `incidents` to the `cskh` command's sub-commands."""
    incidents = commands.add_parser(
        "incidents", help="suspected outages opened by customers' reports"
    )
    sub = incidents.add_subparsers(title="incidents commands")
    listing = sub.add_parser("list", help="open and confirmed ones, newest first")
    listing.add_argument("--all", action="store_true", help="dismissed and restored too")
    listing.add_argument("--json", action="store_true", help="print a JSON array")
    listing.set_defaults(run=_list, clock=None)
    for name, help_text in (
        ("confirm", "an incident: tell every customer of the area (outage notice)"),
        ("dismiss", "no general outage: reporters are told each report is checked"),
        ("restored", "power is back: tell reporters and subscribers, close their reports"),
    ):
        command = sub.add_parser(name, help=help_text)
        command.add_argument("incident_id", type=int)
        if name == "restored":
            command.add_argument("--at", type=iso_moment, help="when it came back (default: now)")
        command.add_argument("--json", action="store_true", help="print a JSON object")
        command.set_defaults(run=_decide, decision=name, clock=None)


def _when(moment: datetime) -> str:
    return f"{fmt.clock(moment)} {fmt.day(moment)}"


def _list(settings: Settings, args: argparse.Namespace) -> int:
    from bot.outages.decisions import STATUSES, list_incidents

    async def work(db: Any, texts: Any, clock: Clock) -> list[Any]:
        async with db.reading() as session:
            statuses = STATUSES if args.all else ("open", "confirmed")
            return await list_incidents(session, statuses=statuses)

    rows = on_database(settings, args, work)
    if args.json:
        shown = [
            {
                "id": row.id,
                "status": row.status,
                "area": row.area,
                "unit": row.unit_code,
                "first_report_at": row.first_report_at.isoformat(),
                "opened_at": row.opened_at.isoformat(),
                "reporters": row.reporters,
                "subscribers": row.subscribers,
                "outage_id": row.outage_id,
            }
            for row in rows
        ]
        print(json.dumps(shown, ensure_ascii=False))
        return 0
    if not rows:
        print("no suspected incidents")
    for row in rows:
        print(
            f"#{row.id} {row.status:<9} {row.area} ({row.unit_code or '?'}): "
            f"{row.reporters} reporters since {_when(row.first_report_at)}, "
            f"{row.subscribers} waiting for power"
            + (f", outage {row.outage_id}" if row.outage_id else "")
        )
    return 0


def _decide(settings: Settings, args: argparse.Namespace) -> int:
    from bot.app import utility_backend
    from bot.outages import decisions

    async def work(db: Any, texts: Any, clock: Clock) -> decisions.Decided:
        backend = utility_backend(settings, db)
        now = clock.now()
        async with db.transaction() as session:
            if args.decision == "confirm":
                return await decisions.confirm(
                    session,
                    args.incident_id,
                    texts,
                    backend=backend,
                    now=now,
                    expected_hours=settings.incident_expected_hours,
                    notice_days=settings.outage_notice_days,
                    staff=STAFF,
                )
            if args.decision == "dismiss":
                return await decisions.dismiss(
                    session, args.incident_id, texts, now=now, staff=STAFF
                )
            return await decisions.restored(
                session, args.incident_id, texts, backend=backend, now=now, staff=STAFF, at=args.at
            )

    try:
        made = on_database(settings, args, work)
    except decisions.IncidentError as error:
        print(f"cskh: {error}", file=sys.stderr)
        return 2
    if args.json:
        print(
            json.dumps(
                {
                    "incident_id": made.incident.id,
                    "status": made.incident.status,
                    "told": made.told,
                    "requests_closed": made.closed,
                    "outage_id": made.incident.outage_id,
                }
            )
        )
        return 0
    extra = {
        "confirm": f"; outage {made.incident.outage_id} announced to the area",
        "dismiss": "; their reports stay open, to be checked one by one",
        "restored": f"; {made.closed} report requests closed",
    }[args.decision]
    print(f"incident {made.incident.id}: {made.incident.status}, {made.told} chats told{extra}")
    return 0
