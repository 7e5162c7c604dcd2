"""The `cskh` subcommands beyond serving and chatting (bot/__main__.py wires them).

They sit with the composition root: a command may build the runtime (bot/app.py) and
reach any service, and nothing below imports them.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, NoReturn, TypeVar

from bot.core.clock import Clock, SystemClock
from bot.core.fmt import LOCAL_TZ, local
from bot.settings import Settings

T = TypeVar("T")


class OneLineErrorParser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one line on stderr, exit status 2.

    Sub-parsers made with `add_subparsers()` inherit the class, so giving it to the
    top-level `cskh` parser makes every command behave this way.
    """

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def local_minute(iso: str) -> str:
    """'2026-11-26T01:05:00+00:00' -> '2026-11-26 08:05': times a person reads are
    Vietnam's, as everywhere else the bot and the console show them."""
    return local(datetime.fromisoformat(iso)).strftime("%Y-%m-%d %H:%M")


def iso_moment(value: str) -> datetime:
    """An argument type: an ISO time, Vietnam's when it names no offset."""
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not an ISO time: {value!r} (e.g. 2026-12-02T07:00)"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=LOCAL_TZ)


def on_database(
    settings: Settings, args: argparse.Namespace, work: Callable[[Any, Any, Clock], Awaitable[T]]
) -> T:
    """Run `work(db, texts, clock)` on the bot's database (`args.clock`: the tests')."""
    from bot.core.texts import Texts
    from bot.store.db import Database

    clock: Clock = args.clock or SystemClock()

    async def run() -> T:
        db = Database(settings.effective_database_url, media_dir=settings.media_path)
        try:
            return await work(db, Texts.load(), clock)
        finally:
            await db.dispose()

    return asyncio.run(run())
