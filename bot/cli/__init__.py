"""The `cskh` subcommands beyond serving and chatting (bot/__main__.py wires them).

They sit with the composition root: a command may build the runtime (bot/app.py) and
reach any service, and nothing below imports them.
"""

from __future__ import annotations

import argparse
from datetime import datetime
from typing import NoReturn

from bot.core.fmt import local


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
