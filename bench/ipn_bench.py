"""VNPay IPNs under load (issue 16: p99 under 50 ms on PostgreSQL at 200 IPNs/s).

    python bench/ipn_bench.py [--database postgresql|sqlite] [--rate 200] [--seconds 20]
                              [--replays 0.1] [--background serve|worker]

Seeds a fresh database with the demo data (PostgreSQL: a database created on
CSKH_BENCH_PG, default postgres@127.0.0.1:5432, and dropped afterwards; SQLite: a
temporary file), turns the newest demo bills back to unpaid and makes one pending VNPay
order per bill, for a chat user linked to the bill's code (so every payment writes its
receipt to the outbox, as in service). Then starts the real web app in this process
(`build_runtime` + `create_app` on a free loopback port, the in-process delivery worker
running, INFO logs to a file as `cskh serve` writes them), and a load generator in a
second process sends correctly signed IPNs open loop: request i is due at start + i/rate
whatever the earlier ones are doing, and its latency runs from that due time to the
answer, so queueing shows instead of slowing the sender. About `--replays` of them are
an IPN sent again for an order paid a second or more before (VNPay retrying): those
must answer 02, the others 00. At the end every order must be paid once: as many
"paid" ledger lines as orders sent, every bill of them paid.

`--background serve` (the default, as `cskh serve` alone runs): the server settles the
payments its IPNs record and delivers the receipts. `--background worker`: the server
runs with CSKH_PAYMENT_WORKER=0 and CSKH_NOTIFY_WORKER=0 and only records the money; a
`cskh worker` process beside it settles and delivers, as a production deployment runs.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import logging
import multiprocessing
import os
import random
import re
import resource
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from notify_rig import fresh_database
from sqlalchemy import func, insert, select, text, update

from bot.demo.seed import seed
from bot.settings import Settings
from bot.store import migrate
from bot.store.db import Database
from bot.store.models import Bill, ChatUser, Customer, CustomerLink
from bot.store.payment_models import PaymentEvent, PaymentOrder

PROJECT = Path(__file__).resolve().parents[1]
NLU_CACHE = Path(tempfile.gettempdir()) / "cskh-test-nlu-cache"  # the tests' trained model
CHUNK = 1000
EXCEPTION_LINE = re.compile(r"^([\w.]+(?:Error|Exception|Timeout)): ")


# --- the data --------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def seeded_database(kind: str, tmp: Path) -> AsyncIterator[str]:
    """A new database holding the demo data: a SQLite file under `tmp`, or a PostgreSQL
    database created here and dropped afterwards."""
    async with fresh_database(kind, tmp) as url:
        await _seed(url)
        yield url


async def _seed(url: str) -> None:
    db = Database(url)
    try:
        await migrate.upgrade(db)
        await seed(db)
    finally:
        await db.dispose()


@dataclass(frozen=True)
class BenchOrder:
    """A pending order made for the benchmark: one bill of `code`."""

    ref: str
    amount: int
    code: str
    bill_id: int


async def make_orders(db: Database, count: int, method: str, now: datetime) -> list[BenchOrder]:
    """`count` pending orders of `method`, one per demo bill (the newest bills, turned
    back to unpaid), each made by a REST chat user linked to the bill's code. Bulk
    inserts: this is set-up, not measured."""
    from bot.payments.orders import VIETQR_TTL, VNPAY_TTL
    from bot.payments.vietqr import reference

    if count == 0:
        return []
    async with db.transaction() as session:
        rows = (
            await session.execute(
                select(Bill.id, Bill.total, Bill.term, Bill.month, Bill.year, Customer.code)
                .join(Customer, Customer.id == Bill.customer_id)
                .where(Bill.total > 0)
                .order_by(Bill.period_end.desc(), Bill.id)
                .limit(count)
            )
        ).all()
        if len(rows) < count:
            raise SystemExit(f"the demo data has {len(rows)} bills, {count} asked")
        bill_ids = [row.id for row in rows]
        for start in range(0, count, CHUNK):
            await session.execute(
                update(Bill)
                .where(Bill.id.in_(bill_ids[start : start + CHUNK]))
                .values(status="unpaid", paid_at=None, paid_channel=None)
            )
        codes = sorted({row.code for row in rows})
        users = [
            ChatUser(
                channel="rest",
                platform_user_id=f"bench-{code}",
                activated_at=now,
                default_customer_code=code,
                identity=f"portal:bench-{code}",
            )
            for code in codes
        ]
        session.add_all(users)
        await session.flush()
        user_of = {user.default_customer_code: user.id for user in users}
        await session.execute(
            insert(CustomerLink),
            [{"chat_user_id": user_of[code], "customer_code": code} for code in codes],
        )
        ttl = VNPAY_TTL if method == "vnpay" else VIETQR_TTL
        orders = [BenchOrder(reference(), row.total, row.code, row.id) for row in rows]
        values: list[dict[str, Any]] = []
        for order, row in zip(orders, rows, strict=True):
            item = {
                "kind": "bill",
                "id": row.id,
                "amount": row.total,
                "term": row.term,
                "month": row.month,
                "year": row.year,
            }
            values.append(
                {
                    "ref": order.ref,
                    "method": method,
                    "chat_user_id": user_of[row.code],
                    "customer_code": row.code,
                    "amount": row.total,
                    "items": [item],
                    "status": "pending",
                    "created_at": now,
                    "expires_at": now + ttl,
                }
            )
        for start in range(0, count, CHUNK):
            await session.execute(insert(PaymentOrder), values[start : start + CHUNK])
        ids = {
            ref: id_
            for ref, id_ in await session.execute(select(PaymentOrder.ref, PaymentOrder.id))
        }
        events = [
            {
                "at": now,
                "order_id": ids[v["ref"]],
                "event": "order_created",
                "amount": v["amount"],
                "source": method,
                "actor": f"chat:{v['chat_user_id']}",
                "detail": {"ref": v["ref"], "items": v["items"]},
            }
            for v in values
        ]
        for start in range(0, count, CHUNK):
            await session.execute(insert(PaymentEvent), events[start : start + CHUNK])
    if db.is_postgres:  # fresh statistics, as autovacuum would have them in service
        async with db.engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.exec_driver_sql("ANALYZE")
            # The set-up's bulk writes (the demo data, the orders) flushed to disk now,
            # not by a checkpoint spread over the measured run as they would otherwise be.
            await conn.exec_driver_sql("CHECKPOINT")
    return orders


async def paid_counts(db: Database, orders: list[BenchOrder]) -> tuple[int, int, int]:
    """(ledger "paid" lines, orders paid, bills paid) among `orders`."""
    refs = [order.ref for order in orders]
    bills = [order.bill_id for order in orders]
    ledger = paid = bills_paid = 0
    async with db.reading() as session:
        for start in range(0, len(refs), CHUNK):
            ids = select(PaymentOrder.id).where(PaymentOrder.ref.in_(refs[start : start + CHUNK]))
            ledger += int(
                await session.scalar(
                    select(func.count())
                    .select_from(PaymentEvent)
                    .where(PaymentEvent.event == "paid", PaymentEvent.order_id.in_(ids))
                )
                or 0
            )
            paid += int(
                await session.scalar(
                    select(func.count())
                    .select_from(PaymentOrder)
                    .where(
                        PaymentOrder.ref.in_(refs[start : start + CHUNK]),
                        PaymentOrder.status == "paid",
                    )
                )
                or 0
            )
            bills_paid += int(
                await session.scalar(
                    select(func.count())
                    .select_from(Bill)
                    .where(Bill.id.in_(bills[start : start + CHUNK]), Bill.status == "paid")
                )
                or 0
            )
    return ledger, paid, bills_paid


# --- the load ------------------------------------------------------------------------


def ipn_query(order: BenchOrder, number: int, settings: Settings) -> str:
    """The signed query string of VNPay's IPN for a successful payment of `order`."""
    from bot.payments import vnpay

    params = {
        "vnp_Amount": str(order.amount * 100),
        "vnp_BankCode": "NCB",
        "vnp_CardType": "ATM",
        "vnp_OrderInfo": f"Thanh toan {order.ref} ma KH {order.code}",
        "vnp_PayDate": vnpay.vnpay_date(datetime.now(UTC)),
        "vnp_ResponseCode": "00",
        "vnp_TmnCode": settings.vnpay_tmn_code,
        "vnp_TransactionNo": str(14_000_000 + number),
        "vnp_TransactionStatus": "00",
        "vnp_TxnRef": order.ref,
    }
    return vnpay.signed_query(params, settings.vnpay_hash_secret.get_secret_value())


