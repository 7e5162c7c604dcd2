"""`cskh faq list|show|put|remove|ask`: the FAQ the bot answers from (issue 19).

    cskh faq list [--search "giờ cao điểm"]
    cskh faq show tou_peak_hours
    cskh faq put entry.yml --by lan      # add or replace: one entry, or `entries:` of several
    cskh faq remove tou_peak_hours --by lan
    cskh faq ask "gio cao diem la may gio"

Entries are those of data/faq.yml with the staff's saved over them (the database's
faq_entries); running bots pick an edit up on their next message, without a restart.
Bad input exits with status 2 and one line on stderr.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import yaml

from bot.cli.staff import _in_database
from bot.settings import Settings


def register(commands: Any) -> None:
    faq = commands.add_parser("faq", help="the FAQ the bot answers from: list, show, put, remove")
    sub = faq.add_subparsers(title="faq commands")
    listing = sub.add_parser("list", help="every entry: id, review date, question")
    listing.add_argument("--search", help="only entries whose id or question holds this")
    listing.set_defaults(run=_list)
    show = sub.add_parser("show", help="one entry as YAML (what `put` takes back)")
    show.add_argument("id")
    show.set_defaults(run=_show)
    put = sub.add_parser("put", help="add or replace entries from a YAML file")
    put.add_argument("file", type=Path, help="one entry, or `entries:` with several")
    put.add_argument("--by", help="who edits (kept with the entry)")
    put.set_defaults(run=_put)
    remove = sub.add_parser("remove", help="stop the bot answering an entry")
    remove.add_argument("id")
    remove.add_argument("--by", help="who removes it")
    remove.set_defaults(run=_remove)
    ask = sub.add_parser("ask", help="which entry a customer's sentence finds, and its score")
    ask.add_argument("text")
    ask.set_defaults(run=_ask)


def _book() -> Any:
    from bot.core.faq import FaqBook

    return FaqBook()


def _list(settings: Settings, args: argparse.Namespace) -> int:
    from bot.core.faq import matching

    book = _book()
    entries = _in_database(settings, book.entries)
    if args.search:
        entries = matching(entries, args.search)
    for entry in entries:
        print(f"{entry.id:32} {entry.reviewed.isoformat()}  {entry.question['vi']}")
    return 0


def _show(settings: Settings, args: argparse.Namespace) -> int:
    book = _book()

    async def work(session: Any) -> Any:
        return await book.get(session, args.id)

    entry = _in_database(settings, work)
    if entry is None:
        print(f"cskh faq show: no entry {args.id!r}", file=sys.stderr)
        return 2
    print(yaml.safe_dump(entry.as_dict(), allow_unicode=True, sort_keys=False), end="")
    return 0


def _put(settings: Settings, args: argparse.Namespace) -> int:
    from nlu.faq import FaqEntry, FaqError

    try:
        document = yaml.safe_load(args.file.read_text("utf-8"))
        raw = document.get("entries", [document]) if isinstance(document, dict) else None
        if not isinstance(raw, list):
            raise FaqError("expected one entry or `entries:` with a list of them")
        entries = [FaqEntry.from_dict(item) for item in raw]
    except OSError as error:
        print(f"cskh faq put: {args.file}: {error.strerror or error}", file=sys.stderr)
        return 2
    except yaml.YAMLError as error:
        print(
            f"cskh faq put: {args.file}: not valid YAML ({error.__class__.__name__})",
            file=sys.stderr,
        )
        return 2
    except FaqError as error:
        print(f"cskh faq put: {args.file}: {error}", file=sys.stderr)
        return 2
    book = _book()

    async def work(session: Any) -> None:
        for entry in entries:
            await book.save(session, entry, args.by)

    _in_database(settings, work)
    print(
        f"saved {len(entries)} entr{'y' if len(entries) == 1 else 'ies'}: "
        + ", ".join(e.id for e in entries)
    )
    return 0


def _remove(settings: Settings, args: argparse.Namespace) -> int:
    book = _book()

    async def work(session: Any) -> bool:
        return bool(await book.remove(session, args.id, args.by))

    if not _in_database(settings, work):
        print(f"cskh faq remove: no entry {args.id!r}", file=sys.stderr)
        return 2
    print(f"removed {args.id}")
    return 0


def _ask(settings: Settings, args: argparse.Namespace) -> int:
    book = _book()

    async def work(session: Any) -> Any:
        return (await book.index(session)).match(args.text)

    match = _in_database(settings, work)
    if match.entry is None:
        print("no entry shares a word with this")
        return 0
    print(f"{match.entry.id}  {match.score:.2f}  {match.entry.question['vi']}")
    if match.second is not None:
        print(f"{match.second.id}  {match.second_score:.2f}  {match.second.question['vi']}")
    return 0
