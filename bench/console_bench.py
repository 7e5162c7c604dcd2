"""The staff console under load (issue 14): the demo data plus 50,000 generated
conversations, against a real `cskh serve` process.

    python bench/console_bench.py [--conversations 50000] [--messages 10]
                                  [--database-url URL] [--rounds 40]

1. builds the database: migrations, the demo data, then N chat users with a linked code
   each, a conversation, M transcript messages and, for one in ten, a handoff (some
   waiting, some rated); written with bulk inserts;
2. starts `cskh serve` on it (REST channel on), signs in as the demo agent and
   supervisor over HTTP and times, as the server answers them on loopback:
   - the conversation list (the first page; with filters by mode, channel, code);
   - one conversation's transcript page, for random conversations;
   - a customer's message to the agent's open console: from the POST of the REST
     message until the event stream announces it, and until the page's refresh shows it;
   - the dashboard's page (its queries), when this checkout has it.
Prints Markdown tables for docs/BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.abuse_bench import free_port  # noqa: E402
from bot.demo.seed import seed  # noqa: E402
from bot.store import migrate  # noqa: E402
from bot.store.db import Database  # noqa: E402

TOKEN = "bench-token"
PASSWORDS = {"agent": "Agent@2026cskh", "supervisor": "Super@2026cskh"}
WORDS = [
    "hóa đơn tháng này cao quá",
    "công tơ nhà tôi chạy nhanh",
    "khi nào có điện lại",
    "cho tôi hỏi lịch ghi chỉ số",
    "mất điện từ sáng",
    "đổi tên hợp đồng",
    "thanh toán ở đâu",
]


async def build(url: str, conversations: int, messages: int) -> None:
    """Migrations, the demo data and the generated conversations, in bulk."""
    from sqlalchemy import func as sql_func
    from sqlalchemy import insert, select

    from bot.store.models import ChatUser, Conversation, Customer, CustomerLink, TranscriptMessage
    from bot.store.staff_models import Handoff, StaffAccount

    db = Database(url)
    try:
        await migrate.upgrade(db)
        async with db.reading() as session:
            existing = await session.scalar(select(sql_func.count()).select_from(Conversation))
        if existing and existing >= conversations:
            return
        await seed(db)
        async with db.reading() as session:
            codes = list(await session.scalars(select(Customer.code)))
            agent_id = await session.scalar(
                select(StaffAccount.id).where(StaffAccount.username == "agent")
            )
        now = datetime.now(UTC)
        rng = random.Random(14)
        batch = 2000
        for start in range(0, conversations, batch):
            count = min(batch, conversations - start)
            async with db.transaction() as session:
                conn = await session.connection()
                users = [
                    {
                        "channel": rng.choice(("telegram", "web", "rest")),
                        "platform_user_id": f"bench-{start + i}",
                        "language": "vi",
                        "display_name": f"Khách {start + i}",
                        "reachable": True,
                        "created_at": now - timedelta(minutes=start + i),
                        "last_seen_at": now - timedelta(minutes=start + i),
                        "otp_required": False,
                    }
                    for i in range(count)
                ]
                ids = list(
                    await conn.scalars(
                        insert(ChatUser.__table__).returning(ChatUser.__table__.c.id), users
                    )
                )
                await conn.execute(
                    insert(CustomerLink.__table__),
                    [
                        {"chat_user_id": uid, "customer_code": rng.choice(codes), "linked_at": now}
                        for uid in ids
                    ],
                )
                rows = []
                for n, uid in enumerate(ids):
                    moment = now - timedelta(minutes=start + n)
                    mode = "bot"
                    if n % 10 == 0:
                        mode = rng.choice(("waiting", "resolved", "staff"))
                    rows.append(
                        {
                            "chat_user_id": uid,
                            "mode": mode,
                            "state": {},
                            "last_activity_at": moment,
                            "created_at": moment,
                            "waiting_since": moment if mode == "waiting" else None,
                            "staff_id": agent_id if mode == "staff" else None,
                            "last_text": rng.choice(WORDS),
                            "last_author": "customer",
                        }
                    )
                conversation_ids = list(
                    await conn.scalars(
                        insert(Conversation.__table__).returning(Conversation.__table__.c.id),
                        rows,
                    )
                )
                transcript = []
                handoffs = []
                for cid, row in zip(conversation_ids, rows, strict=True):
                    for m in range(messages):
                        incoming = m % 2 == 0
                        transcript.append(
                            {
                                "conversation_id": cid,
                                "direction": "in" if incoming else "out",
                                "author": "customer" if incoming else "bot",
                                "text": rng.choice(WORDS),
                                "attachments": []
                                if incoming
                                else [
                                    {
                                        "type": "buttons",
                                        "rows": [[{"title": "🏠 Menu", "payload": "menu"}]],
                                    }
                                ],
                                "intent": rng.choice(("lookup_payment_info", "?", None))
                                if incoming
                                else None,
                                "created_at": row["last_activity_at"]
                                - timedelta(minutes=messages - m),
                            }
                        )
                    if row["mode"] != "bot":
                        requested = row["last_activity_at"] - timedelta(minutes=5)
                        handoffs.append(
                            {
                                "conversation_id": cid,
                                "reason": "asked",
                                "requested_at": requested,
                                "staff_id": agent_id if row["mode"] != "waiting" else None,
                                "taken_at": requested + timedelta(seconds=rng.randint(20, 900))
                                if row["mode"] != "waiting"
                                else None,
                                "resolved_at": row["last_activity_at"]
                                if row["mode"] == "resolved"
                                else None,
                                "csat": rng.randint(1, 5) if row["mode"] == "resolved" else None,
                            }
                        )
                table: Any = TranscriptMessage.__table__
                await conn.execute(insert(table), transcript)
                if handoffs:
                    await conn.execute(insert(Handoff.__table__), handoffs)
            print(f"  {start + count} conversations", file=sys.stderr, flush=True)
    finally:
        await db.dispose()


@contextlib.asynccontextmanager
async def serve(url: str, var: str) -> AsyncIterator[str]:
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "CSKH_VAR_DIR": var,
        "CSKH_PORT": str(port),
        "CSKH_DATABASE_URL": url,
        "CSKH_REST_TOKEN": TOKEN,
        "CSKH_SECRET_KEY": "bench",
        "CSKH_NOTIFY_SCHEDULER": "0",
        "CSKH_LOG_LEVEL": "WARNING",
        "CSKH_CONSOLE_LOGIN_PER_ADDRESS": "1000",
    }
    process = subprocess.Popen(  # noqa: ASYNC220 - started once, before any load
        [sys.executable, "-m", "bot", "serve"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(Path(var) / "serve.log", "w"),  # noqa: SIM115, ASYNC230 - once, at start
    )
    base = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as http:
            for _ in range(1200):
                with contextlib.suppress(aiohttp.ClientError):
                    async with http.get(base + "/healthz") as response:
                        if response.status == 200:
                            break
                await asyncio.sleep(0.1)
            else:
                raise RuntimeError("cskh serve did not start")
        # A fresh var directory trains the language model at start, in the background:
        # measure the server in its steady state, once the model is there.
        model = Path(var) / "nlu" / "intent-model.npz"
        for _ in range(1200):
            if model.exists():
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(2)
        yield base
    finally:
        process.send_signal(signal.SIGTERM)
        for _ in range(300):
            if process.poll() is not None:
                break
            await asyncio.sleep(0.1)
        else:
            process.kill()


async def sign_in(base: str, username: str) -> aiohttp.ClientSession:
    http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
    async with http.get(base + "/console/login") as response:
        token = re.search(r'name="csrf" value="([^"]+)"', await response.text())
    assert token
    form = {"csrf": token.group(1), "username": username, "password": PASSWORDS[username]}
    async with http.post(base + "/console/login", data=form) as response:
        assert response.status == 200, await response.text()
    return http


async def timed(http: aiohttp.ClientSession, url: str) -> tuple[float, str]:
    started = time.perf_counter()
    async with http.get(url) as response:
        body = await response.text()
        assert response.status == 200, (url, response.status, body[:300])
    return (time.perf_counter() - started) * 1000, body


def row(name: str, values: list[float], target: str) -> str:
    ordered = sorted(values)
    p95 = ordered[max(0, round(0.95 * len(ordered)) - 1)]
    return (
        f"| {name} | {len(values)} | {statistics.median(values):.1f} | {p95:.1f} | "
        f"{max(values):.1f} | {target} |"
    )


async def live_latency(base: str, agent: aiohttp.ClientSession, rounds: int) -> list[str]:
    """From the customer's POST to the event on the agent's stream, and to the page's
    refresh that shows the message."""
    announced: list[float] = []
    shown: list[float] = []
    async with aiohttp.ClientSession() as customer:
        headers = {"Authorization": f"Bearer {TOKEN}"}
        async with customer.post(
            base + "/api/chat", json={"user": "bench-live", "text": "xin chào"}, headers=headers
        ) as response:
            assert response.status == 200, await response.text()
        async with agent.get(base + "/console/events") as stream:
            await stream.content.readline()
            for n in range(rounds):
                text = f"tin nhắn số {n} gửi lúc {time.time():.3f}"
                started = time.perf_counter()
                post = asyncio.create_task(
                    customer.post(
                        base + "/api/chat",
                        json={"user": "bench-live", "text": text},
                        headers=headers,
                    )
                )
                conversation_id = None
                while conversation_id is None:
                    line = await asyncio.wait_for(stream.content.readline(), 10)
                    if line.startswith(b"data: "):
                        event = json.loads(line[6:])
                        if event.get("type") == "conversation":
                            conversation_id = event["id"]
                announced.append((time.perf_counter() - started) * 1000)
                async with agent.get(
                    f"{base}/console/conversations/{conversation_id}/live",
                    headers={"X-Requested-With": "fetch"},
                ) as response:
                    assert text in (await response.json())["transcript"]
                shown.append((time.perf_counter() - started) * 1000)
                (await post).close()
                # Drain the events of the bot's answer before the next round.
                with contextlib.suppress(TimeoutError):
                    while True:
                        await asyncio.wait_for(stream.content.readline(), 0.2)
    return [
        row("customer message → event on the agent's stream", announced, "—"),
        row("customer message → shown in the open transcript", shown, "< 300 ms"),
    ]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=50_000)
    parser.add_argument("--messages", type=int, default=10)
    parser.add_argument("--database-url")
    parser.add_argument("--rounds", type=int, default=40)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        var = os.environ.get("CSKH_BENCH_DIR") or scratch  # a kept directory: its serve.log
        url = args.database_url or f"sqlite+aiosqlite:///{var}/cskh.db"
        started = time.perf_counter()
        await build(url, args.conversations, args.messages)
        print(f"built in {time.perf_counter() - started:.0f} s", file=sys.stderr)
        async with serve(url, var) as base:
            agent = await sign_in(base, "agent")
            supervisor = await sign_in(base, "supervisor")
            try:
                lines = [
                    "| what | n | median ms | p95 ms | max ms | target (p95) |",
                    "|---|---|---|---|---|---|",
                ]
                for name, path in (
                    ("conversation list, first page", "/console/conversations"),
                    ("list: waiting for staff", "/console/conversations?mode=waiting"),
                    ("list: channel telegram", "/console/conversations?channel=telegram"),
                    ("list: customer code", "/console/conversations?code=PC05CC0123456"),
                    ("list rows (the live refresh)", "/console/conversations/rows"),
                ):
                    await timed(agent, base + path)  # warm
                    values = [(await timed(agent, base + path))[0] for _ in range(args.rounds)]
                    target = "< 150 ms" if name.startswith("conversation list") else "—"
                    lines.append(row(name, values, target))
                values = []
                rng = random.Random(1)
                for _ in range(args.rounds):
                    conversation_id = rng.randint(1, args.conversations)
                    values.append(
                        (await timed(agent, f"{base}/console/conversations/{conversation_id}"))[0]
                    )
                lines.append(row("one conversation's transcript page", values, "< 150 ms"))
                search = [
                    (await timed(agent, base + "/console/conversations?q=chạy+nhanh"))[0]
                    for _ in range(5)
                ]
                lines.append(row("list: text search over transcripts", search, "—"))
                lines += await live_latency(base, agent, args.rounds)
                async with supervisor.get(base + "/console/dashboard") as probe:
                    has_dashboard = probe.status == 200
                if has_dashboard:
                    values = [
                        (await timed(supervisor, base + "/console/dashboard"))[0]
                        for _ in range(max(5, args.rounds // 4))
                    ]
                    lines.append(
                        row("dashboard, last 14 days (all its queries)", values, "< 500 ms")
                    )
            finally:
                await agent.close()
                await supervisor.close()
    backend = "PostgreSQL" if args.database_url else "SQLite"
    print(
        f"\n{backend}, {args.conversations:,} generated conversations × {args.messages} "
        "messages + the demo data:\n"
    )
    print("\n".join(lines))


if __name__ == "__main__":
    asyncio.run(main())