def plan(
    orders: list[BenchOrder], total: int, rate: float, replays: float, settings: Settings
) -> tuple[list[tuple[float, str, str]], int]:
    """(due offset in seconds, "first" | "replay", path) per request, and how many
    orders get a first IPN. A replay repeats a first IPN due at least a second before."""
    rng = random.Random(16)
    schedule: list[tuple[float, str, str]] = []
    sent: list[tuple[float, str]] = []  # (due, path) of first IPNs, in due order
    used = ready = 0  # sent[:ready] were due a second or more ago
    for i in range(total):
        due = i / rate
        while ready < len(sent) and sent[ready][0] <= due - 1.0:
            ready += 1
        if ready and rng.random() < replays:
            schedule.append((due, "replay", sent[rng.randrange(ready)][1]))
            continue
        path = "/payments/vnpay/ipn?" + ipn_query(orders[used], used, settings)
        used += 1
        sent.append((due, path))
        schedule.append((due, "first", path))
    return schedule, used


def load(base_url: str, schedule: list[tuple[float, str, str]], results: Any) -> None:
    """The load generator's process: sends `schedule`, puts (kind, code, latency ms)."""
    results.put(asyncio.run(_send_all(base_url, schedule)))


async def _send_all(base_url: str, schedule: list[tuple[float, str, str]]) -> list[Any]:
    import aiohttp
    import yarl

    out: list[tuple[str, str, float]] = []
    lag: list[float] = []  # how late the generator itself sent each IPN, ms
    # Built before the clock starts, already encoded as VNPay encodes them: the load
    # generator shares the machine's two cores with the server, so it spends little.
    urls = [yarl.URL(base_url + path, encoded=True) for _, _, path in schedule]
    gc.freeze()  # the generator's own collections would stall its sending, not the server
    connector = aiohttp.TCPConnector(limit=500)
    async with aiohttp.ClientSession(connector=connector) as http:
        for _ in range(20):  # open some connections before the clock starts
            async with http.get(base_url + "/healthz") as response:
                await response.read()

        async def one(due: float, kind: str, url: yarl.URL) -> None:
            lag.append((time.perf_counter() - (start + due)) * 1000)
            try:
                async with http.get(url) as response:
                    body = await response.json()
                    code = str(body.get("RspCode"))
            except Exception as error:  # counted, not hidden
                code = f"error:{type(error).__name__}"
            out.append((kind, code, (time.perf_counter() - (start + due)) * 1000))

        start = time.perf_counter() + 0.2
        tasks = []
        for (due, kind, _), url in zip(schedule, urls, strict=True):
            delay = start + due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(due, kind, url)))
        await asyncio.gather(*tasks)
        out.append(("_wall", "", (time.perf_counter() - start) * 1000))
        out.append(("_lag", "", percentile(lag, 99)))
        out.append(("_maxlag", "", max(lag)))
    return out


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


