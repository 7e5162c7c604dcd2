"""The outbox and its delivery workers: every notice arrives once, under the channel's
limits, across several workers and a crash; 429, 403 and failures handled."""

from __future__ import annotations

import asyncio
import logging
import random
from collections import Counter
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import event, func, select

from bot.core.clock import FakeClock
from bot.core.messages import Button, Reply
from bot.core.outbound import ChannelUnreachable, RateLimited, Recipient
from bot.notify import outbox
from bot.notify.limits import ChannelLimit, RateLimiter
from bot.notify.worker import MAX_ATTEMPTS, DeliveryWorker, WorkerOptions
from bot.store.db import Database
from bot.store.models import (
    ChatUser,
    Delivery,
    NoticeOptOut,
    TranscriptMessage,
    WorkerHeartbeat,
)
from tests.helpers import eventually
from tests.test_health import database_down

NOON = datetime(2026, 11, 26, 5, 0, tzinfo=UTC)  # 12:00 in Vietnam


class FakeChannel:
    """A channel that records what it delivers, slowly enough to interleave workers,
    and can be told to fail a chat in a given way."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delivered: list[tuple[str, str]] = []  # (chat, first line)
        self.delay = delay
        self.fail: dict[str, list[Exception]] = {}

    async def deliver(self, recipient: Recipient, replies: Sequence[Reply]) -> str | None:
        if self.delay:
            await asyncio.sleep(random.uniform(0, self.delay))
        failures = self.fail.get(recipient.platform_user_id)
        if failures:
            raise failures.pop(0)
        self.delivered.append((recipient.platform_user_id, replies[0].text))
        return str(len(self.delivered))


@pytest.fixture
async def db(migrated_url: str, tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(migrated_url, media_dir=tmp_path / "media")
    try:
        yield database
    finally:
        await database.dispose()


async def chat_users(db: Database, count: int, channel: str = "telegram") -> list[ChatUser]:
    async with db.transaction() as session:
        users = [
            ChatUser(channel=channel, platform_user_id=str(1000 + i), activated_at=NOON)
            for i in range(count)
        ]
        session.add_all(users)
    return users


async def notify(
    db: Database,
    users: list[ChatUser],
    key: str = "outage:1:planned",
    *,
    category: str = "outage",
    urgent: bool = False,
    marketing: bool = False,
    now: datetime = NOON,
    cap: int | None = None,
) -> list[int]:
    async with db.transaction() as session:
        notice = await outbox.notice_for(
            session, key, kind="test", category=category, urgent=urgent, marketing=marketing
        )
        return await outbox.enqueue(
            session,
            notice,
            [
                outbox.Addressee(u, [Reply(text=f"{key} → {u.platform_user_id}")], "PC05CC0123456")
                for u in users
            ],
            now=now,
            marketing_per_week=cap,
        )


def worker(
    db: Database,
    channel: FakeChannel,
    clock: FakeClock,
    limits: dict[str, ChannelLimit] | None = None,
    **options: object,
) -> DeliveryWorker:
    return DeliveryWorker(
        db,
        {"telegram": channel},  # type: ignore[dict-item]
        RateLimiter(limits or {}),
        clock,
        WorkerOptions(**options),  # type: ignore[arg-type]
    )


async def statuses(db: Database) -> Counter[str]:
    async with db.reading() as session:
        rows = await session.execute(
            select(Delivery.status, func.count()).group_by(Delivery.status)
        )
        return Counter({status: count for status, count in rows})


async def test_a_notice_is_written_once_per_recipient_however_often_it_is_produced(
    db: Database,
) -> None:
    users = await chat_users(db, 3)
    assert len(await notify(db, users)) == 3
    assert await notify(db, users) == []  # the producer ran twice: nothing added
    assert await notify(db, users, "outage:2:planned") != []
    assert (await statuses(db))["queued"] == 6


async def test_two_workers_never_send_a_row_twice(db: Database) -> None:
    users = await chat_users(db, 60)
    for number in range(5):
        await notify(db, users, f"bill:{number}:issued", category="bill")
    channel = FakeChannel(delay=0.01)
    clock = FakeClock(NOON)
    first = worker(db, channel, clock, batch=40, concurrency=10)
    second = worker(db, channel, clock, batch=40, concurrency=10)

    async def drain(w: DeliveryWorker) -> None:
        while await w.run_once():
            pass

    await asyncio.gather(drain(first), drain(second))
    assert len(channel.delivered) == 300
    assert len(set(channel.delivered)) == 300  # none twice
    assert first.sent > 0 and second.sent > 0  # both took part
    assert await statuses(db) == Counter({"sent": 300})
    async with db.reading() as session:  # what was sent is in each transcript
        assert await session.scalar(select(func.count()).select_from(TranscriptMessage)) == 300


async def test_a_crash_loses_nothing_and_counts_the_sends_it_left_in_doubt(db: Database) -> None:
    users = await chat_users(db, 25)
    await notify(db, users)
    clock = FakeClock(NOON)
    channel = FakeChannel()
    doomed = worker(db, channel, clock, batch=25, concurrency=10)
    await doomed.heartbeat()
    claimed = await doomed.claim(25)
    await doomed._mark_sending(claimed[:10])  # the first wave was on the wire: then kill -9
    survivor = worker(db, channel, clock, stale_after=30)
    await survivor.heartbeat()
    assert await survivor.recover() == 0  # the dead worker's heartbeat is still fresh
    clock.advance(seconds=31)
    await survivor.heartbeat()
    assert await survivor.recover() == 25
    async with db.reading() as session:
        doubtful = await session.scalar(select(func.count()).where(Delivery.in_doubt.is_(True)))
    assert doubtful == 10  # only the wave under way may reach a customer twice
    while await survivor.run_once():
        pass
    assert await statuses(db) == Counter({"sent": 25})
    assert len(channel.delivered) == 25


async def test_a_worker_back_from_a_stall_leaves_the_rows_taken_from_it(db: Database) -> None:
    """Its heartbeat went stale (say, a long database outage) and another worker took
    its claimed rows: when it comes back it must not send them too."""
    users = await chat_users(db, 6)
    await notify(db, users)
    clock = FakeClock(NOON)
    slow_channel, quick_channel = FakeChannel(), FakeChannel()
    stalled = worker(db, slow_channel, clock, batch=6)
    await stalled.heartbeat()
    claimed = await stalled.claim(6)
    clock.advance(seconds=31)
    other = worker(db, quick_channel, clock, stale_after=30)
    await other.heartbeat()
    assert await other.recover() == 6
    await stalled.deliver(claimed)  # the stalled worker goes on with what it held
    assert slow_channel.delivered == []
    while await other.run_once():
        pass
    assert len(quick_channel.delivered) == 6
    assert await statuses(db) == Counter({"sent": 6})


async def test_a_429_pauses_the_channel_and_the_row_waits_without_losing_an_attempt(
    db: Database,
) -> None:
    (user,) = await chat_users(db, 1)
    await notify(db, [user])
    channel = FakeChannel()
    channel.fail[user.platform_user_id] = [RateLimited(3)]
    clock = FakeClock(NOON)
    sender = worker(db, channel, clock)
    await sender.run_once()
    assert sender.limiter.paused_for("telegram") > 2.5
    async with db.reading() as session:
        row = await session.scalar(select(Delivery))
    assert row is not None and row.status == "queued" and row.attempts == 0
    assert row.not_before == NOON + timedelta(seconds=3)
    assert await sender.run_once() == 0  # not due yet
    clock.advance(seconds=3)
    sender.limiter.pause("telegram", 0)  # (the real pause ran on the real clock)
    sender.limiter._paused_until.clear()
    assert await sender.run_once() == 1
    assert channel.delivered == [(user.platform_user_id, "outage:1:planned → 1000")]


async def test_a_blocked_bot_marks_the_chat_unreachable_and_never_retries(db: Database) -> None:
    users = await chat_users(db, 2)
    await notify(db, users)
    channel = FakeChannel()
    channel.fail[users[0].platform_user_id] = [ChannelUnreachable("Forbidden: bot was blocked")]
    sender = worker(db, channel, FakeClock(NOON))
    await sender.run_once()
    assert await statuses(db) == Counter({"sent": 1, "unreachable": 1})
    async with db.reading() as session:
        blocked = await session.get(ChatUser, users[0].id)
    assert blocked is not None and blocked.reachable is False
    async with db.reading() as session:  # the next notice leaves the blocked chat out
        fresh = list(await session.scalars(select(ChatUser).order_by(ChatUser.id)))
    assert len(await notify(db, fresh, "outage:2:planned")) == 1


async def test_failures_are_retried_with_backoff_then_given_up(db: Database) -> None:
    (user,) = await chat_users(db, 1)
    await notify(db, [user])
    channel = FakeChannel()
    channel.fail[user.platform_user_id] = [OSError("connection reset")] * MAX_ATTEMPTS
    clock = FakeClock(NOON)
    sender = worker(db, channel, clock)
    waits = []
    for _ in range(MAX_ATTEMPTS):
        assert await sender.run_once() == 1
        async with db.reading() as session:
            row = await session.scalar(select(Delivery))
        assert row is not None
        if row.status == "failed":
            break
        waits.append((row.not_before - clock.now()).total_seconds())
        clock.advance(seconds=waits[-1])
    assert waits == [2, 4, 8, 16, 32, 64, 128, 256, 300]  # doubling, at most 5 minutes
    assert row.status == "failed" and row.attempts == MAX_ATTEMPTS
    assert row.error == "OSError: connection reset"


async def test_quiet_hours_hold_everything_but_urgent_notices(db: Database) -> None:
    users = await chat_users(db, 2)
    late = datetime(2026, 11, 26, 15, 30, tzinfo=UTC)  # 22:30 in Vietnam
    await notify(db, users[:1], "outage:1:planned", now=late)
    await notify(db, users[1:], "outage:2:incident", urgent=True, now=late)
    clock = FakeClock(late)
    channel = FakeChannel()
    sender = worker(db, channel, clock)
    assert await sender.run_once() == 1
    assert channel.delivered == [("1001", "outage:2:incident → 1001")]
    clock.advance(hours=8)  # 06:30
    assert await sender.run_once() == 0
    clock.advance(minutes=30)  # 07:00
    assert await sender.run_once() == 1


async def test_customers_who_switched_a_category_off_get_no_row(db: Database) -> None:
    users = await chat_users(db, 3)
    async with db.transaction() as session:
        session.add(NoticeOptOut(chat_user_id=users[0].id, customer_code="", category="outage"))
        session.add(
            NoticeOptOut(chat_user_id=users[1].id, customer_code="PC05CC0123456", category="outage")
        )
        session.add(NoticeOptOut(chat_user_id=users[2].id, customer_code="", category="bill"))
    assert len(await notify(db, users)) == 1  # only the third, who turned bills off
    assert len(await notify(db, users, "bill:1:issued", category="bill")) == 2


async def test_marketing_beyond_the_weekly_cap_is_skipped_and_counted(db: Database) -> None:
    (user,) = await chat_users(db, 1)
    for number in range(3):
        await notify(db, [user], f"campaign:{number}", category="other", marketing=True, cap=2)
    assert await statuses(db) == Counter({"queued": 2, "skipped": 1})
    later = NOON + timedelta(days=8)  # a new week
    await notify(db, [user], "campaign:9", category="other", marketing=True, cap=2, now=later)
    assert (await statuses(db))["queued"] == 3


async def test_a_push_carries_its_buttons_and_is_sent_at_once(db: Database) -> None:
    (user,) = await chat_users(db, 1)
    channel = FakeChannel()
    clock = FakeClock(NOON)
    sender = worker(db, channel, clock)
    from bot.notify.push import Pusher

    pusher = Pusher(db, {"telegram": channel}, clock)  # type: ignore[dict-item]
    pusher.worker = sender
    told = await pusher.push(
        user.id, [Reply(text="📋 Đang xử lý", buttons=((Button("Xem", payload="req:1"),),))]
    )
    assert told and channel.delivered == [("1000", "📋 Đang xử lý")]
    async with db.reading() as session:
        row = await session.scalar(select(Delivery))
    assert row is not None and row.status == "sent"
    assert outbox.replies_of(row)[0].buttons[0][0].payload == "req:1"


def connection_attempts(db: Database) -> Callable[[], int]:
    """How many connections the database was asked for so far (failed ones too)."""
    attempts = [0]

    def count(*_: object) -> None:
        attempts[0] += 1

    event.listen(db.engine.sync_engine, "do_connect", count)
    return lambda: attempts[0]


async def registered(db: Database, sender: DeliveryWorker) -> bool:
    """Whether the worker has written its heartbeat (it is running)."""
    async with db.reading() as session:
        return await session.get(WorkerHeartbeat, sender.id) is not None


def worker_lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [
        r for r in caplog.records if r.name == "bot.notify.worker" and r.levelno >= logging.INFO
    ]


async def test_a_database_outage_is_logged_once_and_waited_out_with_backoff_regression(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    """Issue 12: a worker logged a ~120-line traceback per try, a try a second and one
    more each time new rows woke it. Now one line when delivery stops, one when it
    resumes, and tries that back off whatever wakes it; then the rows go out."""
    caplog.set_level(logging.INFO)
    users = await chat_users(db, 3)
    await notify(db, users, now=NOON + timedelta(hours=1))  # due while the database is down
    clock = FakeClock(NOON)
    channel = FakeChannel()
    sender = worker(
        db,
        channel,
        clock,
        poll_seconds=0.05,
        heartbeat_seconds=0.05,
        backoff_base=0.02,
        backoff_cap=0.2,
    )
    stop = asyncio.Event()
    running = asyncio.create_task(sender.run(stop))
    try:
        await eventually(lambda: registered(db, sender))  # running before the outage
        attempts = connection_attempts(db)
        async with database_down(db):
            clock.advance(hours=1)
            for _ in range(100):  # 1 s of rows committed elsewhere waking it
                sender.wake()
                await asyncio.sleep(0.01)
            tried = attempts()
            during = worker_lines(caplog)
        await eventually(lambda: len(channel.delivered) == 3)
    finally:
        stop.set()
        await running
    # waits of 0.02, 0.04, 0.08, 0.16, then 0.2 s: about 8 tries in the second (it was 70-100)
    assert 3 <= tried <= 12, tried
    assert [r.levelname for r in during] == ["WARNING"]
    assert "delivery paused" in during[0].getMessage() and during[0].exc_info is None
    resumed = worker_lines(caplog)[len(during) :]
    assert [r.levelname for r in resumed] == ["INFO"]
    assert "database back after" in resumed[0].getMessage()
    assert await statuses(db) == Counter({"sent": 3})


async def test_sends_whose_outcome_could_not_be_written_are_recorded_once_it_is_back(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    """The send happened: the worker keeps trying to record it (a row left `sending`
    would be sent twice), with the same backoff and one line, not one per try."""
    caplog.set_level(logging.INFO)
    (user,) = await chat_users(db, 1)
    await notify(db, [user])
    sent, recorded_later = asyncio.Event(), asyncio.Event()

    class CutOffChannel(FakeChannel):
        async def deliver(self, recipient: Recipient, replies: Sequence[Reply]) -> str | None:
            message_id = await super().deliver(recipient, replies)
            sent.set()
            await recorded_later.wait()  # the database goes down before the answer is kept
            return message_id

    channel = CutOffChannel()
    sender = worker(db, channel, FakeClock(NOON), backoff_base=0.02, backoff_cap=0.1)
    round_ = asyncio.create_task(sender.run_once())
    await sent.wait()
    attempts = connection_attempts(db)
    async with database_down(db):
        recorded_later.set()
        await eventually(lambda: attempts() >= 3)  # tried, and tried again
        assert not round_.done()  # still trying to record it
    assert await asyncio.wait_for(round_, 5) == 1
    assert await statuses(db) == Counter({"sent": 1}) and len(channel.delivered) == 1
    lines = worker_lines(caplog)
    assert [r.levelname for r in lines] == ["WARNING", "INFO"]
    assert "1 sends wait to be recorded" in lines[0].getMessage()


async def test_a_worker_started_or_stopped_while_the_database_is_down_carries_on(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    """It died at start (its first heartbeat failed outside the loop) and raised at stop
    (giving back its rows failed), which took `cskh serve`'s shutdown down with it."""
    caplog.set_level(logging.INFO)
    users = await chat_users(db, 2)
    await notify(db, users)
    channel = FakeChannel()
    sender = worker(
        db, channel, FakeClock(NOON), poll_seconds=0.05, backoff_base=0.02, backoff_cap=0.1
    )
    stop = asyncio.Event()
    attempts = connection_attempts(db)
    async with database_down(db):
        running = asyncio.create_task(sender.run(stop))
        await eventually(lambda: attempts() >= 3)  # its start failed, and it tried again
        assert not running.done()
    await eventually(lambda: sender.sent == 2)  # sent and recorded
    async with database_down(db):
        stop.set()
        await asyncio.wait_for(running, 5)  # no error: the rows are taken back later
    assert "stopped without giving back" in worker_lines(caplog)[-1].getMessage()


