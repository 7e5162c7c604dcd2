"""Load on the real Telegram webhook path, against a bare aiogram echo bot in the same
run (issue 20's harness).

    python bench/load_bench.py [--database postgresql|sqlite] [--scenario mixed|start|lookups]
                               [--users 150] [--concurrency 32 | --rate 40] [--bots cskh,echo]

Seeds a fresh database with the demo data (PostgreSQL: a database created on
CSKH_BENCH_PG, default postgres@127.0.0.1:5432, dropped afterwards), starts a fake Bot API
in its own process (bench/load_fake_api.py: answers at once, records when each call for
each chat arrived) and then, one after the other, each bot under test as its own process
on a webhook: `cskh serve` with Telegram on (CSKH_TELEGRAM_MODE=webhook, the fake as
CSKH_TELEGRAM_API_URL) and the echo bot (bench/echo_bot.py, aiogram's
SimpleRequestHandler, one `message.answer` per update). A load generator in another
process posts Update JSON to the webhook as simulated users, each sending its
scenario's messages in order:

* closed loop (`--concurrency N`, the default 32): N users at a time, each posting its
  next message once the webhook answered the last;
* open loop (`--rate R`, updates a second): update i is due at start + i/R whatever the
  others are doing (a user's next message still waits for the webhook's answer to its
  last, as Telegram keeps a chat's updates in order), so a queue shows in the latency.

Scenarios: `mixed` (/start, /menu, a bill estimate by free text, "nhà tôi bị mất điện",
"lich cat dien", "cảm ơn" and six more of the same kinds: 12 updates a user), `start`
(/start, 12 times) and `lookups` (chats linked to a demo customer code, as after
activation: the bill, the consumption chart, the e-invoice PDF, the meter-reading
schedule by free text). A first round of users warms each bot up, unmeasured.

Reported per bot: updates/s (updates over the time from the first post to the last Bot
API call), latency per update (from its post to the later of the webhook's answer and
the last Bot API call for that chat before the chat's next post: the customer's wait)
p50/p95/p99, text and media replies apart, webhook errors, CPU per update of the bot's
process and of PostgreSQL's (and Redis's) processes, and the bot's peak RSS; then the
ratios of cskh to echo. The figures go to docs/BENCHMARKS.md with this command.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import signal
import socket
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
from ipn_bench import percentile, postgres_cpu, seeded_database
from sqlalchemy import insert, select

from bot.store.db import Database
from bot.store.models import Bill, ChatUser, Customer, CustomerLink

PROJECT = Path(__file__).resolve().parents[1]
NLU_CACHE = Path(tempfile.gettempdir()) / "cskh-test-nlu-cache"  # the tests' trained model
SECRET = "load-bench-secret"
TOKEN = "1:load"
CHAT_BASE = 700_000
WARM_USERS = 16

SCENARIOS: dict[str, list[str]] = {
    "mixed": [
        "/start",
        "/menu",
        "tính tiền điện 250 số",
        "nhà tôi bị mất điện",
        "lich cat dien",
        "cảm ơn",
        "/menu",
        "tinh tien dien 180 kwh",
        "lịch cắt điện tuần này",
        "xin chào",
        "cac diem thu tien dien gan day",
        "cam on nhe",
    ],
    "start": ["/start"] * 12,
    "lookups": [
        "/start",
        "xem hóa đơn tiền điện",
        "biểu đồ tiêu thụ điện",
        "hoa don dien tu",
        "lịch ghi chỉ số",
        "tien dien thang nay bao nhieu",
        "cảm ơn",
    ],
}


# --- the bots under test ------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class BotProcess:
    name: str
    process: asyncio.subprocess.Process
    base_url: str
    started_in: float

    @property
    def pid(self) -> int:
        return self.process.pid

    async def stop(self) -> None:
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), 30)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()


async def start_bot(name: str, url: str, api_url: str, tmp: Path) -> BotProcess:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CSKH_")}
    env["PYTHONPATH"] = str(PROJECT)
    if name == "cskh":
        env.update(
            {
                "CSKH_DATABASE_URL": url,
                "CSKH_VAR_DIR": str(tmp / "var"),
                "CSKH_SECRET_KEY": "load-bench",
                "CSKH_DEMO_SEED": "0",
                "CSKH_NLU_CACHE_DIR": str(NLU_CACHE),
                "CSKH_NOTIFY_SCHEDULER": "0",
                "CSKH_TELEGRAM_TOKEN": TOKEN,
                "CSKH_TELEGRAM_MODE": "webhook",
                "CSKH_TELEGRAM_WEBHOOK_SECRET": SECRET,
                "CSKH_TELEGRAM_API_URL": api_url,
                "CSKH_TELEGRAM_RATE": "100000",
                "CSKH_PUBLIC_URL": f"http://127.0.0.1:{port}",
                "CSKH_PORT": str(port),
                "CSKH_HOST": "127.0.0.1",
            }
        )
        command = [sys.executable, "-m", "bot", "serve"]
    else:
        command = [
            sys.executable,
            str(PROJECT / "bench" / "echo_bot.py"),
            "--port",
            str(port),
            "--api-url",
            api_url,
            "--secret",
            SECRET,
            "--token",
            TOKEN,
        ]
    log = (tmp / f"{name}.log").open("w")
    began = time.perf_counter()
    process = await asyncio.create_subprocess_exec(
        *command, env=env, stdout=log, stderr=log, cwd=tmp
    )
    base_url = f"http://127.0.0.1:{port}"
    async with aiohttp.ClientSession() as http:
        while True:
            if process.returncode is not None:
                raise SystemExit(f"{name} stopped at start: see {tmp / (name + '.log')}")
            with contextlib.suppress(aiohttp.ClientError):
                async with http.get(base_url + "/healthz") as response:
                    if response.status == 200:
                        break
            await asyncio.sleep(0.05)
    return BotProcess(name, process, base_url, time.perf_counter() - began)


@contextlib.asynccontextmanager
async def fake_api(tmp: Path) -> AsyncIterator[str]:
    port_file = tmp / "fake-api.port"
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(PROJECT / "bench" / "load_fake_api.py"), "--port-file", str(port_file)
    )
    try:
        while not port_file.exists() or not port_file.read_text():  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        yield f"http://127.0.0.1:{port_file.read_text()}"
    finally:
        process.terminate()
        await process.wait()


# --- the users ----------------------------------------------------------------------


async def link_chats(url: str, chat_ids: list[int]) -> None:
    """Each chat activated and linked to one demo customer code with bills, as after
    logging in (bulk inserts: set-up, not measured)."""
    db = Database(url)
    now = datetime.now(UTC)
    try:
        async with db.transaction() as session:
            codes = list(
                await session.scalars(
                    select(Customer.code)
                    .where(Customer.id.in_(select(Bill.customer_id)))
                    .order_by(Customer.code)
                    .limit(len(chat_ids))
                )
            )
            users = [
                ChatUser(
                    channel="telegram",
                    platform_user_id=str(chat_id),
                    activated_at=now,
                    default_customer_code=codes[i % len(codes)],
                    identity=f"portal:load-{chat_id}",
                )
                for i, chat_id in enumerate(chat_ids)
            ]
            session.add_all(users)
            await session.flush()
            await session.execute(
                insert(CustomerLink),
                [
                    {"chat_user_id": user.id, "customer_code": user.default_customer_code}
                    for user in users
                ],
            )
    finally:
        await db.dispose()


def update_json(update_id: int, chat_id: int, text: str) -> bytes:
    sender = {
        "id": chat_id,
        "is_bot": False,
        "first_name": f"Khách {chat_id}",
        "language_code": "vi",
    }
    message = {
        "message_id": update_id,
        "date": int(time.time()),
        "chat": {"id": chat_id, "type": "private", "first_name": sender["first_name"]},
        "from": sender,
        "text": text,
    }
    if text.startswith("/"):
        message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
    return json.dumps({"update_id": update_id, "message": message}).encode()


@dataclass
class Sent:
    chat_id: int
    posted: float  # time.monotonic()
    answered: float
    status: int


@dataclass
class Plan:
    users: list[tuple[int, list[str]]]
    concurrency: int | None
    rate: float | None
    first_update: int = 1


def load(base_url: str, plan: Plan, results: Any) -> None:
    """The load generator's process: puts the list of `Sent`."""
    results.put(asyncio.run(_load(base_url, plan)))