async def run(kind: str, rate: float, seconds: float, replays: float, background: str) -> None:
    from aiohttp import web

    from bot.app import build_runtime, create_app

    total = int(rate * seconds)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        logging.basicConfig(
            filename=tmp / "serve.log",
            level=logging.INFO,
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        )
        started = time.perf_counter()
        async with seeded_database(kind, tmp) as url:
            settings = Settings(  # type: ignore[call-arg]
                _env_file=None,
                var_dir=tmp / "var",
                database_url=url,
                secret_key="bench",
                demo_seed=False,
                nlu_cache_dir=NLU_CACHE,
                notify_scheduler=False,
                notify_worker=background == "serve",
                payment_worker=background == "serve",
            )
            db = Database(url)
            orders = await make_orders(db, int(total * (1 - replays / 2)) + 50, "vnpay", _now())
            await db.dispose()
            schedule, used = plan(orders, total, rate, replays, settings)
            orders = orders[:used]
            print(f"set-up ({kind}): {time.perf_counter() - started:.1f} s, {len(orders)} orders")

            runtime = await build_runtime(settings)
            service_ms = time_service(runtime)
            runner = web.AppRunner(create_app(runtime, long_lived=True), access_log=None)
            await runner.setup()
            await runtime.understanding.ready()  # its loading does not share the run
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            host, port = runner.addresses[0][:2]
            base_url = f"http://{host}:{port}"
            worker = None
            if background == "worker":
                worker = await start_worker(settings, tmp)
            await asyncio.sleep(3)  # the start's background imports (renderers) finish first
            try:
                spawn = multiprocessing.get_context("spawn")
                results = spawn.Queue()
                sender = spawn.Process(target=load, args=(base_url, schedule, results))
                pauses = GcPauses()
                stalls = LoopStalls()
                pg_cpu = postgres_cpu()
                stolen = steal_ticks()
                measured_from = datetime.now(UTC)
                worker_cpu = process_cpu(worker.pid) if worker else 0.0
                cpu = time.process_time()
                sender.start()
                answers: list[tuple[str, str, float]] = await asyncio.to_thread(results.get)
                answered = time.perf_counter()
                # The IPN confirms and records the money; the settlement worker pays the
                # bills and writes the receipts behind it: wait for it to finish.
                while await received_count(runtime.db):  # noqa: ASYNC110 - another process's work
                    await asyncio.sleep(0.05)
                drained = time.perf_counter() - answered
                cpu = time.process_time() - cpu
                pg_cpu = postgres_cpu() - pg_cpu
                stolen = steal_ticks() - stolen
                run_seconds = (datetime.now(UTC) - measured_from).total_seconds()
                worker_cpu = process_cpu(worker.pid) - worker_cpu if worker else 0.0
                pauses.stop()
                stalled = stalls.stop()
                sender.join()
                usage = resource.getrusage(resource.RUSAGE_CHILDREN)
                sender_cpu = usage.ru_utime + usage.ru_stime
            finally:
                await runner.cleanup()
                if worker is not None:
                    worker.terminate()
                    await worker.wait()
            ledger, paid, bills = await paid_counts(runtime.db, orders)
            vacuumed = await autovacuumed(runtime.db, measured_from)
            await runtime.db.dispose()
        errors = Counter(  # the last line of each traceback names the exception
            found[1]
            for name in ("serve.log", "worker.log")
            if (tmp / name).exists()
            for line in (tmp / name).read_text().splitlines()
            if (found := EXCEPTION_LINE.match(line))
        )
    if errors:
        print("exceptions in the logs:", dict(errors.most_common(5)))
    report(kind, rate, answers, len(orders), ledger, paid, bills, cpu)
    if worker is not None:
        print(
            f"`cskh worker` process CPU {worker_cpu:.1f} s "
            f"({worker_cpu * 1000 / len(orders):.2f} ms per order settled)"
        )
    print(f"settlement finished {drained:.2f} s after the last IPN was answered")
    print(pauses.summary())
    print(stalled)
    if service_ms:
        print(
            f"inside the server, PaymentService.vnpay_result (the database's part): "
            f"p50 {percentile(service_ms, 50):.1f} ms, p99 {percentile(service_ms, 99):.1f} ms, "
            f"max {max(service_ms):.1f} ms"
        )
    steal = stolen / os.sysconf("SC_CLK_TCK") / (os.cpu_count() or 1) / run_seconds
    print(f"CPU time the hypervisor gave other machines (steal): {steal:.1%} of this one's")
    if vacuumed:
        print("PostgreSQL's autovacuum during the run:", vacuumed)
    print(
        f"CPU beside the server: the load generator {sender_cpu:.1f} s, "
        f"PostgreSQL's processes {pg_cpu:.1f} s (all of them, on this machine)"
    )