def test_the_limiter_keeps_to_the_window_and_the_gap_per_chat() -> None:
    now = [0.0]
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        now[0] += seconds

    limiter = RateLimiter(
        {"telegram": ChannelLimit(per_second=30, chat_interval=1.0)},
        monotonic=lambda: now[0],
        sleep=sleep,
    )

    async def run() -> list[float]:
        granted = []
        for chat in range(90):
            limiter.release(await limiter.acquire("telegram", str(chat)))
            granted.append(now[0])
        return granted

    granted = asyncio.run(run())
    for start in granted:  # no sliding one-second window holds more than 30
        assert sum(1 for t in granted if start <= t < start + 1.0) <= 30
    assert 2.0 <= granted[-1] <= 2.2  # 90 messages in about three windows

    async def same_chat() -> list[float]:
        times = []
        for _ in range(3):
            limiter.release(await limiter.acquire("telegram", "42"))
            times.append(now[0])
        return times

    times = asyncio.run(same_chat())
    assert times[1] - times[0] >= 1.0 and times[2] - times[1] >= 1.0


def test_the_limiter_counts_a_slow_send_from_its_answer() -> None:
    """The platform counts a message when it arrives, which may be as late as its
    answer: the window and the chat's gap run from the answer, and a send not answered
    yet keeps its place in the window however old it is."""
    now = [0.0]
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        if len(sleeps) > 200:
            raise TimeoutError("waits for ever")
        now[0] += seconds

    def limiter(limit: ChannelLimit) -> RateLimiter:
        return RateLimiter({"telegram": limit}, monotonic=lambda: now[0], sleep=sleep)

    async def answered_late() -> tuple[float, float]:
        window = limiter(ChannelLimit(per_second=3))
        slots = [await window.acquire("telegram", str(chat)) for chat in range(3)]
        now[0] = 0.6  # the three answers come 0.6 s after the grants
        for slot in slots:
            window.release(slot)
        window.release(await window.acquire("telegram", "9"))
        fourth = now[0]
        gap = limiter(ChannelLimit(chat_interval=1.0))
        gap.release(await gap.acquire("telegram", "42"))  # granted and answered at 1.6...
        granted = now[0]
        now[0] += 0.5
        slot = await gap.acquire("telegram", "7")
        now[0] += 0.7  # ...the answer to chat 7 comes late
        gap.release(slot)
        await gap.acquire("telegram", "7")
        return fourth - 0.6, now[0] - (granted + 0.5 + 0.7)

    fourth_after_answers, chat_gap_after_answer = asyncio.run(answered_late())
    assert fourth_after_answers >= 1.0  # a window after the answers, not the grants
    assert chat_gap_after_answer >= 1.0

    async def unanswered() -> tuple[float, float]:
        window = limiter(ChannelLimit(per_second=2))
        hung = await window.acquire("telegram", "1")
        window.release(await window.acquire("telegram", "2"))
        now[0] += 5.0  # long past any window, and still no answer to chat 1
        window.release(await window.acquire("telegram", "3"))
        third = now[0]
        window.release(await window.acquire("telegram", "4"))  # the hung send holds a place
        one_place = now[0] - third
        window.release(hung)
        fourth = now[0]
        window.release(await window.acquire("telegram", "5"))
        window.release(await window.acquire("telegram", "6"))
        return one_place, now[0] - fourth

    one_place, two_places = asyncio.run(unanswered())
    assert one_place >= 1.0  # 2/s, but one of the two places is the unanswered send's
    assert two_places <= 1.01  # answered: both places free again within a window
    asyncio.run(unanswered())