async def _load(base_url: str, plan: Plan) -> list[Sent]:
    import gc

    gc.freeze()
    out: list[Sent] = []
    url = base_url + "/telegram/webhook"
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET, "Content-Type": "application/json"}
    update_ids = iter(range(plan.first_update, 10**9))
    connector = aiohttp.TCPConnector(limit=1000)
    async with aiohttp.ClientSession(connector=connector) as http:

        async def post(chat_id: int, text: str) -> None:
            body = update_json(next(update_ids), chat_id, text)
            posted = time.monotonic()
            try:
                async with http.post(url, data=body, headers=headers) as response:
                    await response.read()
                    status = response.status
            except aiohttp.ClientError:
                status = 0
            out.append(Sent(chat_id, posted, time.monotonic(), status))

        if plan.rate is None:
            queue: asyncio.Queue[tuple[int, list[str]]] = asyncio.Queue()
            for user in plan.users:
                queue.put_nowait(user)

            async def worker() -> None:
                while not queue.empty():
                    chat_id, texts = queue.get_nowait()
                    for text in texts:
                        await post(chat_id, text)

            await asyncio.gather(*(worker() for _ in range(plan.concurrency or 1)))
            return out

        # Open loop: update i due at start + i / rate, users interleaved.
        start = time.monotonic() + 0.2
        steps = max(len(texts) for _, texts in plan.users)
        per_user: dict[int, list[tuple[float, str]]] = {}
        i = 0
        for step in range(steps):
            for chat_id, texts in plan.users:
                if step < len(texts):
                    per_user.setdefault(chat_id, []).append((start + i / plan.rate, texts[step]))
                    i += 1

        async def user(chat_id: int, due_texts: list[tuple[float, str]]) -> None:
            for due, text in due_texts:
                delay = due - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                await post(chat_id, text)

        await asyncio.gather(*(user(c, d) for c, d in per_user.items()))
        return out