async def start_worker(settings: Settings, tmp: Path) -> asyncio.subprocess.Process:
    """`cskh worker` on the same database and settings, its log beside the server's."""
    env = {**os.environ, "PYTHONPATH": str(PROJECT)}
    env.update(
        {
            "CSKH_DATABASE_URL": settings.database_url,
            "CSKH_SECRET_KEY": "bench",
            "CSKH_DEMO_SEED": "0",
            "CSKH_VAR_DIR": str(settings.var_dir),
            "CSKH_NLU_CACHE_DIR": str(NLU_CACHE),
        }
    )
    log = (tmp / "worker.log").open("w")
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "worker", env=env, stdout=log, stderr=log
    )


def steal_ticks() -> int:
    """The machine's steal time so far (/proc/stat): CPU the hypervisor gave to other
    virtual machines while this one wanted it; a noisy neighbour slows a run."""
    with open("/proc/stat") as stat:
        return int(stat.readline().split()[8])


def process_cpu(pid: int) -> float:
    """User + system CPU seconds of one process (Linux /proc)."""
    values = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(values[11]) + int(values[12])) / os.sysconf("SC_CLK_TCK")


def postgres_cpu() -> float:
    """User + system CPU seconds of every process named postgres (Linux /proc)."""
    total = 0
    tick = os.sysconf("SC_CLK_TCK")
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)
            if not fields[0].endswith("(postgres"):
                continue
            values = fields[1].split()
            total += int(values[11]) + int(values[12])  # utime, stime
        except (OSError, IndexError, ValueError):  # the process ended meanwhile
            continue
    return total / tick


