"""What the delivery benchmarks share (bench/notify_bench.py): a fresh database with chat
users and a notice written through the real outbox, the rate-limited fake Bot API in
its own process, `cskh worker` as a subprocess, and CPU readings from /proc.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import func, insert, select

from bot.core.messages import Reply
from bot.notify import outbox
from bot.store import migrate
from bot.store.db import Database
from bot.store.models import ChatUser, Conversation, Delivery

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
PG_SERVER = os.environ.get("CSKH_BENCH_PG", "postgres@127.0.0.1:5432")
FIRST_CHAT = 700_000_000  # chat ids of the benchmark's users: FIRST_CHAT + i
TICKS = os.sysconf("SC_CLK_TCK")


# --- databases -------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def fresh_database(kind: str, tmp: Path) -> AsyncIterator[str]:
    """A new, empty database for one benchmark: a SQLite file under `tmp`, or a
    PostgreSQL database created here and dropped afterwards."""
    if kind == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp / 'bench.db'}"
        return
    import asyncpg

    name = f"cskh_bench_{uuid.uuid4().hex[:8]}"
    admin_dsn = f"postgresql://{PG_SERVER}/postgres"
    admin = await asyncpg.connect(admin_dsn)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield f"postgresql+asyncpg://{PG_SERVER}/{name}"
    finally:
        admin = await asyncpg.connect(admin_dsn)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


async def add_chat_users(db: Database, count: int) -> None:
    """`count` Telegram chats (chat id = platform id), each with its conversation, as
    chats that once wrote to the bot have. Bulk inserts: this is set-up, not measured."""
    now = datetime.now(UTC)
    async with db.transaction() as session:
        start = int(await session.scalar(select(func.count()).select_from(ChatUser)) or 0)
    for first in range(start, start + count, 5000):
        last = min(first + 5000, start + count)
        async with db.transaction() as session:
            ids = await session.scalars(
                insert(ChatUser).returning(ChatUser.id),
                [
                    {
                        "channel": "telegram",
                        "platform_user_id": str(FIRST_CHAT + i),
                        "language": "vi",
                        "activated_at": now,
                        "created_at": now,
                        "last_seen_at": now,
                        "reachable": True,
                        "otp_required": False,
                    }
                    for i in range(first, last)
                ],
            )
            await session.execute(
                insert(Conversation),
                [
                    {
                        "chat_user_id": user_id,
                        "mode": "bot",
                        "state": {},
                        "last_activity_at": now,
                        "created_at": now,
                    }
                    for user_id in ids
                ],
            )


def notice_text(number: int) -> str:
    return (
        f"Thông báo #{number}: Điện lực Hội An tạm ngừng cấp điện từ 07:30 đến 11:30 "
        "ngày 28/11/2026 để bảo dưỡng lưới điện. Mong Quý khách thông cảm."
    )


@dataclass
class Enqueued:
    rows: int
    seconds: float  # notice_for + enqueue + commit
    load_seconds: float  # loading the ChatUser objects the producer hands to enqueue

    @property
    def per_second(self) -> float:
        return self.rows / self.seconds

    def __str__(self) -> str:
        return (
            f"{self.rows:,} rows in {self.seconds:.1f} s = {self.per_second:,.0f} rows/s "
            f"(+ {self.load_seconds:.1f} s loading the chat users)"
        )


async def enqueue_notice(db: Database, number: int, chats: int | None = None) -> Enqueued:
    """One notice to the first `chats` Telegram chat users (all when None), written with
    `outbox.notice_for` + `outbox.enqueue` in one transaction, as a producer does."""
    started = time.perf_counter()
    async with db.transaction() as session:
        query = select(ChatUser).where(ChatUser.channel == "telegram").order_by(ChatUser.id)
        if chats is not None:
            query = query.limit(chats)
        users = list(await session.scalars(query))
        loaded = time.perf_counter()
        notice = await outbox.notice_for(
            session, f"bench:outage:{number}", kind="outage_planned", category="outage"
        )
        replies = [Reply(text=notice_text(number))]
        ids = await outbox.enqueue(
            session,
            notice,
            [outbox.Addressee(user, replies) for user in users],
            now=datetime.now(UTC),
        )
    return Enqueued(len(ids), time.perf_counter() - loaded, loaded - started)


async def prepare(url: str, chats: int) -> Database:
    db = Database(url)
    await migrate.upgrade(db)
    await add_chat_users(db, chats)
    return db


async def statuses(db: Database) -> dict[str, int]:
    async with db.reading() as session:
        rows = await session.execute(select(Delivery.status, func.count()).group_by("status"))
        return {str(status): int(count) for status, count in rows}


async def count(db: Database, *where: Any) -> int:
    async with db.reading() as session:
        return int(await session.scalar(select(func.count()).select_from(Delivery).where(*where)))


# --- processes -------------------------------------------------------------------------


def cpu_seconds(pid: int, children: bool = False) -> float:
    """User + system CPU of a process (and of its reaped children)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return 0.0
    # Fields after the command: state is [0], utime [11], stime [12], cutime [13], cstime [14].
    ticks = int(fields[11]) + int(fields[12])
    if children:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / TICKS


