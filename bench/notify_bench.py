"""Delivery of notices under Telegram's limits (issue 7), through the real path: the
outbox rows written by `outbox.enqueue`, `cskh worker` (DeliveryWorker, RateLimiter,
the aiogram client of TelegramChannel.deliver) sending to a fake Bot API that enforces
a limit per sliding second and 1 message/s per chat, answering 429 beyond them.

    python bench/notify_bench.py all          # the three below, about 15 minutes
    python bench/notify_bench.py rate         # 100,000 at a scaled limit, 30/s, per chat
    python bench/notify_bench.py broadcast    # PostgreSQL at the 1,000/s paid limit
    python bench/notify_bench.py crash        # kill -9 of the worker mid-run, restart

Options scale each one down for a quick look (--chats, --rate, --concurrency...).
Every run uses a new database (SQLite file or PostgreSQL database on
CSKH_BENCH_PG, default postgres@127.0.0.1:5432, created and dropped) and a new fake.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from notify_rig import (
    FakeTelegramProcess,
    PostgresCpu,
    WorkerProcess,
    count,
    cpu_seconds,
    enqueue_notice,
    fresh_database,
    line,
    machine_cpu_seconds,
    max_in_window,
    pg_cpu_between,
    prepare,
    statuses,
)
from sqlalchemy import func, select

from bot.store.db import Database
from bot.store.models import ChatUser, Delivery

UNFINISHED = ("queued", "claimed", "sending")
IN_HAND = ("claimed", "sending")  # rows a worker holds
STALL_SECONDS = 120.0  # no message for this long (past a kill's recovery): give up


@dataclass
class Snapshot:
    accepted: int
    at: float  # the fake's monotonic clock
    worker_cpu: float
    fake_cpu: float
    machine_cpu: float
    bench_cpu: float  # this process (polling the fake and the database)
    pg: dict[int, float] | None


@dataclass
class Run:
    """What one delivery run measured."""

    rate: float
    concurrency: int
    expected: int
    rows: tuple[int, int]  # the ids of the rows this run sends
    accepted: int = 0
    refused_rate: int = 0
    refused_chat: int = 0
    duplicates: int = 0
    losses: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    in_doubt: int = 0
    sustained: float = 0.0
    overall: float = 0.0
    max_window: int = 0
    worst_second: int = 0
    seconds: float = 0.0
    worker_cpu_per_1000: float = 0.0
    fake_cpu_per_1000: float = 0.0
    pg_cpu_per_1000: float | None = None
    machine_busy: float = 0.0  # share of both cores busy in the measured stretch
    others_busy: float = 0.0  # of which other processes (not worker, fake, PostgreSQL, us)
    worker_cpu_total: float = 0.0
    refusals: list[tuple[float, str]] = field(default_factory=list)  # (s after first, why)
    at_kill: dict[str, int] = field(default_factory=dict)
    kill_to_first: float = 0.0  # the new worker's first message
    kill_to_recovery: float = 0.0  # the dead worker's rows taken back

    def print(self, title: str) -> None:
        print(f"\n{title}", flush=True)
        line("limit (fake) / worker concurrency", f"{self.rate:g}/s / {self.concurrency}")
        line("messages expected / accepted by the fake", f"{self.expected} / {self.accepted}")
        line(
            "sustained, 10%→90% of messages (ratio to limit)",
            f"{self.sustained:.1f}/s ({self.sustained / self.rate:.1%})",
        )
        line(
            "first→last message (ratio to limit)",
            f"{self.overall:.1f}/s ({self.overall / self.rate:.1%}) in {self.seconds:.1f} s",
        )
        line("most in any sliding second / fewest in a whole second", self.worst_window())
        line("429s: over the rate / per-chat gap", f"{self.refused_rate} / {self.refused_chat}")
        for at, why in self.refusals[:5]:
            line("  a 429 at", f"{at:.3f} s: {why}")
        line("duplicates (same chat and text twice)", self.duplicates)
        line("losses (rows the fake never got)", self.losses)
        line("rows by status", dict(sorted(self.statuses.items())))
        line("rows in_doubt", self.in_doubt)
        if self.worker_cpu_per_1000:
            line("CPU s per 1,000 messages: worker", f"{self.worker_cpu_per_1000:.3f}")
            line("                            fake Bot API", f"{self.fake_cpu_per_1000:.3f}")
            if self.pg_cpu_per_1000 is not None:
                line("                            PostgreSQL", f"{self.pg_cpu_per_1000:.3f}")
            line(
                "machine busy in that stretch (2 cores = 100%)",
                f"{self.machine_busy:.0%}, of which other processes {self.others_busy:.0%}",
            )
        line("worker CPU s, whole process life", f"{self.worker_cpu_total:.1f}")

    def worst_window(self) -> str:
        return f"{self.max_window} / {self.worst_second}"


async def snapshot(
    fake: FakeTelegramProcess, workers: list[WorkerProcess], pg: PostgresCpu | None
) -> Snapshot:
    stats = await fake.stats()
    return Snapshot(
        int(stats["accepted"]),
        float(stats["now"]),
        sum(worker.cpu() for worker in workers),
        fake.cpu(),
        machine_cpu_seconds(),
        cpu_seconds(os.getpid()),
        await pg.sample() if pg else None,
    )


async def deliver_all(
    db: Database,
    tmp: Path,
    *,
    rate: float,
    concurrency: int,
    pg: PostgresCpu | None = None,
    kill_at: float | None = None,
    chat_interval: float = 1.0,
    processes: int = 1,
) -> Run:
    """Start a fake and `processes` workers (the limit divided between them, as
    docs/DESIGN.md says to), wait until no row is left to send, check everything."""
    expected = await count(db, Delivery.status.in_(UNFINISHED))
    async with db.reading() as session:
        first_id, last_id = (
            await session.execute(
                select(func.min(Delivery.id), func.max(Delivery.id)).where(
                    Delivery.status.in_(UNFINISHED)
                )
            )
        ).one()
    run = Run(rate, concurrency, expected, rows=(int(first_id), int(last_id)))
    fake = await FakeTelegramProcess(tmp, rate, chat_interval).start()
    url = str(db.url.render_as_string(False))
    workers = [
        WorkerProcess(tmp / f"w{n}", url, fake.url, rate / processes, concurrency)
        for n in range(processes)
    ]
    worker = workers[0]
    for each in workers:
        each.tmp.mkdir(exist_ok=True)
        if os.environ.get("CSKH_BENCH_PROFILE"):
            each.profile = Path(os.environ["CSKH_BENCH_PROFILE"])
        each.start()
    marks: dict[str, Snapshot] = {}
    killed_at: float | None = None
    dead: list[str] = []
    progress, progress_at, checked_at = -1, time.monotonic(), 0.0
    try:
        while True:
            await asyncio.sleep(0.2)
            for each in workers:
                if not each.alive():
                    raise RuntimeError(f"a worker stopped:\n{each.log_tail()}")
            stats = await fake.stats()
            accepted = int(stats["accepted"])
            for name, share in (("start", 0.1), ("end", 0.9)):
                if name not in marks and accepted >= share * expected and killed_at is None:
                    marks[name] = await snapshot(fake, workers, pg)
            if kill_at is not None and killed_at is None and accepted >= kill_at * expected:
                # The worst moment: a wave on the wire (rows `sending`), not between two.
                for _ in range(2000):  # (another process's rows: polled, 10 s at most)
                    if await count(db, Delivery.status == "sending"):
                        break
                    await asyncio.sleep(0.005)
                worker.kill()
                killed_at = time.monotonic()
                dead = await workers_holding_rows(db)
                run.at_kill = {
                    "sending": await count(db, Delivery.status == "sending"),
                    "claimed": await count(db, Delivery.status == "claimed"),
                    "accepted by the fake": int((await fake.stats())["accepted"]),
                }
                worker.start()
                marks.clear()  # no CPU figures across two processes
            restarted = killed_at is not None and not run.kill_to_first
            if restarted and accepted > run.at_kill["accepted by the fake"]:
                run.kill_to_first = time.monotonic() - (killed_at or 0.0)
            if killed_at is not None and not run.kill_to_recovery:
                taken = Delivery.worker.in_(dead), Delivery.status.in_(IN_HAND)
                if await count(db, *taken) == 0:
                    run.kill_to_recovery = time.monotonic() - killed_at
            if accepted != progress:
                progress, progress_at = accepted, time.monotonic()
            elif time.monotonic() - progress_at > STALL_SECONDS:
                raise RuntimeError(f"no progress for {STALL_SECONDS} s:\n{worker.log_tail()}")
            if accepted >= expected and time.monotonic() - checked_at > 1.0:
                checked_at = time.monotonic()
                if await count(db, Delivery.status.in_(UNFINISHED)) == 0:
                    break
        run.worker_cpu_total = sum(each.stop() for each in workers)
        final = await fake.stats(arrivals="1", chats="1")
    finally:
        for each in workers:
            each.stop()
        await fake.close()
    await check(db, run, final)
    if "start" in marks and "end" in marks:
        first, last = marks["start"], marks["end"]
        thousands = (last.accepted - first.accepted) / 1000
        run.worker_cpu_per_1000 = (last.worker_cpu - first.worker_cpu) / thousands
        run.fake_cpu_per_1000 = (last.fake_cpu - first.fake_cpu) / thousands
        if first.pg is not None and last.pg is not None:
            run.pg_cpu_per_1000 = pg_cpu_between(first.pg, last.pg) / thousands
        capacity = (last.at - first.at) * (os.cpu_count() or 1)
        busy = last.machine_cpu - first.machine_cpu
        ours = (
            last.worker_cpu
            - first.worker_cpu
            + last.fake_cpu
            - first.fake_cpu
            + last.bench_cpu
            - first.bench_cpu
            + (run.pg_cpu_per_1000 or 0.0) * thousands
        )
        run.machine_busy = busy / capacity
        run.others_busy = max(0.0, busy - ours) / capacity
    return run


def slope(times: list[float]) -> float:
    """Messages per second: the least-squares slope of message number over time."""
    n = len(times)
    if n < 2:
        return 0.0
    mean_t, mean_i = sum(times) / n, (n - 1) / 2
    spread = sum((t - mean_t) ** 2 for t in times)
    return sum((t - mean_t) * (i - mean_i) for i, t in enumerate(times)) / spread


async def workers_holding_rows(db: Database) -> list[str]:
    async with db.reading() as session:
        held = await session.scalars(
            select(Delivery.worker).where(Delivery.status.in_(IN_HAND)).distinct()
        )
        return [str(worker) for worker in held]


async def check(db: Database, run: Run, final: dict[str, object]) -> None:
    """Compare what the fake received with the rows: rates, 429s, duplicates, losses."""
    arrivals: list[float] = list(final["arrivals"])  # type: ignore[call-overload]
    chats: list[str] = list(final["chats"])  # type: ignore[call-overload]
    run.accepted = len(arrivals)
    run.refused_rate = int(final["refused_rate"])  # type: ignore[call-overload]
    run.refused_chat = int(final["refused_chat"])  # type: ignore[call-overload]
    run.refusals = [
        (at - arrivals[0], f"{kind}, chat {chat}")
        for at, chat, kind in final["refusals"]  # type: ignore[attr-defined]
    ]
    run.duplicates = int(final["duplicates"])  # type: ignore[call-overload]
    if len(arrivals) > 1:
        run.seconds = arrivals[-1] - arrivals[0]
        run.overall = (len(arrivals) - 1) / run.seconds
        # The slope of messages over time from the 10% to the 90% message (least
        # squares): the waves leave in bursts, which a count over a span cut mid-wave
        # would over- or under-count by one burst.
        low, high = int(len(arrivals) * 0.1), int(len(arrivals) * 0.9)
        run.sustained = slope(arrivals[low:high])
        start = arrivals[low]
        whole = max(1, int(arrivals[high - 1] - start))
        per_second = collections.Counter(int(t - start) for t in arrivals[low:])
        run.worst_second = min(per_second[s] for s in range(whole))
        run.max_window = max_in_window(arrivals)
    async with db.reading() as session:
        wanted = collections.Counter(
            str(chat)
            for (chat,) in await session.execute(
                select(ChatUser.platform_user_id)
                .join(Delivery, Delivery.chat_user_id == ChatUser.id)
                .where(Delivery.id.between(*run.rows))
            )
        )
    received = collections.Counter(chats)
    run.losses = sum(max(0, n - received[chat]) for chat, n in wanted.items())
    run.statuses = await statuses(db)
    run.in_doubt = await count(db, Delivery.in_doubt.is_(True))


# --- the three benchmarks ----------------------------------------------------------------


async def bench_rate(args: argparse.Namespace) -> None:
    """1. 100,000 notices: at a scaled limit, then a slice at the real 30/s, then a few
    chats with many notices each (the 1/s per-chat gap)."""
    with tempfile.TemporaryDirectory(prefix="cskh-bench-") as name:
        tmp = Path(name)
        async with fresh_database(args.database, tmp) as url:
            db = await prepare(url, args.chats)
            try:
                print(f"\n1. Rate limit on {args.database}: {args.chats:,} chat users", flush=True)
                written = await enqueue_notice(db, 1)
                line("enqueue 1 notice (notice_for + enqueue, commit)", written)
                run = await deliver_all(db, tmp, rate=args.rate, concurrency=args.concurrency)
                run.print(f"1a. {written.rows:,} notices at a {args.rate:g}/s limit")
                await enqueue_notice(db, 2, chats=args.slow_chats)
                run = await deliver_all(db, tmp, rate=30, concurrency=args.concurrency)
                run.print(f"1b. {args.slow_chats:,} notices at the real 30/s limit")
                for number in range(3, 3 + args.repeat):
                    await enqueue_notice(db, number, chats=args.repeat_chats)
                run = await deliver_all(db, tmp, rate=30, concurrency=args.concurrency)
                run.print(
                    f"1c. {args.repeat} notices to each of {args.repeat_chats} chats at 30/s "
                    f"(bound: {args.repeat_chats} chats × 1/s)"
                )
            finally:
                await db.dispose()


async def bench_broadcast(args: argparse.Namespace) -> None:
    """2. The paid-broadcast limit, 1,000 messages/s, on PostgreSQL."""
    with tempfile.TemporaryDirectory(prefix="cskh-bench-") as name:
        tmp = Path(name)
        async with fresh_database("postgresql", tmp) as url:
            db = await prepare(url, args.chats)
            pg = PostgresCpu(str(db.url.database))
            await pg.open()
            try:
                print(f"\n2. Broadcast on PostgreSQL: {args.chats:,} chat users", flush=True)
                runs = [(1, c) for c in args.concurrency_list]
                runs += [(n, args.concurrency_list[-1]) for n in args.processes_list]
                for number, (processes, concurrency) in enumerate(runs, start=1):
                    written = await enqueue_notice(db, number)
                    line("enqueue 1 notice (notice_for + enqueue, commit)", written)
                    run = await deliver_all(
                        db,
                        tmp,
                        rate=args.rate,
                        concurrency=concurrency,
                        pg=pg,
                        processes=processes,
                    )
                    run.print(
                        f"2. {written.rows:,} notices at the {args.rate:g}/s limit, "
                        f"{processes} × cskh worker (CSKH_TELEGRAM_RATE={args.rate / processes:g}"
                        f", CSKH_NOTIFY_CONCURRENCY={concurrency})"
                    )
            finally:
                await pg.close()
                await db.dispose()


async def bench_crash(args: argparse.Namespace) -> None:
    """3. kill -9 of `cskh worker` mid-run; a new one finishes the job."""
    with tempfile.TemporaryDirectory(prefix="cskh-bench-") as name:
        tmp = Path(name)
        async with fresh_database("postgresql", tmp) as url:
            db = await prepare(url, args.chats)
            try:
                written = await enqueue_notice(db, 1)
                print(f"\n3. Crash on PostgreSQL: {written.rows:,} notices", flush=True)
                run = await deliver_all(
                    db, tmp, rate=args.rate, concurrency=args.concurrency, kill_at=args.kill_at
                )
                run.print(
                    f"3. kill -9 after {args.kill_at:.0%} of the messages, restart at once "
                    "(default stale_after 30 s)"
                )
                line("at the kill: rows sending / claimed", _at_kill(run))
                line("kill → restarted worker's first message (s)", f"{run.kill_to_first:.1f}")
                line("kill → dead worker's rows taken back (s)", f"{run.kill_to_recovery:.1f}")
                ok = (
                    run.losses == 0
                    and run.duplicates <= run.at_kill["sending"]
                    and run.in_doubt == run.at_kill["sending"]
                )
                line("duplicates ≤ in flight at the kill == in_doubt", "yes" if ok else "NO")
            finally:
                await db.dispose()


def _at_kill(run: Run) -> str:
    return f"{run.at_kill.get('sending', 0)} / {run.at_kill.get('claimed', 0)}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    rate = commands.add_parser("rate", help="1. 100,000 notices under the limit")
    rate.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    rate.add_argument("--chats", type=int, default=100_000)
    rate.add_argument("--rate", type=float, default=300.0, help="the scaled limit (1a)")
    rate.add_argument("--concurrency", type=int, default=30)
    rate.add_argument("--slow-chats", type=int, default=3000, help="rows at the real 30/s")
    rate.add_argument("--repeat", type=int, default=10, help="notices per chat (1c)")
    rate.add_argument("--repeat-chats", type=int, default=20)
    broadcast = commands.add_parser("broadcast", help="2. 1,000/s on PostgreSQL")
    broadcast.add_argument("--chats", type=int, default=100_000)
    broadcast.add_argument("--rate", type=float, default=1000.0)
    broadcast.add_argument(
        "--concurrency", default="30,300", help="comma-separated: one run (one notice) each"
    )
    broadcast.add_argument(
        "--processes",
        default="2",
        help="comma-separated: then one run each with that many `cskh worker` processes "
        "(the last concurrency, the limit divided between them); empty for none",
    )
    crash = commands.add_parser("crash", help="3. kill -9 mid-run")
    crash.add_argument("--chats", type=int, default=20_000)
    crash.add_argument("--rate", type=float, default=300.0)
    crash.add_argument("--concurrency", type=int, default=30)
    crash.add_argument("--kill-at", type=float, default=0.4, help="share of messages sent")
    every = commands.add_parser("all", help="the three, with their defaults")
    every.set_defaults(command="all")
    args = parser.parse_args()
    started = time.monotonic()
    if args.command == "all":
        for command in ("rate", "broadcast", "crash"):
            defaults = parser.parse_args([command])
            _lists(defaults)
            asyncio.run(BENCHES[command](defaults))
    else:
        _lists(args)
        asyncio.run(BENCHES[args.command](args))
    print(f"\n(total {time.monotonic() - started:.0f} s)")


def _lists(args: argparse.Namespace) -> None:
    if args.command == "broadcast":
        args.concurrency_list = [int(c) for c in args.concurrency.split(",")]
        args.processes_list = [int(n) for n in args.processes.split(",") if n.strip()]


BENCHES = {"rate": bench_rate, "broadcast": bench_broadcast, "crash": bench_crash}

if __name__ == "__main__":
    main()