def time_service(runtime: Any) -> list[float]:
    """Times every call of the payments service's IPN handling (the claim statement and,
    for a row not changed, the order's state), to tell the database's share of a slow
    answer from the event loop's, HTTP's and the load generator's."""
    payments = runtime.engine.services.payments
    times: list[float] = []
    handle = payments.vnpay_result

    async def timed(*args: Any, **kwargs: Any) -> Any:
        began = time.perf_counter()
        try:
            return await handle(*args, **kwargs)
        finally:
            times.append((time.perf_counter() - began) * 1000)

    payments.vnpay_result = timed
    return times


class LoopStalls:
    """How late the server's event loop wakes a 5 ms timer: the longest stalls, with
    when they began (seconds into the run), show whether a slow IPN waited on the loop."""

    def __init__(self) -> None:
        self.stalls: list[tuple[float, float]] = []
        self._began = time.perf_counter()
        self._task = asyncio.create_task(self._watch())

    async def _watch(self) -> None:
        while True:
            before = time.perf_counter()
            await asyncio.sleep(0.005)
            late = time.perf_counter() - before - 0.005
            if late > 0.02:
                self.stalls.append((late * 1000, before - self._began))

    def stop(self) -> str:
        self._task.cancel()
        worst = sorted(self.stalls, reverse=True)[:5]
        return f"server event loop stalls over 20 ms: {len(self.stalls)}" + (
            "; longest " + ", ".join(f"{ms:.0f} ms at {at:.1f} s" for ms, at in worst)
            if worst
            else ""
        )


class GcPauses:
    """The server process's garbage collections during the run: a full one (generation
    2) walks every object, the language model's included, and stops the event loop."""

    def __init__(self) -> None:
        self.pauses: dict[int, list[float]] = {0: [], 1: [], 2: []}
        self._began = 0.0
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._began = time.perf_counter()
        else:
            self.pauses[info["generation"]].append(time.perf_counter() - self._began)

    def stop(self) -> None:
        gc.callbacks.remove(self._callback)

    def summary(self) -> str:
        parts = [
            f"gen {generation}: {len(times)} × max {max(times, default=0) * 1000:.1f} ms"
            for generation, times in self.pauses.items()
        ]
        return "garbage collections in the server: " + ", ".join(parts)