# --- the figures --------------------------------------------------------------------


@dataclass
class Figures:
    bot: str
    updates: int = 0
    per_second: float = 0.0
    latency_text: list[float] = field(default_factory=list)
    latency_media: list[float] = field(default_factory=list)
    errors: int = 0
    cpu_ms: float = 0.0
    pg_cpu_ms: float = 0.0
    redis_cpu_ms: float = 0.0
    peak_rss_mb: float = 0.0
    started_in: float = 0.0


def figures(bot: str, sent: list[Sent], calls: list[list[Any]]) -> Figures:
    by_chat: dict[int, list[tuple[float, str]]] = {}
    for chat_id, method, at in calls:
        by_chat.setdefault(int(chat_id), []).append((float(at), str(method)))
    for chat_calls in by_chat.values():
        chat_calls.sort()
    posts: dict[int, list[Sent]] = {}
    for item in sorted(sent, key=lambda s: s.posted):
        posts.setdefault(item.chat_id, []).append(item)
    result = Figures(bot, updates=len(sent), errors=sum(1 for s in sent if s.status != 200))
    last = max((s.answered for s in sent), default=0.0)
    for chat_id, chat_posts in posts.items():
        chat_calls = by_chat.get(chat_id, [])
        for k, item in enumerate(chat_posts):
            until = chat_posts[k + 1].posted if k + 1 < len(chat_posts) else float("inf")
            replies = [(at, m) for at, m in chat_calls if item.posted <= at < until]
            done = max([item.answered, *(at for at, _ in replies)])
            last = max(last, done)
            media = any(m in ("sendPhoto", "sendDocument", "sendMediaGroup") for _, m in replies)
            (result.latency_media if media else result.latency_text).append(
                (done - item.posted) * 1000
            )
    first = min((s.posted for s in sent), default=0.0)
    result.per_second = len(sent) / (last - first) if last > first else 0.0
    return result


