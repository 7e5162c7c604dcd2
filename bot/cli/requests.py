"""`cskh requests list|show|set-status`: staff handle service requests from the shell
(the staff console calls the same code, bot/dialogs/lifecycle.py)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from bot.cli import local_minute
from bot.cli.payments import register_fee
from bot.core.printable import printable, printable_json
from bot.settings import Settings
from bot.store.requests import STATUSES


def register(commands: Any) -> None:
    requests = commands.add_parser(
        "requests", help="service requests: list, show, set status or fee"
    )
    sub = requests.add_subparsers(title="requests commands")
    listing = sub.add_parser("list", help="newest first, urgent ones on top")
    listing.add_argument("--status", choices=STATUSES)
    listing.add_argument("--json", action="store_true", help="print a JSON list")
    listing.set_defaults(run=_list)
    show = sub.add_parser("show", help="one request with its answers and history")
    show.add_argument("code", help="e.g. YC-2026-000123")
    show.set_defaults(run=_show)
    change = sub.add_parser("set-status", help="move a request on; the customer is told")
    change.add_argument("code")
    change.add_argument("status", choices=STATUSES)
    change.add_argument("--note", help="the reason (needed to reject or to ask for more)")
    change.set_defaults(run=_set_status)
    register_fee(sub)


def _summary(request: Any) -> dict[str, Any]:
    return {
        "code": request.code,
        "type": request.type,
        "title": request.data.get("title", request.type),
        "status": request.status,
        "urgent": request.urgent,
        "customer_code": request.customer_code,
        "created_at": request.created_at.isoformat(),
        "updated_at": request.updated_at.isoformat(),
    }


def _list(settings: Settings, args: argparse.Namespace) -> int:
    from bot.store.db import Database
    from bot.store.requests import list_requests

    async def run() -> list[dict[str, Any]]:
        db = Database(settings.effective_database_url)
        try:
            async with db.reading() as session:
                return [
                    _summary(r) for r in await list_requests(session, status=args.status, limit=500)
                ]
        finally:
            await db.dispose()

    rows = asyncio.run(run())
    if args.json:
        print(printable_json(rows, indent=2))
        return 0
    for row in rows:
        flag = "⚡ " if row["urgent"] else ""
        print(
            printable(  # data from the database, never raw on a terminal (issue 12)
                f"{row['code']}  {row['status']:<11}  {flag}{row['title']}  "
                f"{row['customer_code'] or '-'}  {local_minute(row['created_at'])}"
            )
        )
    if not rows:
        print("no service requests")
    return 0


def _show(settings: Settings, args: argparse.Namespace) -> int:
    from bot.store.db import Database
    from bot.store.requests import get_request

    async def run() -> dict[str, Any] | None:
        db = Database(settings.effective_database_url)
        try:
            async with db.reading() as session:
                request = await get_request(session, args.code)
                if request is None:
                    return None
                shown = _summary(request)
                labels = request.data.get("labels", {})
                shown["answers"] = {
                    labels.get(k, k): v for k, v in request.data.get("display", {}).items()
                }
                shown["attachments"] = len(request.attachments)
                shown["history"] = [
                    {
                        "at": e.created_at.isoformat(),
                        "status": e.status,
                        "note": e.note,
                        "by": e.actor,
                    }
                    for e in request.events
                ]
                return shown
        finally:
            await db.dispose()

    shown = asyncio.run(run())
    if shown is None:
        print(f"cskh: no service request {args.code}", file=sys.stderr)
        return 1
    print(printable_json(shown, indent=2))  # answers typed by the customer (issue 12)
    return 0


def _set_status(settings: Settings, args: argparse.Namespace) -> int:
    from bot.app import build_runtime, open_for_sending
    from bot.dialogs.forms import default_forms
    from bot.dialogs.lifecycle import change_status
    from bot.store.requests import RequestError

    async def run() -> tuple[str, bool]:
        runtime = await build_runtime(settings, prepare=False)
        try:
            await open_for_sending(runtime)  # to tell the customer on their channel
            request, told = await change_status(
                runtime.db,
                runtime.pusher,
                runtime.texts,
                default_forms(),
                runtime.engine.services.clock,
                args.code,
                args.status,
                note=args.note,
                actor="staff:cli",
            )
            return request.code, told
        finally:
            await runtime.close()

    try:
        code, told = asyncio.run(run())
    except RequestError as error:
        print(f"cskh: {error}", file=sys.stderr)
        return 2
    print(
        f"{code}: {args.status}"
        + ("; the customer was told" if told else "; the customer could not be told")
    )
    return 0
