"""Scheduled notice runs inside `cskh serve` (APScheduler 3, on the event loop).

- bills, daily at 08:00 local: bills issued in the last days, payment reminders
  (CSKH_PAYMENT_REMINDER_DAYS before the due date) and debt notices (after it);
- payments received, every 10 minutes;
- outages, every 30 minutes: planned outages coming into their notice period and
  incidents still on (for outages another system recorded, and for chats linked since
  the outage was announced); rows of cancelled outages not sent yet are dropped.

Each job also runs a few minutes after start (a server restarted past 08:00 still
sends the day's bills). Runs are idempotent through the notices' keys, so several
processes may run them: on PostgreSQL each batch takes an advisory lock per job, so
two processes do not write the same notice at once. Bills and outages come from the
`UtilityBackend`, asked about the codes chats linked, a batch at a time. The job
functions are plain async functions of (db, backend, texts, settings, now), which tests
and `cskh notify run` call directly.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import zlib
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.clock import Clock
from bot.core.fmt import LOCAL_TZ
from bot.core.texts import Texts
from bot.notify.outages import announce_outage, drop_cancelled, outages_to_announce
from bot.notify.producers import bill_notices, due_bills, reminder_wanted
from bot.notify.segments import linked_codes
from bot.notify.usage import UsageJudge
from bot.settings import Settings
from bot.store.backend import UtilityBackend
from bot.store.db import Database
from bot.store.payment_models import PAID_IN_CHAT

log = logging.getLogger(__name__)

# Customer codes per question to the backend and per transaction (SQLite's one writer
# is not held for long).
BATCH = 500
STARTUP_DELAY = timedelta(minutes=5)
DAILY_HOUR = 8  # local time: the bill run's notices arrive in the morning
PAYMENTS_EVERY = timedelta(minutes=10)
OUTAGES_EVERY = timedelta(minutes=30)

Summary = dict[str, tuple[int, int]]  # per kind: (notices, rows written)
Job = Callable[[Database, UtilityBackend, Texts, Settings, datetime], Awaitable[Summary]]


async def _exclusive(session: AsyncSession, job: str) -> None:
    """One process at a time runs a batch of `job` (PostgreSQL; SQLite has one writer)."""
    bind = session.get_bind()
    if bind.dialect.name == "postgresql":
        key = zlib.crc32(f"cskh:notify:{job}".encode())
        await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


async def bill_kind(
    db: Database,
    backend: UtilityBackend,
    texts: Texts,
    kind: str,
    *,
    now: datetime,
    reminder_days: int,
    period: tuple[int, int] | None = None,
    judge: UsageJudge | None = None,
) -> tuple[int, int]:
    """Notices of one kind for every bill due one, batch by batch: (notices, rows);
    issued bills judged for unusual use by `judge` when given (issue 18)."""
    where = due_bills(kind, now=now, reminder_days=reminder_days, period=period)
    async with db.reading() as session:
        codes = await linked_codes(session)
    notices = rows = 0
    for start in range(0, len(codes), BATCH):
        async with db.transaction() as session:
            await _exclusive(session, f"bills:{kind}")
            # Asked while this batch holds the writer (SQLite) or the job's lock: a bill
            # paid meanwhile is not reminded.
            bills = await backend.bills_of(codes[start : start + BATCH], where)
            if kind == "reminder":
                bills = [bill for bill in bills if reminder_wanted(bill, reminder_days)]
            if kind == "paid":  # paid in the chat: its receipt went out at once
                bills = [bill for bill in bills if bill.paid_channel not in PAID_IN_CHAT]
            made, written = await bill_notices(session, bills, kind, texts, now=now, judge=judge)
        notices, rows = notices + made, rows + written
    return notices, rows


async def run_bill_notices(
    db: Database,
    backend: UtilityBackend,
    texts: Texts,
    settings: Settings,
    now: datetime,
    judge: UsageJudge | None = None,
) -> Summary:
    """The daily run: bills issued (with their unusual-use line when a `judge` is
    given), payment reminders, debt notices."""
    return {
        kind: await bill_kind(
            db,
            backend,
            texts,
            kind,
            now=now,
            reminder_days=settings.payment_reminder_days,
            judge=judge,
        )
        for kind in ("issued", "reminder", "debt")
    }


async def run_payments_received(
    db: Database, backend: UtilityBackend, texts: Texts, settings: Settings, now: datetime
) -> Summary:
    """✅ for bills paid in the last days."""
    paid = await bill_kind(
        db, backend, texts, "paid", now=now, reminder_days=settings.payment_reminder_days
    )
    return {"paid": paid}


async def run_outage_notices(
    db: Database, backend: UtilityBackend, texts: Texts, settings: Settings, now: datetime
) -> Summary:
    """Announce outages entering their notice period; drop rows of cancelled ones."""
    notices = rows = dropped = 0
    days = settings.outage_notice_days
    async with db.transaction() as session:
        await _exclusive(session, "outages")
        for outage in await outages_to_announce(backend, now=now, notice_days=days):
            announced = await announce_outage(
                session, outage, texts, backend=backend, now=now, notice_days=days
            )
            for produced in (announced.notice, announced.eve):
                if produced is not None:
                    notices, rows = notices + 1, rows + produced.recipients
        for outage_id in await backend.cancelled_outages(now - timedelta(days=1)):
            dropped += await drop_cancelled(session, outage_id)
    return {"outages": (notices, rows), "cancelled": (0, dropped)}


async def run_all(
    db: Database,
    backend: UtilityBackend,
    texts: Texts,
    settings: Settings,
    now: datetime,
    judge: UsageJudge | None = None,
) -> Summary:
    """Every job once (`cskh notify run`, e.g. from cron when no server runs them)."""
    bills: Job = functools.partial(run_bill_notices, judge=judge)
    summary: Summary = {}
    for job in (bills, run_payments_received, run_outage_notices):
        summary |= await job(db, backend, texts, settings, now)
    return summary


class NoticeScheduler:
    """The notice jobs on an APScheduler `AsyncIOScheduler`, started with the server.

    `wake` (the process's delivery worker) is called after a run wrote rows, so they
    go out without waiting for the worker's next poll.
    """

    def __init__(
        self,
        db: Database,
        backend: UtilityBackend,
        texts: Texts,
        settings: Settings,
        clock: Clock,
        wake: Callable[[], None] | None = None,
        judge: UsageJudge | None = None,
    ) -> None:
        self.db = db
        self.judge = judge  # the bill run's unusual-use line (issue 18)
        self.backend = backend
        self.texts = texts
        self.settings = settings
        self.clock = clock
        self.wake = wake
        self._scheduler: AsyncIOScheduler | None = None
        self._running: set[asyncio.Task[object]] = set()

    def start(self) -> None:
        """Add the jobs and start (inside the running event loop)."""
        scheduler = AsyncIOScheduler(
            timezone=LOCAL_TZ,
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 3600},
        )
        first = datetime.now(LOCAL_TZ) + STARTUP_DELAY
        jobs: list[tuple[str, Job, Any]] = [
            (
                "bills",
                functools.partial(run_bill_notices, judge=self.judge),
                CronTrigger(hour=DAILY_HOUR, timezone=LOCAL_TZ),
            ),
            ("payments", run_payments_received, IntervalTrigger(seconds=PAYMENTS_EVERY.seconds)),
            ("outages", run_outage_notices, IntervalTrigger(seconds=OUTAGES_EVERY.seconds)),
        ]
        for name, job, trigger in jobs:
            scheduler.add_job(
                self.run, trigger, args=[name, job], id=name, name=name, next_run_time=first
            )
        scheduler.start()
        self._scheduler = scheduler
        log.info("notice jobs scheduled (bills daily at %02d:00)", DAILY_HOUR)

    def jobs(self) -> dict[str, datetime]:
        """The scheduled jobs and when each runs next."""
        if self._scheduler is None:
            return {}
        return {job.id: job.next_run_time for job in self._scheduler.get_jobs()}

    async def run(self, name: str, job: Job) -> Summary | None:
        """Run one job now; a failure is logged (the next run tries again)."""
        task = asyncio.current_task()
        if task is not None:
            self._running.add(task)
        try:
            summary = await job(self.db, self.backend, self.texts, self.settings, self.clock.now())
        except Exception:
            log.exception("notice job %s failed", name)
            return None
        finally:
            if task is not None:
                self._running.discard(task)
        log.info("notice job %s: %s", name, summary)
        if self.wake is not None and any(rows for _, rows in summary.values()):
            self.wake()
        return summary

    async def stop(self) -> None:
        """Stop scheduling and let a run under way finish (before the database closes)."""
        scheduler, self._scheduler = self._scheduler, None
        if scheduler is not None:
            scheduler.shutdown(wait=False)
        if self._running:
            await asyncio.wait(list(self._running), timeout=30)