def machine_cpu_seconds() -> float:
    """Busy CPU of the whole machine (all cores), from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]
    return (sum(values[:8]) - idle) / TICKS


def spawn(command: list[str], **options: Any) -> subprocess.Popen[bytes]:
    options.setdefault("stdout", subprocess.DEVNULL)
    return subprocess.Popen(command, **options)


class FakeTelegramProcess:
    """bench/fake_telegram_limited.py in its own process."""

    def __init__(self, tmp: Path, rate: float, chat_interval: float = 1.0) -> None:
        self.tmp = tmp
        self.rate = rate
        self.chat_interval = chat_interval
        self.process: subprocess.Popen[bytes] | None = None
        self.url = ""
        self._http: aiohttp.ClientSession | None = None

    async def start(self) -> FakeTelegramProcess:
        port_file = self.tmp / f"fake-{uuid.uuid4().hex[:6]}.port"
        self.process = spawn(
            [
                PYTHON,
                str(ROOT / "bench" / "fake_telegram_limited.py"),
                "--rate",
                str(self.rate),
                "--chat-interval",
                str(self.chat_interval),
                "--port-file",
                str(port_file),
            ],
        )
        deadline = time.monotonic() + 20
        while not port_file.exists() or not port_file.read_text():
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError("the fake Telegram server did not start")
            await asyncio.sleep(0.05)
        self.url = f"http://127.0.0.1:{port_file.read_text()}"
        self._http = aiohttp.ClientSession()
        return self

    async def stats(self, **query: str) -> dict[str, Any]:
        assert self._http is not None
        async with self._http.get(f"{self.url}/stats", params=query) as response:
            return dict(await response.json())

    def cpu(self) -> float:
        assert self.process is not None
        return cpu_seconds(self.process.pid)

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)


@dataclass
class WorkerProcess:
    """`cskh worker` with the benchmark's settings, in a directory with no .env file."""

    tmp: Path
    database_url: str
    telegram_url: str
    rate: float
    concurrency: int
    chat_interval: float = 1.0
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0
    env: dict[str, str] = field(default_factory=dict)
    profile: Path | None = None  # cProfile output of the worker (CSKH_BENCH_PROFILE)

    def start(self) -> WorkerProcess:
        self.starts += 1
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("CSKH_")},
            "CSKH_VAR_DIR": str(self.tmp / "var"),
            "CSKH_DATABASE_URL": self.database_url,
            "CSKH_SECRET_KEY": "bench",
            "CSKH_DEMO_SEED": "0",
            "CSKH_LOG_LEVEL": "WARNING",
            "CSKH_TELEGRAM_TOKEN": "123456:bench",
            "CSKH_TELEGRAM_API_URL": self.telegram_url,
            "CSKH_TELEGRAM_RATE": str(self.rate),
            "CSKH_TELEGRAM_CHAT_INTERVAL": str(self.chat_interval),
            "CSKH_NOTIFY_CONCURRENCY": str(self.concurrency),
            # Whatever the hour the benchmark runs at, nothing waits for the morning.
            "CSKH_QUIET_HOURS": "0-0",
            **self.env,
        }
        log = (self.tmp / f"worker-{self.starts}.log").open("wb")
        command = [str(ROOT / ".venv" / "bin" / "cskh"), "worker"]
        if os.environ.get("CSKH_BENCH_WORKER"):  # a script trying a patch: run it instead
            command = [PYTHON, os.environ["CSKH_BENCH_WORKER"], "worker"]
        if self.profile is not None:
            command = [PYTHON, "-m", "cProfile", "-o", f"{self.profile}.{self.starts}", *command]
        self.process = subprocess.Popen(
            command,
            cwd=self.tmp,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def cpu(self) -> float:
        return cpu_seconds(self.pid)

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """kill -9: no clean-up of any kind."""
        os.kill(self.pid, signal.SIGKILL)
        assert self.process is not None
        self.process.wait(10)

    def stop(self) -> float:
        """A clean stop (SIGTERM); the process's CPU seconds just before it."""
        used = self.cpu()
        if self.alive():
            assert self.process is not None
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        return used

    def log_tail(self, lines: int = 15) -> str:
        path = self.tmp / f"worker-{self.starts}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


class PostgresCpu:
    """CPU of the PostgreSQL server processes serving one database: its backends (the
    worker's pooled connections) plus the shared background processes (WAL writer,
    checkpointer, autovacuum...). Backends of other databases are left out."""

    def __init__(self, database: str) -> None:
        self.database = database
        self._admin: Any = None

    async def open(self) -> None:
        import asyncpg

        self._admin = await asyncpg.connect(f"postgresql://{PG_SERVER}/postgres")

    async def close(self) -> None:
        if self._admin is not None:
            await self._admin.close()

    async def sample(self) -> dict[int, float]:
        rows = await self._admin.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = $1 "
            "OR backend_type NOT IN ('client backend') AND datname IS NULL",
            self.database,
        )
        return {int(r["pid"]): cpu_seconds(int(r["pid"])) for r in rows}


def pg_cpu_between(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU used between two samples (a process that appeared in between counts whole)."""
    return sum(used - before.get(pid, 0.0) for pid, used in after.items())


# --- figures ---------------------------------------------------------------------------


def per_second_counts(arrivals: Iterable[float], start: float, end: float) -> list[int]:
    counts = [0] * max(1, int(end - start))
    for t in arrivals:
        index = int(t - start)
        if 0 <= index < len(counts):
            counts[index] += 1
    return counts


def max_in_window(arrivals: list[float], window: float = 1.0) -> int:
    """The most messages the fake accepted in any `window` seconds (sliding)."""
    best, first = 0, 0
    for last, t in enumerate(arrivals):
        while arrivals[first] <= t - window:
            first += 1
        best = max(best, last - first + 1)
    return best


def line(label: str, value: object) -> None:
    print(f"  {label:<52} {value}", flush=True)
