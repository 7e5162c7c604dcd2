"""The console dashboard's figures on a large database (issue 14: under 500 ms).

    python bench/dashboard_bench.py [--conversations 50000] [--days 60]
                                    [--database-url URL] [--runs 5]

Fills an empty database (a temporary SQLite file unless --database-url names one: its
tables are dropped and made again) with synthetic activity spread over `--days` days up
to 26/11/2026: one chat user and conversation each, 4-16 transcript messages each
(written in time order, as a live system appends them; 15% of the customers' messages
not understood, 35% with an intent), 8,000 handoffs, 20,000 form runs, 400,000
deliveries and 100,000 security events. Then reads the dashboard's figures for the
last 14, 31 and 61 days, best of `--runs`, and each query alone.

Prints Markdown tables for docs/BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, insert
from sqlalchemy.ext.asyncio import create_async_engine

from bot.console import stats
from bot.console.figures import read_figures
from bot.store.db import Database
from bot.store.models import (
    Base,
    ChatUser,
    Conversation,
    Delivery,
    FormRun,
    Notice,
    SecurityEvent,
    TranscriptMessage,
)
from bot.store.staff_models import Handoff, StaffAccount

END = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
LAST_DAY = date(2026, 11, 26)
CHANNELS = ["telegram"] * 5 + ["web"] * 3 + ["rest"] * 2
INTENTS = [
    "lookup_payment_info",
    "lookup_outage_schedule",
    "report_outage",
    "pay_bill",
    "talk_to_human",
    "greet",
    "thanks",
    "svc_reconnect",
]
FORMS = ["svc_reconnect", "svc_change_quota", "report_outage", "complaint"]
BATCH = 50_000


def fill(conn: Connection, conversations: int, days: int) -> dict[str, int]:
    Base.metadata.drop_all(conn)
    Base.metadata.create_all(conn)
    rng = random.Random(7)

    def when() -> datetime:
        return END - timedelta(seconds=rng.random() * days * 86400)

    def put(model: Any, rows: list[dict[str, Any]]) -> None:
        for start in range(0, len(rows), BATCH):
            conn.execute(insert(model), rows[start : start + BATCH])

    put(
        StaffAccount,
        [dict(id=1, username="agent", display_name="A", role="agent", password_hash="x")],
    )
    users = []
    for i in range(1, conversations + 1):
        at = when()
        users.append(
            dict(
                id=i,
                channel=rng.choice(CHANNELS),
                platform_user_id=str(i),
                created_at=at,
                last_seen_at=at,
            )
        )
    put(ChatUser, users)
    put(Conversation, [dict(id=i, chat_user_id=i, state={}) for i in range(1, conversations + 1)])
    messages: list[dict[str, Any]] = []
    for conversation in range(1, conversations + 1):
        start = when()
        for n in range(rng.randint(4, 16)):
            incoming = n % 2 == 0
            intent, text = None, "Câu trả lời của bot"
            if incoming:
                draw = rng.random()
                if draw < 0.15:
                    intent, text = "?", f"câu bot chưa hiểu số {rng.randrange(3000)}"
                elif draw < 0.5:
                    intent, text = rng.choice(INTENTS), "câu bot hiểu"
            messages.append(
                dict(
                    conversation_id=conversation,
                    direction="in" if incoming else "out",
                    author="customer" if incoming else "bot",
                    text=text,
                    intent=intent,
                    created_at=start + timedelta(minutes=n),
                )
            )
    messages.sort(key=lambda row: row["created_at"])
    put(TranscriptMessage, messages)
    handoffs = []
    for _ in range(8000):
        at = when()
        taken = at + timedelta(seconds=rng.expovariate(1 / 300)) if rng.random() < 0.8 else None
        handoffs.append(
            dict(
                conversation_id=rng.randint(1, conversations),
                reason="asked",
                requested_at=at,
                taken_at=taken,
                staff_id=1 if taken else None,
                csat=rng.choice([None, 1, 2, 3, 4, 5, 5, 4]),
            )
        )
    put(Handoff, handoffs)
    runs = []
    for _ in range(20_000):
        at = when()
        outcome = rng.choice([None, "submitted", "cancelled", "submitted"])
        runs.append(
            dict(
                chat_user_id=rng.randint(1, conversations),
                form_id=rng.choice(FORMS),
                started_at=at,
                step="customer_code",
                steps_done=0,
                outcome=outcome,
                finished_at=at if outcome else None,
            )
        )
    put(FormRun, runs)
    categories = ["bill", "outage", "other", "service"]
    put(
        Notice,
        [dict(id=n, key=f"n{n}", kind="bill", category=categories[n % 4]) for n in range(1, 201)],
    )
    sent = sorted(when() for _ in range(400_000))
    put(
        Delivery,
        [
            dict(
                notice_id=(n // conversations) % 200 + 1,
                chat_user_id=n % conversations + 1,
                channel=rng.choice(CHANNELS),
                category=categories[((n // conversations) % 200 + 1) % 4],
                status="sent" if rng.random() < 0.9 else "failed",
                sent_at=at,
                created_at=at,
            )
            for n, at in enumerate(sent)
        ],
    )
    put(
        SecurityEvent,
        [
            dict(event="otp_requested", subject="0905 *** 456", created_at=when())
            for _ in range(100_000)
        ],
    )
    return {"messages": len(messages)}


async def best(call: Callable[[], Awaitable[Any]], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        await call()
        times.append(1000 * (time.perf_counter() - start))
    return min(times)


async def main(args: argparse.Namespace) -> None:
    url = args.database_url
    if url is None:
        url = f"sqlite+aiosqlite:///{Path(tempfile.mkdtemp()) / 'dashboard.db'}"
    engine = create_async_engine(url)
    async with engine.begin() as conn:
        counts = await conn.run_sync(fill, args.conversations, args.days)
    await engine.dispose()
    db = Database(url)
    print(
        f"{db.url.get_backend_name()}: {args.conversations:,} conversations, "
        f"{counts['messages']:,} transcript messages over {args.days} days\n"
    )
    print("| days shown | whole page's figures, ms | " + " | ".join(QUERIES) + " |")
    print("|---" * (len(QUERIES) + 2) + "|")
    for days in (14, 31, 61):
        period = stats.Period(LAST_DAY - timedelta(days=days - 1), LAST_DAY)
        await read_figures(db, period)  # warm the cache, as a second visitor finds it
        whole = await best(lambda: read_figures(db, period), args.runs)  # noqa: B023
        alone = []
        async with db.reading() as session:
            for query in QUERIES.values():
                alone.append(await best(lambda: query(session, db, period), args.runs))  # noqa: B023
        print(f"| {days} | {whole:.0f} | " + " | ".join(f"{ms:.0f}" for ms in alone) + " |")
    await db.dispose()


QUERIES: dict[str, Callable[..., Awaitable[Any]]] = {
    "conversations": stats.conversations,
    "new users": stats.new_chat_users,
    "handoffs": stats.handoffs,
    "intents": lambda s, db, p: stats.top_intents(s, p),
    "not understood": lambda s, db, p: stats.not_understood(s, p, 50),
    "forms": lambda s, db, p: stats.form_funnels(s, p),
    "notices": stats.notices_sent,
}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=50_000)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--database-url")
    parser.add_argument("--runs", type=int, default=5)
    asyncio.run(main(parser.parse_args()))
