"""One-time codes: every limit of the account and hardening issues, with a clock the
test moves, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from sqlalchemy import select

from bot.auth.guard import Requester
from bot.auth.otp import Checked, CodeMessage, OtpLimits, OtpService, Sent, Undelivered
from bot.auth.providers import DeliveryError, Outgoing, Senders
from bot.core.clock import FakeClock
from bot.store.db import Database
from bot.store.models import ChatUser, OtpCode

PHONE = "+84905123456"
TEXT = CodeMessage("Ma: {code}", "Ma xac thuc", "Ma cua Quy khach: {code}")
USERS = 60


@dataclass
class RecordingSender:
    sent: list[Outgoing] = field(default_factory=list)
    fail: bool = False

    async def send(self, message: Outgoing) -> None:
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
    undelivered: list[Undelivered]

    async def send(
        self,
        phone: str = PHONE,
        *,
        user: int = 0,
        address: str | None = PHONE,
        purpose: str = "activate",
        client: str | None = None,
        delivery: str = "sms",
    ) -> Sent:
        async with self.db.transaction() as session:
            result = await self.service.send(
                session,
                phone=phone,
                purpose=purpose,
                delivery=delivery,
                requester=Requester(self.users[user], client),
                address=address,
                text=TEXT,
            )
        await self.service.drain()  # the code leaves after the commit, in the background
        return result.outcome

    async def check(
        self,
        code: str,
        phone: str = PHONE,
        *,
        purpose: str = "activate",
        user: int = 0,
        client: str | None = None,
    ) -> Checked:
        async with self.db.transaction() as session:
            result = await self.service.check(
                session,
                phone=phone,
                purpose=purpose,
                code=code,
                requester=Requester(self.users[user], client),
            )
        return result.outcome


@pytest.fixture
async def otp(migrated_url: str) -> AsyncIterator[Otp]:
    db = Database(migrated_url)
    clock = FakeClock()
    sms = RecordingSender()
    service = OtpService(
        b"secret", clock, Senders(sms=sms, email=sms), db, OtpLimits(sms_per_minute=1000)
    )
    undelivered: list[Undelivered] = []

    async def heard(failed: Undelivered) -> None:
        undelivered.append(failed)

    service.on_undelivered = heard
    async with db.transaction() as session:
        users = [ChatUser(channel="rest", platform_user_id=f"u{i}") for i in range(USERS)]
        session.add_all(users)
        await session.flush()
        ids = [u.id for u in users]
    yield Otp(db, service, clock, sms, ids, undelivered)
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


async def test_the_code_leaves_only_after_the_answer_is_committed(otp: Otp) -> None:
    """Known and unknown phones take the same steps inside the request; the gateway is
    called afterwards, so its speed cannot tell them apart (issue 12, point 2)."""
    async with otp.db.transaction() as session:
        result = await otp.service.send(
            session,
            phone=PHONE,
            purpose="activate",
            delivery="sms",
            requester=Requester(otp.users[0]),
            address=PHONE,
            text=TEXT,
        )
        assert result.outcome == Sent.SENT
        await otp.service.drain(seconds=1)  # a code already on its way would arrive now
        assert otp.sms.sent == []  # not while the request is being answered
    await otp.service.drain()
    assert len(otp.sms.sent) == 1

    class Rollback(Exception):
        pass

    otp.clock.advance(seconds=61)
    with pytest.raises(Rollback):
        async with otp.db.transaction() as session:
            await otp.service.send(
                session,
                phone=PHONE,
                purpose="activate",
                delivery="sms",
                requester=Requester(otp.users[0]),
                address=PHONE,
                text=TEXT,
            )
            raise Rollback
    await otp.service.drain()
    assert len(otp.sms.sent) == 1  # a request that rolled back sends nothing


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


async def test_a_code_works_only_in_the_chat_that_asked_for_it(otp: Otp) -> None:
    await otp.send(user=0)
    assert await otp.check(otp.sms.last_code(), user=1) == Checked.WRONG
    assert await otp.check(otp.sms.last_code(), user=0) == Checked.OK


async def test_five_wrong_entries_lock_the_chat_for_15_minutes(otp: Otp) -> None:
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


async def test_a_stranger_cannot_lock_the_owner_out_of_their_phone_regression(
    otp: Otp,
) -> None:
    """Issue 12, point 5: an anonymous chat asked a code for the victim's phone and typed
    5 wrong codes, and the victim's SMS login was locked for 15 minutes. Now the
    attacker locks only themselves; the owner's code works in the owner's chat."""
    owner, attacker = 0, 1
    await otp.send(user=owner)
    owners_code = otp.sms.last_code()
    assert await otp.send(user=attacker) == Sent.SENT  # does not spoil the owner's code
    for _ in range(5):
        await otp.check(wrong(owners_code), user=attacker)
    assert await otp.check(owners_code, user=attacker) == Checked.LOCKED
    assert await otp.send(user=attacker) == Sent.LOCKED
    assert await otp.check(owners_code, user=owner) == Checked.OK
    otp.clock.advance(seconds=61)
    assert await otp.send(user=owner) == Sent.SENT  # and may ask for another


async def test_many_chats_guessing_one_phone_lock_it_at_a_far_higher_ceiling(
    otp: Otp, caplog: pytest.LogCaptureFixture
) -> None:
    await otp.send(user=0)
    code = otp.sms.last_code()
    with caplog.at_level(logging.WARNING, logger="bot.auth.otp"):
        outcomes = [await otp.check(wrong(code), user=1 + attempt // 4) for attempt in range(50)]
    assert outcomes.count(Checked.LOCKED) == 1  # the fiftieth: the phone itself
    assert outcomes[-1] == Checked.LOCKED
    assert await otp.check(code, user=0) == Checked.LOCKED  # now the owner waits too...
    assert "locked per phone" in caplog.text  # ...and the operators know why
    otp.clock.advance(minutes=15, seconds=1)
    assert await otp.send(user=0) == Sent.SENT
    assert await otp.check(otp.sms.last_code(), user=0) == Checked.OK


async def test_wrong_codes_from_one_address_lock_that_address(otp: Otp) -> None:
    client = "203.0.113.7"
    for attempt in range(19):
        phone = f"+8490511{attempt:04d}"
        assert await otp.check("123456", phone, user=attempt, client=client) == Checked.WRONG
    assert await otp.check("123456", "+84905119999", user=30, client=client) == Checked.LOCKED
    assert await otp.check("123456", "+84905119998", user=31, client=client) == Checked.LOCKED
    assert await otp.check("123456", "+84905119998", user=31, client="198.51.100.1") == (
        Checked.WRONG
    )


async def test_simultaneous_guesses_still_meet_the_lock(otp: Otp) -> None:
    """Guesses sent at once (separate transactions; on PostgreSQL they really run side
    by side) are counted one by one: the fifth locks, the rest are refused."""
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


async def test_a_new_code_only_after_60_seconds(otp: Otp) -> None:
    assert await otp.send() == Sent.SENT
    otp.clock.advance(seconds=30)
    async with otp.db.transaction() as session:
        result = await otp.service.send(
            session,
            phone=PHONE,
            purpose="activate",
            delivery="sms",
            requester=Requester(otp.users[0]),
            address=PHONE,
            text=TEXT,
        )
    assert result.outcome == Sent.WAIT and result.wait_seconds == 31
    otp.clock.advance(seconds=31)
    assert await otp.send() == Sent.SENT


async def test_at_most_five_codes_per_phone_and_chat_per_hour(otp: Otp) -> None:
    for _ in range(5):
        assert await otp.send() == Sent.SENT
        otp.clock.advance(seconds=61)
    assert await otp.send() == Sent.RATE_LIMITED
    assert await otp.send(user=1) == Sent.SENT  # the owner in their own chat is not held
    assert len(otp.sms.sent) == 6
    otp.clock.advance(minutes=56)
    assert await otp.send() == Sent.SENT


async def test_at_most_twenty_codes_per_phone_per_hour_from_everywhere(otp: Otp) -> None:
    for user in range(20):
        assert await otp.send(user=user, client=f"198.51.{user}.1") == Sent.SENT
    # The phone is no SMS cannon: past 20 an hour, nobody gets one for it.
    assert await otp.send(user=20, client="192.0.2.1") == Sent.RATE_LIMITED
    otp.clock.advance(hours=1, seconds=1)
    assert await otp.send(user=20, client="192.0.2.1") == Sent.SENT


async def test_one_network_spends_only_five_of_a_phones_codes(otp: Otp) -> None:
    for user in range(5):
        assert await otp.send(user=user, client=f"203.0.113.{user}") == Sent.SENT
    assert await otp.send(user=5, client="203.0.113.99") == Sent.RATE_LIMITED
    assert await otp.send(user=6, client="198.51.100.1") == Sent.SENT  # another network


async def test_at_most_ten_codes_per_chat_user_per_day(otp: Otp) -> None:
    for index in range(10):
        assert await otp.send(f"+8490500{index:04d}") == Sent.SENT
    assert await otp.send("+84905009999") == Sent.RATE_LIMITED  # SMS pumping stopped
    assert await otp.send("+84905009999", user=1) == Sent.SENT  # another chat is not
    otp.clock.advance(days=1, seconds=1)
    assert await otp.send("+84905008888") == Sent.SENT


async def test_new_chats_from_one_address_cannot_pump_codes_regression(otp: Otp) -> None:
    """Issue 12, point 1: every new web visitor or REST user was a new chat, so 20 fresh
    visitors got 20 SMS. The address and its network are counted whatever the chat."""
    sent = [
        await otp.send(f"+8490600{user:04d}", user=user, client="203.0.113.5") for user in range(20)
    ]
    assert sent.count(Sent.SENT) == 10 and sent[10:] == [Sent.RATE_LIMITED] * 10
    assert len(otp.sms.sent) == 10
    # Rotating addresses inside one /24 meets the network's limit (30 an hour).
    rotating = [
        await otp.send(f"+8490700{user:04d}", user=user, client=f"203.0.113.{100 + user}")
        for user in range(20, 50)
    ]
    assert rotating.count(Sent.SENT) == 20
    assert len(otp.sms.sent) == 30
    # IPv6: one /64 is one network.
    assert await otp.send("+84908000001", user=50, client="2001:db8:1:2::1") == Sent.SENT
    otp.clock.advance(hours=1, seconds=1)
    assert await otp.send("+84908000002", user=51, client="203.0.113.5") == Sent.SENT


async def test_the_sms_budget_offers_email_when_spent_and_warns_before(
    otp: Otp, caplog: pytest.LogCaptureFixture
) -> None:
    otp.service.limits = OtpLimits(sms_per_minute=5, sms_per_day=8)
    with caplog.at_level(logging.WARNING, logger="bot.auth.otp"):
        outcomes = [await otp.send(f"+8490900{u:04d}", user=u) for u in range(6)]
    assert outcomes == [Sent.SENT] * 5 + [Sent.BUSY]
    assert "SMS budget of the minute is being eaten: 4 of 5" in caplog.text
    # E-mail is not part of the SMS budget; an unknown phone spends it like a known one.
    assert await otp.send("+84909000099", user=6, delivery="email") == Sent.SENT
    assert await otp.send("+84909000098", user=7, address=None) == Sent.BUSY
    otp.clock.advance(minutes=1, seconds=1)
    assert [await otp.send(f"+8490910{u:04d}", user=u) for u in range(10, 14)] == [
        Sent.SENT,
        Sent.SENT,
        Sent.SENT,
        Sent.BUSY,  # the day's 8
    ]
    assert "SMS budget of the day is being eaten" in caplog.text
    assert len([m for m in otp.sms.sent if m.kind == "sms"]) == 8


async def test_a_phone_on_no_contract_is_answered_the_same_and_gets_nothing(otp: Otp) -> None:
    assert await otp.send("+84911000111", address=None) == Sent.SENT
    assert otp.sms.sent == []
    assert await otp.check("123456", "+84911000111") == Checked.WRONG
    otp.clock.advance(seconds=10)
    # The same limits apply, so they tell nothing either.
    assert await otp.send("+84911000111", address=None) == Sent.WAIT


async def test_a_failed_delivery_is_reported_after_and_its_code_is_void(otp: Otp) -> None:
    otp.sms.fail = True
    assert await otp.send() == Sent.SENT  # the answer does not wait for the gateway
    assert otp.undelivered == [Undelivered(otp.users[0], "sms", "activate")]
    async with otp.db.reading() as session:
        row = await session.scalar(select(OtpCode))
    assert row is not None and row.failed and row.code_hash is None
    otp.sms.fail = False
    assert await otp.send() == Sent.SENT  # no 60-second wait after a failure
    assert await otp.check(otp.sms.last_code()) == Checked.OK


async def test_codes_of_one_purpose_do_not_open_another(otp: Otp) -> None:
    await otp.send(purpose="add_code")
    assert await otp.check(otp.sms.last_code(), purpose="activate") == Checked.WRONG
