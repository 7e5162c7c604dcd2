"""One-time codes: every limit of the account issue, with a clock the test moves."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.auth.otp import Checked, CodeMessage, OtpService, Sent
from bot.auth.providers import DeliveryError, Outgoing, Senders
from bot.core.clock import FakeClock
from bot.store.db import Database
from bot.store.models import ChatUser, OtpCode

PHONE = "+84905123456"
TEXT = CodeMessage("Ma: {code}", "Ma xac thuc", "Ma cua Quy khach: {code}")


@dataclass
class RecordingSender:
    sent: list[Outgoing] = field(default_factory=list)
    fail: bool = False

    async def send(self, message: Outgoing, session: AsyncSession) -> None:
        if self.fail:
            raise DeliveryError("gateway down")
        self.sent.append(message)

    async def close(self) -> None:
        return None

    def last_code(self) -> str:
        match = re.search(r"\d{6}", self.sent[-1].body)
        assert match
        return match.group(0)


@dataclass
class Otp:
    db: Database
    service: OtpService
    clock: FakeClock
    sms: RecordingSender
    users: list[int]

    async def send(
        self,
        phone: str = PHONE,
        *,
        user: int = 0,
        address: str | None = PHONE,
        purpose: str = "activate",
    ) -> Sent:
        async with self.db.transaction() as session:
            result = await self.service.send(
                session,
                phone=phone,
                purpose=purpose,
                delivery="sms",
                chat_user_id=self.users[user],
                address=address,
                text=TEXT,
            )
        return result.outcome

    async def check(self, code: str, phone: str = PHONE, *, purpose: str = "activate") -> Checked:
        async with self.db.transaction() as session:
            result = await self.service.check(
                session, phone=phone, purpose=purpose, code=code, chat_user_id=self.users[0]
            )
        return result.outcome


@pytest.fixture
async def otp(migrated_url: str) -> AsyncIterator[Otp]:
    db = Database(migrated_url)
    clock = FakeClock()
    sms = RecordingSender()
    service = OtpService(b"secret", clock, Senders(sms=sms, email=sms))
    async with db.transaction() as session:
        users = [ChatUser(channel="rest", platform_user_id=f"u{i}") for i in range(2)]
        session.add_all(users)
        await session.flush()
        ids = [u.id for u in users]
    yield Otp(db, service, clock, sms, ids)
    await db.dispose()


def wrong(code: str) -> str:
    return "000000" if code != "000000" else "111111"


async def test_a_code_is_six_random_digits_stored_only_as_a_hash(otp: Otp) -> None:
    assert await otp.send() == Sent.SENT
    code = otp.sms.last_code()
    assert re.fullmatch(r"\d{6}", code)
    async with otp.db.reading() as session:
        row = await session.scalar(select(OtpCode))
    assert row is not None and row.code_hash and code not in row.code_hash


async def test_a_code_works_once_and_for_five_minutes(otp: Otp) -> None:
    await otp.send()
    code = otp.sms.last_code()
    otp.clock.advance(minutes=4, seconds=59)
    assert await otp.check(code) == Checked.OK
    assert await otp.check(code) == Checked.WRONG  # replayed
    otp.clock.advance(seconds=61)
    await otp.send()
    late = otp.sms.last_code()
    otp.clock.advance(minutes=5, seconds=1)
    assert await otp.check(late) == Checked.WRONG  # expired


async def test_a_new_code_replaces_the_old_one(otp: Otp) -> None:
    await otp.send()
    first = otp.sms.last_code()
    otp.clock.advance(seconds=61)
    await otp.send()
    second = otp.sms.last_code()
    if first != second:
        assert await otp.check(first) == Checked.WRONG
    assert await otp.check(second) == Checked.OK


async def test_five_wrong_entries_lock_the_phone_for_15_minutes(otp: Otp) -> None:
    await otp.send()
    code = otp.sms.last_code()
    for _ in range(4):
        assert await otp.check(wrong(code)) == Checked.WRONG
    assert await otp.check(wrong(code)) == Checked.LOCKED
    assert await otp.check(code) == Checked.LOCKED  # even the right code
    assert await otp.send() == Sent.LOCKED
    otp.clock.advance(minutes=15, seconds=1)
    assert await otp.send() == Sent.SENT
    assert await otp.check(otp.sms.last_code()) == Checked.OK


async def test_a_new_code_only_after_60_seconds(otp: Otp) -> None:
    assert await otp.send() == Sent.SENT
    otp.clock.advance(seconds=30)
    async with otp.db.transaction() as session:
        result = await otp.service.send(
            session,
            phone=PHONE,
            purpose="activate",
            delivery="sms",
            chat_user_id=otp.users[0],
            address=PHONE,
            text=TEXT,
        )
    assert result.outcome == Sent.WAIT and result.wait_seconds == 31
    otp.clock.advance(seconds=31)
    assert await otp.send() == Sent.SENT


async def test_at_most_five_codes_per_phone_per_hour(otp: Otp) -> None:
    for _ in range(5):
        assert await otp.send() == Sent.SENT
        otp.clock.advance(seconds=61)
    assert await otp.send(user=1) == Sent.RATE_LIMITED  # whoever asks
    assert len(otp.sms.sent) == 5
    otp.clock.advance(minutes=56)
    assert await otp.send() == Sent.SENT


async def test_at_most_ten_codes_per_chat_user_per_day(otp: Otp) -> None:
    for index in range(10):
        assert await otp.send(f"+8490500{index:04d}") == Sent.SENT
    assert await otp.send("+84905009999") == Sent.RATE_LIMITED  # SMS pumping stopped
    assert await otp.send("+84905009999", user=1) == Sent.SENT  # another chat is not
    otp.clock.advance(days=1, seconds=1)
    assert await otp.send("+84905008888") == Sent.SENT


async def test_a_phone_on_no_contract_is_answered_the_same_and_gets_nothing(otp: Otp) -> None:
    assert await otp.send("+84911000111", address=None) == Sent.SENT
    assert otp.sms.sent == []
    assert await otp.check("123456", "+84911000111") == Checked.WRONG
    otp.clock.advance(seconds=10)
    # The same limits apply, so they tell nothing either.
    assert await otp.send("+84911000111", address=None) == Sent.WAIT


async def test_a_failed_delivery_is_reported_and_its_code_is_void(otp: Otp) -> None:
    otp.sms.fail = True
    assert await otp.send() == Sent.DELIVERY_FAILED
    otp.sms.fail = False
    assert await otp.send() == Sent.SENT  # no 60-second wait after a failure
    assert await otp.check(otp.sms.last_code()) == Checked.OK


async def test_codes_of_one_purpose_do_not_open_another(otp: Otp) -> None:
    await otp.send(purpose="add_code")
    assert await otp.check(otp.sms.last_code(), purpose="activate") == Checked.WRONG


async def test_simultaneous_guesses_still_meet_the_lock(otp: Otp) -> None:
    """Guesses sent at once from many chats (separate transactions; on PostgreSQL they
    really run side by side) are counted one by one: the sixth is refused."""
    await otp.send()
    code = otp.sms.last_code()
    outcomes = await asyncio.gather(*(otp.check(wrong(code)) for _ in range(12)))
    assert outcomes.count(Checked.WRONG) == 4
    assert outcomes.count(Checked.LOCKED) == 8
    assert await otp.check(code) == Checked.LOCKED


async def test_a_right_code_entered_twice_at_once_works_once(otp: Otp) -> None:
    await otp.send()
    code = otp.sms.last_code()
    outcomes = await asyncio.gather(otp.check(code), otp.check(code), otp.check(code))
    assert outcomes.count(Checked.OK) == 1
