"""`cskh inbox list|reply`: staff read customers' replies to notices and answer them
(until the staff console, which will call bot/notify/inbox.py the same way)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from bot.cli import local_minute
from bot.core.printable import printable, printable_json
from bot.settings import Settings

ACTOR = "staff:cli"


def register(commands: Any) -> None:
    inbox = commands.add_parser("inbox", help="customers' replies to notices: list, answer")
    sub = inbox.add_subparsers(title="inbox commands")
    listing = sub.add_parser("list", help="open replies first (oldest first), then answered")
    listing.add_argument("--status", choices=("open", "answered"))
    listing.add_argument("--json", action="store_true", help="print a JSON list")
    listing.set_defaults(run=_list)
    answer = sub.add_parser("reply", help="answer a reply; the customer gets it in their chat")
    answer.add_argument("id", type=int, help="the item's id, from `cskh inbox list`")
    answer.add_argument("text", help="the answer, as the customer will read it")
    answer.set_defaults(run=_reply)


def _list(settings: Settings, args: argparse.Namespace) -> int:
    from bot.channels.media import MediaLinks
    from bot.notify.inbox import as_json, queue
    from bot.store.db import Database

    links = MediaLinks(
        settings.secret_key_bytes(), settings.effective_public_url, settings.media_link_ttl
    )

    async def run() -> list[dict[str, Any]]:
        db = Database(settings.effective_database_url)
        try:
            async with db.reading() as session:
                entries = await queue(session, status=args.status)
                return [as_json(e, [links.url_for(str(m)) for m in e.item.media]) for e in entries]
        finally:
            await db.dispose()

    rows = asyncio.run(run())
    if args.json:
        print(printable_json(rows, indent=2))
        return 0
    for row in rows:
        print(_block(row))
    if not rows:
        print("no replies to notices")
    return 0


def _block(row: dict[str, Any]) -> str:
    """One item in three or four lines a person reads at a glance; each line made
    printable, so a name or a reply cannot steer the terminal or add a line (issue 12)."""
    customer, notice = row["customer"], row["notice"]
    who = customer["name"] or f"chat user {customer['chat_user_id']}"
    where = ", ".join(p for p in (customer["channel"], customer["customer_code"]) if p)
    lines = [
        f"#{row['id']}  {row['status']:<8}  {local_minute(row['at'])}  {who} ({where})",
        f"    notice {notice['id'] or '-'} [{notice['category'] or '-'}]: {notice['title']}",
        f"    “{row['text']}”" if row["text"] else "    (no text)",
    ]
    lines += [f"    photo: {link}" for link in row["photos"]]
    if row["answer"]:
        lines.append(f"    answered by {row['answered_by']}: {row['answer']}")
    return "\n".join(printable(line) for line in lines)


def _reply(settings: Settings, args: argparse.Namespace) -> int:
    from bot.app import build_runtime, open_for_sending
    from bot.core.outbound import PushError
    from bot.notify.inbox import InboxError, answer
    from bot.store.models import ChatUser

    async def run() -> str:
        runtime = await build_runtime(settings, prepare=False)
        try:
            served = await open_for_sending(runtime)  # to reach the customer on their channel
            await runtime.worker.ensure_registered()
            clock = runtime.engine.services.clock
            async with runtime.db.transaction() as session:
                item, delivery_id = await answer(
                    session,
                    runtime.pusher,
                    runtime.texts,
                    args.id,
                    args.text,
                    actor=ACTOR,
                    now=clock.now(),
                )
                customer = await session.get(ChatUser, item.chat_user_id)
                channel = customer.channel if customer is not None else ""
            if delivery_id is None:
                return "answered; the customer cannot be reached (they blocked the bot)"
            if channel not in served:  # the web chat's pages live in `cskh serve`
                return "answered; the running bot shows it in the customer's web chat"
            sent = await runtime.pusher.send_now([delivery_id])
            await runtime.worker.retire()
            if sent:
                return f"answered; sent to the customer on {channel}"
            return f"answered; queued for {channel} (the running bot retries)"
        finally:
            await runtime.close()

    try:
        outcome = asyncio.run(run())
    except (InboxError, PushError) as error:
        print(f"cskh: {error}", file=sys.stderr)
        return 2
    print(f"inbox item {args.id} {outcome}")
    return 0
