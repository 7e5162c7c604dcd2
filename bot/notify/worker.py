"""The delivery worker: claims outbox rows, sends them through the recipient's channel
under its rate limit, and records what happened.

A row goes queued → claimed (a batch, one transaction; FOR UPDATE SKIP LOCKED on
PostgreSQL so workers never take the same row; SQLite's single writer does the same)
→ sending (a wave of at most `concurrency` rows, distinct chats, one transaction)
→ sent | failed | unreachable (one transaction per wave). So when a worker dies, only
its rows marked `sending` may have reached the customer: they are queued again with
`in_doubt` set and counted; `claimed` rows go back quietly. A worker whose heartbeat
stops for `stale_after` seconds is taken to be dead (docs/DESIGN.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, bindparam, case, delete, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.clock import Clock
from bot.core.engine import PREVIEW_CHARS
from bot.core.fmt import LOCAL_TZ
from bot.core.live import LiveFeed, conversation_changed
from bot.core.messages import ChannelCaps, numbered_options
from bot.core.outbound import (
    SENDING,
    ChannelUnreachable,
    DeliveryRefused,
    Outbound,
    RateLimited,
    Recipient,
    Sending,
)
from bot.core.state import ConversationState
from bot.core.transcript import transcript_rows
from bot.notify.limits import RateLimiter
from bot.notify.outbox import quiet, replies_of
from bot.store.db import Database, error_summary
from bot.store.models import (
    ChatUser,
    Conversation,
    Delivery,
    TranscriptMessage,
    WorkerHeartbeat,
    utcnow,
)

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 10  # then the row is `failed`: about 20 minutes of a platform outage


@dataclass(frozen=True)
class Claimed:
    """A row this worker took, and who it goes to (None: the chat user is gone)."""

    delivery: Delivery
    recipient: Recipient | None


@dataclass
class Outcome:
    delivery: Delivery
    status: str  # sent | retry | rate_limited | failed | unreachable
    platform_message_id: str | None = None
    retry_after: float = 0.0
    error: str | None = None


@dataclass(frozen=True)
class WorkerOptions:
    batch: int = 500
    concurrency: int = 30
    poll_seconds: float = 1.0
    heartbeat_seconds: float = 5.0
    stale_after: float = 30.0
    quiet_hours: tuple[int, int] = (21, 7)
    # While the database fails: seconds before the next try, doubling from the first
    # up to the second, back to the first once it works (issue 12).
    backoff_base: float = 1.0
    backoff_cap: float = 30.0
    # The channels this worker sends for (None: every channel it has). The web chat's
    # sockets live in `cskh serve`, so only a worker there sends for it.
    channels: frozenset[str] | None = None


class Backoff:
    """How a worker waits out a database that fails: the seconds before the next try
    (doubling up to a cap), and one log line when delivery stops and one when it
    resumes, instead of a ~120-line traceback a second (issue 12)."""

    def __init__(self, worker_id: str, base: float, cap: float) -> None:
        self.worker_id = worker_id
        self.base = base
        self.cap = cap
        self.tries = 0  # failed in a row
        self.since: float | None = None

    @property
    def failing(self) -> bool:
        return self.since is not None

    def failed(self, error: BaseException, waiting: str = "") -> float:
        """Note a failed try; the seconds to wait before the next one."""
        self.tries += 1
        if self.since is None:
            self.since = time.monotonic()
            log.warning(
                "delivery worker %s: delivery paused: %s%s; trying again in %g s, "
                "backing off to every %g s",
                self.worker_id,
                error_summary(error),
                f"; {waiting}" if waiting else "",
                self.base,
                self.cap,
            )
            log.debug("delivery worker %s: the first failure", self.worker_id, exc_info=error)
        return float(min(self.cap, self.base * 2 ** min(self.tries - 1, 32)))

    def working(self) -> None:
        """Note a try that reached the database."""
        if self.since is not None:
            log.info(
                "delivery worker %s: delivery resumed, database back after %.0f s "
                "(%s failed tries)",
                self.worker_id,
                time.monotonic() - self.since,
                self.tries,
            )
        self.since = None
        self.tries = 0


class DeliveryWorker:
    """Sends queued deliveries; several may run, in one process or many."""

    def __init__(
        self,
        db: Database,
        channels: Mapping[str, Outbound],
        limiter: RateLimiter,
        clock: Clock,
        options: WorkerOptions | None = None,
        *,
        worker_id: str | None = None,
        live: LiveFeed | None = None,
    ) -> None:
        self.live = live  # tells open consoles a customer's transcript grew
        self.db = db
        self.channels = channels
        self.limiter = limiter
        self.clock = clock
        self.options = options or WorkerOptions()
        self.id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self._wake = asyncio.Event()
        self._registered = False
        self.backoff = Backoff(self.id, self.options.backoff_base, self.options.backoff_cap)
        self.sent = 0  # counters for benchmarks and logs
        self.on_sent: Callable[[Delivery], None] | None = None  # benchmarks' hook

    def serves(self) -> list[str]:
        """The channels whose rows this worker claims."""
        wanted = self.options.channels
        return [name for name in self.channels if wanted is None or name in wanted]

    async def ensure_registered(self) -> None:
        """Have a heartbeat row, so rows claimed in our name are not taken back."""
        if not self._registered:
            await self.heartbeat()

    def wake(self) -> None:
        """New rows are due: stop waiting for the next poll."""
        self._wake.set()

    # --- the loop -----------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until `stop` is set. While the database fails (also at start) it tries
        again after a backoff that neither `wake` nor the heartbeat cuts short."""
        beating = asyncio.create_task(self._beat(stop))
        started = False
        try:
            while not stop.is_set():
                try:
                    if not started:
                        await self.heartbeat()
                        await self.recover()
                        started = True
                    handled = await self.run_once()
                except Exception as error:  # a database outage must not end delivery for good
                    await _wait(stop, self.backoff.failed(error))
                    continue
                self.backoff.working()
                if handled == 0:
                    self._wake.clear()
                    await _wait(stop, self.options.poll_seconds, self._wake)
        finally:
            beating.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beating
            await self._retire_on_stop()

    async def _beat(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await asyncio.sleep(self.options.heartbeat_seconds)
            if self.backoff.failing:  # the loop is trying the database, at its own pace
                continue
            try:
                await self.heartbeat()
                await self.recover()
            except Exception as error:
                self.backoff.failed(error)

    async def _retire_on_stop(self) -> None:
        try:
            await self.retire()
        except Exception as error:  # stopping must not wait for the database to return
            log.warning(
                "delivery worker %s stopped without giving back its claimed rows (%s); other "
                "workers take them back once its heartbeat is %.0f s old",
                self.id,
                error_summary(error),
                self.options.stale_after,
            )

    async def heartbeat(self) -> None:
        now = self.clock.now()
        async with self.db.transaction() as session:
            row = await session.get(WorkerHeartbeat, self.id)
            if row is None:
                session.add(WorkerHeartbeat(id=self.id, started_at=now, heartbeat_at=now))
            else:
                row.heartbeat_at = now
        self._registered = True

    async def retire(self) -> None:
        """A clean stop: give claimed rows back and leave the list of workers."""
        async with self.db.transaction() as session:
            await session.execute(
                update(Delivery)
                .where(Delivery.worker == self.id, Delivery.status == "claimed")
                .values(status="queued", worker=None, claimed_at=None)
            )
            await session.execute(delete(WorkerHeartbeat).where(WorkerHeartbeat.id == self.id))

    async def recover(self) -> int:
        """Take back the rows of workers that stopped beating; the number taken back."""
        stale = self.clock.now() - timedelta(seconds=self.options.stale_after)
        async with self.db.transaction() as session:
            # A worker of this host whose process is gone (killed, restarted) is dead
            # now, without waiting for its heartbeat to go stale.
            gone = [
                worker_id
                for worker_id in await session.scalars(select(WorkerHeartbeat.id))
                if worker_id != self.id and _process_gone(worker_id)
            ]
            if gone:
                await session.execute(delete(WorkerHeartbeat).where(WorkerHeartbeat.id.in_(gone)))
            alive = select(WorkerHeartbeat.id).where(WorkerHeartbeat.heartbeat_at >= stale)
            result = await session.execute(
                update(Delivery)
                .where(
                    Delivery.status.in_(("claimed", "sending")),
                    Delivery.worker.not_in(alive),
                )
                .values(
                    in_doubt=case((Delivery.status == "sending", True), else_=Delivery.in_doubt),
                    status="queued",
                    worker=None,
                    claimed_at=None,
                )
                .execution_options(synchronize_session=False)
            )
            await session.execute(
                delete(WorkerHeartbeat).where(WorkerHeartbeat.heartbeat_at < stale)
            )
        taken = int(getattr(result, "rowcount", 0) or 0)
        if taken:
            log.warning("delivery worker %s took back %s rows of stopped workers", self.id, taken)
        return taken

    # --- one round ------------------------------------------------------------------------

    async def run_once(self) -> int:
        """Claim one batch of due rows and deliver it; how many rows it handled."""
        if not self._registered:
            await self.heartbeat()
        claimed = await self.claim(self.options.batch)
        await self.deliver(claimed)
        return len(claimed)

    async def send_now(self, delivery_ids: Sequence[int]) -> bool:
        """Deliver these rows at once (a push the customer is waiting for), rows this
        worker claimed when they were written (`Pusher.enqueue(claim=True)`) or still
        queued; True when every one was sent. Rows another worker took are left to it."""
        if not delivery_ids:
            return False
        if not self._registered:
            await self.heartbeat()
        async with self.db.transaction() as session:
            rows = list(
                await session.scalars(
                    select(Delivery)
                    .where(
                        Delivery.id.in_(list(delivery_ids)),
                        Delivery.worker == self.id,
                        Delivery.status == "claimed",
                    )
                    .order_by(Delivery.id)
                )
            )
            claimed = await self._with_recipients(session, rows)
        if len(claimed) < len(delivery_ids):
            claimed += await self.claim(len(delivery_ids), ids=delivery_ids)
        outcomes = await self.deliver(claimed)
        mine = {c.delivery.id for c in claimed}
        others = [i for i in delivery_ids if i not in mine]
        # A row of a channel another process serves (the web chat's sockets are in `cskh
        # serve`) is on its way there: not a failure to tell (issue 15).
        handed_on = await self._handed_on(others)
        return all(o.status == "sent" for o in outcomes) and handed_on

    async def _handed_on(self, delivery_ids: Sequence[int]) -> bool:
        """True when every row is sent or waits for a worker that serves its channel."""
        if not delivery_ids:
            return True
        async with self.db.reading() as session:
            statuses = await session.scalars(
                select(Delivery.status).where(Delivery.id.in_(list(delivery_ids)))
            )
            found = list(statuses)
        return len(found) == len(delivery_ids) and all(
            status in ("queued", "claimed", "sending", "sent") for status in found
        )

    async def _with_recipients(self, session: AsyncSession, rows: list[Delivery]) -> list[Claimed]:
        users = {
            u.id: u
            for u in await session.scalars(
                select(ChatUser).where(ChatUser.id.in_({r.chat_user_id for r in rows}))
            )
        }
        return [
            Claimed(
                row,
                Recipient.of(users[row.chat_user_id]) if row.chat_user_id in users else None,
            )
            for row in rows
        ]

    async def claim(self, limit: int, *, ids: Sequence[int] | None = None) -> list[Claimed]:
        now = self.clock.now()
        start, end = self.options.quiet_hours
        due = select(Delivery.id).where(
            Delivery.status == "queued",
            Delivery.not_before <= now,
            Delivery.channel.in_(self.serves()),
        )
        if ids is not None:
            due = due.where(Delivery.id.in_(list(ids)))
        if quiet(now.astimezone(LOCAL_TZ), start, end):
            due = due.where(Delivery.urgent.is_(True))
        due = (
            due.order_by(Delivery.urgent.desc(), Delivery.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        async with self.db.transaction() as session:
            chosen = list(await session.scalars(due))
            if not chosen:
                return []
            # `status == "queued"` again: should a row slip past the lock, the second
            # claim finds it taken and leaves it.
            await session.execute(
                update(Delivery)
                .where(Delivery.id.in_(chosen), Delivery.status == "queued")
                .values(status="claimed", worker=self.id, claimed_at=now)
                .execution_options(synchronize_session=False)
            )
            rows = list(
                await session.scalars(
                    select(Delivery)
                    .where(
                        Delivery.id.in_(chosen),
                        Delivery.worker == self.id,
                        Delivery.status == "claimed",
                    )
                    .order_by(Delivery.id)
                )
            )
            return await self._with_recipients(session, rows)

    async def deliver(self, claimed: list[Claimed]) -> list[Outcome]:
        """Send claimed rows wave by wave (distinct chats in a wave); every outcome is
        recorded before the next wave starts."""
        outcomes: list[Outcome] = []
        pending = list(claimed)
        while pending:
            wave: list[Claimed] = []
            later: list[Claimed] = []
            chats: set[int] = set()
            for item in pending:
                chat = item.delivery.chat_user_id
                if chat in chats or len(wave) >= self.options.concurrency:
                    later.append(item)
                else:
                    wave.append(item)
                    chats.add(chat)
            pending = later
            wave = await self._mark_sending(wave)
            results = await asyncio.gather(*(self._send(item) for item in wave))
            await self._record(results)
            outcomes.extend(results)
        return outcomes

    async def _mark_sending(self, wave: list[Claimed]) -> list[Claimed]:
        """Mark the wave `sending`; what is still ours to send. A row another worker
        took back meanwhile (ours looked dead: a long database outage) is its now."""
        table = cast(Table, Delivery.__table__)
        async with self.db.transaction() as session:
            connection = await session.connection()
            result = await connection.execute(
                update(table)
                .where(
                    table.c.id.in_([item.delivery.id for item in wave]),
                    table.c.worker == self.id,
                    table.c.status == "claimed",
                )
                .values(status="sending")
                .returning(table.c.id)
            )
            ours = {int(row_id) for (row_id,) in result}
        if len(ours) < len(wave):
            log.warning(
                "delivery worker %s: %s rows were taken back before they were sent; left "
                "to the worker that took them",
                self.id,
                len(wave) - len(ours),
            )
        return [item for item in wave if item.delivery.id in ours]

    async def _send(self, item: Claimed) -> Outcome:
        row, recipient = item.delivery, item.recipient
        channel = self.channels.get(row.channel)
        if recipient is None or channel is None:
            return Outcome(row, "failed", error="no such chat user or channel")
        replies = replies_of(row)
        notice = row.notice
        SENDING.set(Sending(row.id, notice.kind, row.customer_code, notice.meta or {}))
        try:
            slot = await self.limiter.acquire(row.channel, recipient.platform_user_id, len(replies))
            try:
                message_id = await channel.deliver(recipient, replies)
            finally:
                self.limiter.release(slot)
        except DeliveryRefused as error:  # a template or quota error: never retried
            return Outcome(row, "failed", error=str(error)[:300])
        except RateLimited as limited:
            self.limiter.pause(row.channel, limited.retry_after)
            return Outcome(row, "rate_limited", retry_after=limited.retry_after)
        except ChannelUnreachable as error:
            return Outcome(row, "unreachable", error=str(error)[:300])
        except Exception as error:  # any other failure is worth another try later
            log.warning("delivery %s to chat user %s failed: %s", row.id, row.chat_user_id, error)
            return Outcome(row, "retry", error=f"{type(error).__name__}: {error}"[:300])
        if self.on_sent is not None:
            self.on_sent(row)
        return Outcome(row, "sent", platform_message_id=message_id)

    async def _record(self, outcomes: list[Outcome]) -> None:
        """Write the outcomes, trying again while the database fails, even once asked to
        stop: these sends happened, and rows left `sending` would be sent twice after a
        recovery."""
        while True:
            try:
                await self._write_outcomes(outcomes)
            except Exception as error:
                await asyncio.sleep(
                    self.backoff.failed(error, f"{len(outcomes)} sends wait to be recorded")
                )
            else:
                self.backoff.working()
                return

    async def _write_outcomes(self, outcomes: list[Outcome]) -> None:
        now = self.clock.now()
        sent = [o for o in outcomes if o.status == "sent"]
        async with self.db.transaction() as session:
            if sent:  # the common case: one statement executed for many rows
                table = cast(Table, Delivery.__table__)
                connection = await session.connection()
                await connection.execute(
                    update(table)
                    .where(table.c.id == bindparam("row_id"))
                    .values(
                        status="sent",
                        sent_at=now,
                        attempts=table.c.attempts + 1,
                        platform_message_id=bindparam("message_id"),
                        error=None,
                    ),
                    [{"row_id": o.delivery.id, "message_id": o.platform_message_id} for o in sent],
                )
            for outcome in outcomes:
                if outcome.status == "sent":
                    continue
                await session.execute(
                    update(Delivery)
                    .where(Delivery.id == outcome.delivery.id)
                    .values(**self._result(outcome, now))
                    .execution_options(synchronize_session=False)
                )
            unreachable = [o.delivery.chat_user_id for o in outcomes if o.status == "unreachable"]
            if unreachable:
                await session.execute(
                    update(ChatUser).where(ChatUser.id.in_(unreachable)).values(reachable=False)
                )
            await self._transcribe(session, sent)
        self.sent += len(sent)

    def _result(self, outcome: Outcome, now: datetime) -> dict[str, Any]:
        row = outcome.delivery
        if outcome.status == "unreachable":
            return {"status": "unreachable", "attempts": row.attempts + 1, "error": outcome.error}
        if outcome.status == "rate_limited":  # not the row's fault: no attempt counted
            wait = timedelta(seconds=outcome.retry_after)
            return {"status": "queued", "worker": None, "not_before": now + wait}
        attempts = row.attempts + 1
        if outcome.status == "failed" or attempts >= MAX_ATTEMPTS:
            return {"status": "failed", "attempts": attempts, "error": outcome.error}
        backoff = timedelta(seconds=min(300, 2**attempts))
        return {
            "status": "queued",
            "worker": None,
            "attempts": attempts,
            "not_before": now + backoff,
            "error": outcome.error,
        }

    async def _transcribe(self, session: AsyncSession, sent: list[Outcome]) -> None:
        """What was sent goes into each customer's transcript (the web chat's history)."""
        if not sent:
            return
        user_ids = {o.delivery.chat_user_id for o in sent}
        conversations = await _conversations(session, user_ids)
        rows: list[dict[str, Any]] = []
        for outcome in sent:
            row = outcome.delivery
            if row.chat_user_id not in conversations:
                continue  # the chat user was deleted meanwhile
            author = str(row.notice.meta.get("author", "system"))
            rows += transcript_rows(conversations[row.chat_user_id], replies_of(row), author=author)
        # An agent's message becomes the last message of the console's list; notices
        # leave it alone (one UPDATE per conversation would slow a run of 100,000 bills).
        last: dict[int, dict[str, Any]] = {}
        for outcome in sent:
            row = outcome.delivery
            author = str(row.notice.meta.get("author", "system"))
            if author.startswith("staff:") and row.chat_user_id in conversations:
                texts = [r.text for r in replies_of(row) if r.text]
                if texts:
                    last[conversations[row.chat_user_id]] = {
                        "last_text": " ".join(texts[-1].split())[:PREVIEW_CHARS],
                        "last_author": author[:40],
                    }
        for conversation_id, values in last.items():
            await session.execute(
                update(Conversation).where(Conversation.id == conversation_id).values(**values)
            )
        await self._remember_options(session, sent, conversations)
        if self.live is not None:
            for conversation_id in {r["conversation_id"] for r in rows}:
                self.live.after_commit(session, conversation_changed(conversation_id))
        if rows:  # one statement executed for many rows, as for the outcomes
            connection = await session.connection()
            await connection.execute(insert(cast(Table, TranscriptMessage.__table__)), rows)

    async def _remember_options(
        self, session: AsyncSession, sent: list[Outcome], conversations: Mapping[int, int]
    ) -> None:
        """A push that a channel without (enough) buttons showed as numbered options: the
        conversation keeps their payloads, so a typed "1" answers the push (as after an
        answer of the engine: bot/core/engine.py)."""
        for outcome in sent:
            row = outcome.delivery
            caps = getattr(self.channels.get(row.channel), "caps", None)
            if not isinstance(caps, ChannelCaps) or row.chat_user_id not in conversations:
                continue
            options = [b.payload for b in numbered_options(replies_of(row), caps) if b.payload]
            if not options:
                continue
            conversation = await session.get(Conversation, conversations[row.chat_user_id])
            if conversation is not None:
                state = ConversationState(conversation.state)
                state.numbered = options
                conversation.state = state.to_json()


def _process_gone(worker_id: str) -> bool:
    """Whether `worker_id` ("host:pid:tag") names a process of this host that has ended."""
    host, _, rest = worker_id.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # somebody else's process: alive
        return False
    return False


async def _conversations(session: AsyncSession, user_ids: set[int]) -> dict[int, int]:
    """Conversation id per chat user, made where missing (another worker may make the
    same one at the same moment: the insert leaves it alone then)."""
    found = {
        chat_user_id: conversation_id
        for conversation_id, chat_user_id in await session.execute(
            select(Conversation.id, Conversation.chat_user_id).where(
                Conversation.chat_user_id.in_(user_ids)
            )
        )
    }
    missing = [
        user_id
        for user_id in await session.scalars(
            select(ChatUser.id).where(ChatUser.id.in_(user_ids - set(found)))
        )
    ]
    if missing:
        module: Any = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
        now = utcnow()
        await session.execute(
            module.insert(Conversation)
            .values(
                [
                    {
                        "chat_user_id": user_id,
                        "mode": "bot",
                        "state": {},
                        "last_activity_at": now,
                        "created_at": now,
                    }
                    for user_id in missing
                ]
            )
            .on_conflict_do_nothing(index_elements=["chat_user_id"])
        )
        found.update(
            {
                chat_user_id: conversation_id
                for conversation_id, chat_user_id in await session.execute(
                    select(Conversation.id, Conversation.chat_user_id).where(
                        Conversation.chat_user_id.in_(missing)
                    )
                )
            }
        )
    return found


async def _wait(stop: asyncio.Event, seconds: float, wake: asyncio.Event | None = None) -> None:
    """Wait `seconds`, or less if `stop` (or `wake`) is set meanwhile."""
    waits = [asyncio.ensure_future(event.wait()) for event in (stop, wake) if event is not None]
    try:
        await asyncio.wait(waits, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiting in waits:
            waiting.cancel()