async def autovacuumed(db: Database, since: datetime) -> str:
    """The tables PostgreSQL's autovacuum worked on since `since` (its CPU and I/O
    share the machine with the server): "" on SQLite or when none."""
    if not db.is_postgres:
        return ""
    async with db.reading() as session:
        rows = (
            await session.execute(
                text(
                    "SELECT relname, last_autovacuum >= :since, last_autoanalyze >= :since "
                    "FROM pg_stat_user_tables WHERE last_autovacuum >= :since "
                    "OR last_autoanalyze >= :since ORDER BY relname"
                ),
                {"since": since},
            )
        ).all()
    return ", ".join(
        f"{name} ({'vacuum' if vacuum else ''}{'+' if vacuum and analyze else ''}"
        f"{'analyze' if analyze else ''})"
        for name, vacuum, analyze in rows
    )


async def received_count(db: Database) -> int:
    """Orders whose money the IPN recorded and the settlement worker has not applied."""
    async with db.reading() as session:
        return int(
            await session.scalar(
                select(func.count())
                .select_from(PaymentOrder)
                .where(PaymentOrder.status == "received")
            )
            or 0
        )


def _now() -> datetime:
    return datetime.now(UTC) - timedelta(minutes=1)


def report(
    kind: str,
    rate: float,
    answers: list[tuple[str, str, float]],
    orders: int,
    ledger: int,
    paid: int,
    bills: int,
    cpu: float,
) -> None:
    extra = {k: ms for k, _, ms in answers if k.startswith("_")}
    wall = extra["_wall"] / 1000
    answers = [a for a in answers if not a[0].startswith("_")]
    codes = Counter((k, code) for k, code, _ in answers)
    print(
        f"\n{kind}: {len(answers)} IPNs due at {rate:g}/s, all answered in {wall:.1f} s; "
        f"server process CPU {cpu:.1f} s ({cpu * 1000 / len(answers):.1f} ms per IPN)"
    )
    print("| IPNs | n | p50 ms | p95 ms | p99 ms | max ms |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, wanted in (("all", None), ("first (pay)", "first"), ("replay", "replay")):
        ms = [m for k, _, m in answers if wanted in (None, k)]
        if ms:
            print(
                f"| {name} | {len(ms)} | {percentile(ms, 50):.1f} | {percentile(ms, 95):.1f} "
                f"| {percentile(ms, 99):.1f} | {max(ms):.1f} |"
            )
    print(
        f"the load generator sent late by p99 {extra['_lag']:.1f} ms, "
        f"max {extra['_maxlag']:.1f} ms (counted in the latencies above)"
    )
    print("answers:", ", ".join(f"{k} {code}: {n}" for (k, code), n in sorted(codes.items())))
    print(f"orders sent {orders}: ledger 'paid' lines {ledger}, orders paid {paid}, bills {bills}")
    # Paid at most once whatever happened; an IPN answered 99 (the server overloaded)
    # leaves its order for VNPay's retry, so all are paid only when none was.
    assert ledger == paid == bills, "an order was paid twice, or its bill not with it"
    failed = sum(n for (_, code), n in codes.items() if code not in ("00", "02"))
    if failed:
        print(f"NOT all paid: {orders - paid} orders wait for VNPay's retry ({failed} answers 99)")
    else:
        assert paid == orders, "an order was not paid"
        print("every order paid exactly once")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=("postgresql", "sqlite"), default="postgresql")
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--replays", type=float, default=0.1)
    parser.add_argument(
        "--background",
        choices=("serve", "worker"),
        default="serve",
        help="who settles the payments and delivers the receipts: the server (as `cskh "
        "serve` alone) or a `cskh worker` process beside it",
    )
    args = parser.parse_args()
    asyncio.run(run(args.database, args.rate, args.seconds, args.replays, args.background))


if __name__ == "__main__":
    main()
