"""`cskh staff add|list|disable`: the console's staff accounts (issue 14)."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from bot.auth.staff import ROLES
from bot.core.printable import printable
from bot.settings import Settings

T = TypeVar("T")


def register(commands: Any) -> None:
    staff = commands.add_parser("staff", help="staff accounts of the console: add, list, disable")
    sub = staff.add_subparsers(title="staff commands")
    add = sub.add_parser("add", help="a new staff account (the password is asked when not given)")
    add.add_argument("username", help="lower-case letters, digits, '.', '_' or '-'")
    add.add_argument("--role", required=True, choices=list(ROLES), help="what the account may do")
    add.add_argument("--name", help="the name colleagues see (default: the username)")
    add.add_argument("--password", help="at least 10 characters with letters and digits")
    add.set_defaults(run=_add)
    listing = sub.add_parser("list", help="every account with its role")
    listing.set_defaults(run=_list)
    disable = sub.add_parser("disable", help="stop an account from signing in")
    disable.add_argument("username")
    disable.set_defaults(run=_disable)


def _in_database(settings: Settings, work: Callable[[Any], Awaitable[T]]) -> T:
    """Run `work(session)` in one transaction on a migrated database."""
    from bot.app import prepare_database
    from bot.store.db import Database

    async def run() -> T:
        db = Database(settings.effective_database_url)
        try:
            await prepare_database(settings, db)
            async with db.transaction() as session:
                return await work(session)
        finally:
            await db.dispose()

    return asyncio.run(run())


def _add(settings: Settings, args: argparse.Namespace) -> int:
    from bot.auth.staff import StaffError, add_staff, check_password
    from bot.core.clock import SystemClock

    password = args.password
    if password is None:
        password = getpass.getpass("Password: ")
        try:
            check_password(password)
        except StaffError as error:
            print(f"cskh: {error}", file=sys.stderr)
            return 2
        if getpass.getpass("Again: ") != password:
            print("cskh: the two passwords differ", file=sys.stderr)
            return 2

    async def work(session: Any) -> str:
        account = await add_staff(
            session,
            args.username,
            args.role,
            password,
            display_name=args.name,
            now=SystemClock().now(),
        )
        return account.username

    try:
        username = _in_database(settings, work)
    except StaffError as error:
        print(f"cskh: {error}", file=sys.stderr)
        return 2
    print(f"staff account {username} ({args.role}) added")
    return 0


def _list(settings: Settings, args: argparse.Namespace) -> int:
    from bot.auth.staff import list_staff

    async def work(session: Any) -> list[tuple[str, str, str, bool]]:
        return [(a.username, a.role, a.display_name, a.disabled) for a in await list_staff(session)]

    rows = _in_database(settings, work)
    for username, role, name, disabled in rows:
        state = "disabled" if disabled else "active"
        print(printable(f"{username:<20} {role:<11} {state:<9} {name}"))
    if not rows:
        print("no staff accounts: add one with `cskh staff add USERNAME --role ROLE`")
    return 0


def _disable(settings: Settings, args: argparse.Namespace) -> int:
    from bot.auth.staff import StaffError, disable_staff

    async def work(session: Any) -> str:
        return (await disable_staff(session, args.username)).username

    try:
        username = _in_database(settings, work)
    except StaffError as error:
        print(f"cskh: {error}", file=sys.stderr)
        return 1
    print(f"staff account {username} disabled: it can no longer sign in")
    return 0