def process_cpu(pid: int) -> float:
    values = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(values[11]) + int(values[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def named_cpu(name: str) -> float:
    """CPU seconds of every process called `name` (Linux /proc)."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            head, tail = stat.read_text().rsplit(")", 1)
            if head.endswith(f"({name}"):
                values = tail.split()
                total += int(values[11]) + int(values[12])
        except (OSError, IndexError, ValueError):
            continue
    return total / os.sysconf("SC_CLK_TCK")


async def measure(bot: BotProcess, api_url: str, plan: Plan, warm: Plan) -> Figures:
    spawn = multiprocessing.get_context("spawn")
    async with aiohttp.ClientSession() as http:
        for current in (warm, plan):
            async with http.post(api_url + "/reset") as response:
                await response.read()
            results = spawn.Queue()
            generator = spawn.Process(target=load, args=(bot.base_url, current, results))
            cpu, pg, redis = process_cpu(bot.pid), postgres_cpu(), named_cpu("redis-server")
            generator.start()
            sent: list[Sent] = await asyncio.to_thread(results.get)
            await asyncio.to_thread(generator.join)
            await asyncio.sleep(1.0)  # replies the echo bot sends after answering the post
            cpu = process_cpu(bot.pid) - cpu
            pg, redis = postgres_cpu() - pg, named_cpu("redis-server") - redis
        async with http.get(api_url + "/calls") as response:
            calls = await response.json()
    result = figures(bot.name, sent, calls)
    n = max(1, result.updates)
    result.cpu_ms = cpu * 1000 / n
    result.pg_cpu_ms = pg * 1000 / n
    result.redis_cpu_ms = redis * 1000 / n
    result.peak_rss_mb = peak_rss_mb(bot.pid)
    result.started_in = bot.started_in
    return result


def report(rows: list[Figures], scenario: str, plan: Plan, database: str) -> None:
    mode = (
        f"open loop at {plan.rate:g} updates/s"
        if plan.rate
        else f"closed loop, {plan.concurrency} users at a time"
    )
    print(
        f"\n{scenario} on {database}: {len(plan.users)} users × "
        f"{len(plan.users[0][1])} updates, {mode}"
    )
    print(
        "| bot | updates/s | text p50 / p95 / p99 ms | media p50 / p95 / p99 ms | errors "
        "| bot CPU per update | PostgreSQL CPU per update | peak RSS | start to /healthz 200 |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")

    def triple(values: list[float]) -> str:
        if not values:
            return "–"
        return " / ".join(f"{percentile(values, p):.0f}" for p in (50, 95, 99))

    for row in rows:
        print(
            f"| {row.bot} | {row.per_second:.1f} | {triple(row.latency_text)} "
            f"| {triple(row.latency_media)} | {row.errors} | {row.cpu_ms:.2f} ms "
            f"| {row.pg_cpu_ms:.2f} ms | {row.peak_rss_mb:.0f} MB | {row.started_in:.1f} s |"
        )
    by_name = {row.bot: row for row in rows}
    if "cskh" in by_name and "echo" in by_name:
        ours, echo = by_name["cskh"], by_name["echo"]
        print(
            f"\ncskh / echo: CPU per update {ours.cpu_ms / max(echo.cpu_ms, 1e-9):.2f}×, "
            f"throughput {ours.per_second / max(echo.per_second, 1e-9):.2f}×"
        )


async def run(args: argparse.Namespace) -> None:
    script = SCENARIOS[args.scenario]
    chats = [CHAT_BASE + i for i in range(args.users + WARM_USERS)]
    users = [(chat, list(script)) for chat in chats[WARM_USERS:]]
    warm_users = [(chat, list(script)) for chat in chats[:WARM_USERS]]
    concurrency = None if args.rate else args.concurrency
    plan = Plan(users, concurrency, args.rate, first_update=10_000)
    warm = Plan(warm_users, min(WARM_USERS, args.concurrency), None, first_update=1)
    rows: list[Figures] = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        async with seeded_database(args.database, tmp) as url, fake_api(tmp) as api_url:
            if args.scenario == "lookups":
                await link_chats(url, chats)
            for name in args.bots.split(","):
                bot = await start_bot(name, url, api_url, tmp)
                try:
                    rows.append(await measure(bot, api_url, plan, warm))
                finally:
                    await bot.stop()
    report(rows, args.scenario, plan, args.database)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=("postgresql", "sqlite"), default="postgresql")
    parser.add_argument("--scenario", choices=sorted(SCENARIOS), default="mixed")
    parser.add_argument("--users", type=int, default=150)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rate", type=float, help="open loop: updates a second")
    parser.add_argument("--bots", default="cskh,echo")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
