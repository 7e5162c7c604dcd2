"""One-time codes: 6 digits from a CSPRNG, kept as an HMAC, valid 5 minutes, single use.

A request for a phone that is on no contract is recorded and answered exactly like one
that is, and takes the same path and time: the code goes to the gateway after the
answer, from a background task, so a slow gateway tells nothing (issue 12, point 2).

Limits (issue 12, docs/SECURITY.md), all counted in the database so every process
shares them:
- per phone and requesting chat: a new code only 60 s after the last, 5 an hour; 5
  wrong codes lock that chat out of that phone for 15 minutes (the attacker locks
  themselves, never the owner, whose own code keeps working in their own chat);
- per phone and network (/24 or /64): 5 codes an hour, so new chats from one network
  cannot spend a phone's ceiling: per phone from everywhere, 20 codes an hour and 50
  wrong codes an hour (then the phone is locked for 15 minutes), ceilings that take
  several networks to reach, with an alert;
- per chat: 10 codes a day; per client (an IPv4 address, an IPv6 /64):
  CSKH_OTP_PER_ADDRESS_HOUR codes an hour and 20 wrong codes an hour; per /24 or /64
  network: CSKH_OTP_PER_NETWORK_HOUR;
- all SMS together: CSKH_SMS_PER_MINUTE and CSKH_SMS_PER_DAY (the bot then offers
  e-mail or asks to try later), with a warning at 80 %.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.auth import audit, guard
from bot.auth.guard import Requester
from bot.auth.providers import DeliveryError, Outgoing, Senders
from bot.core import metrics, phones
from bot.core.clock import Clock
from bot.store.db import AFTER_COMMIT, Database
from bot.store.models import OtpCode

log = logging.getLogger(__name__)

CODE_TTL = timedelta(minutes=5)
RESEND_AFTER = timedelta(seconds=60)
PER_REQUESTER_PER_HOUR = 5  # codes for one phone asked from one chat, or one network
PER_PHONE_PER_HOUR = 20  # codes for one phone from everywhere: past 4 networks' worth
PER_USER_PER_DAY = 10  # codes one chat asks, whatever the phones
WRONG_PER_REQUESTER = 5  # then that chat is locked out of that phone
WRONG_PER_ADDRESS = 20  # an hour, from one client address
WRONG_PER_PHONE = 50  # an hour, from every chat together: then the phone is locked
WINDOW = timedelta(hours=1)
BUDGET_ALERT = 0.8  # share of the SMS budget at which operators are warned


class Sent(StrEnum):
    SENT = "sent"  # or silently not sent: the answer is the same
    WAIT = "wait"  # the last code for this phone from this chat is less than 60 s old
    RATE_LIMITED = "rate_limited"
    LOCKED = "locked"
    BUSY = "busy"  # the SMS budget of the minute or the day is spent


class Checked(StrEnum):
    OK = "ok"
    WRONG = "wrong"  # wrong, expired, used or never sent: all look the same
    LOCKED = "locked"


@dataclass(frozen=True)
class SendResult:
    outcome: Sent
    wait_seconds: int = 0
    locked_until: datetime | None = None


@dataclass(frozen=True)
class CheckResult:
    outcome: Checked
    attempts_left: int = 0
    locked_until: datetime | None = None
    target: str | None = None


@dataclass(frozen=True)
class CodeMessage:
    """What to send, in the customer's language (texts come from domain.yml)."""

    sms: str  # with {code}
    email_subject: str
    email_body: str  # with {code}


@dataclass(frozen=True)
class OtpLimits:
    """The limits an operator sets (CSKH_SMS_PER_MINUTE and friends)."""

    sms_per_minute: int = 20
    sms_per_day: int = 2000
    per_address_hour: int = 10
    per_network_hour: int = 30


@dataclass(frozen=True)
class Undelivered:
    """A code the gateway refused after the customer was told it was sent."""

    chat_user_id: int
    delivery: str  # sms | email
    purpose: str


class OtpService:
    """Issues and checks one-time codes in the caller's transaction; the codes
    themselves leave after it commits."""

    def __init__(
        self,
        secret: bytes,
        clock: Clock,
        senders: Senders,
        db: Database,
        limits: OtpLimits | None = None,
    ) -> None:
        self._secret = secret
        self.clock = clock
        self.senders = senders
        self.db = db
        self.limits = limits or OtpLimits()
        # Told when a code could not be delivered (the handlers push the customer a way on).
        self.on_undelivered: Callable[[Undelivered], Awaitable[None]] | None = None
        self._sending: set[asyncio.Task[None]] = set()
        self._alerted: dict[str, datetime] = {}  # budget window -> when we last warned

    def _digest(self, phone: str, purpose: str, code: str) -> str:
        message = f"otp|{phone}|{purpose}|{code}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()

    # --- sending --------------------------------------------------------------------------

    async def send(
        self,
        session: AsyncSession,
        *,
        phone: str,
        purpose: str,
        delivery: str,
        requester: Requester,
        address: str | None,
        text: CodeMessage,
        target: str | None = None,
    ) -> SendResult:
        """Issue a code for `phone` to be sent by `delivery` ("sms", "email" or "zalo":
        ZNS to the phone's Zalo account) to `address` (the phone or the contract's
        e-mail) once this transaction commits; with no address nothing is sent,
        silently, after the very same steps."""
        now = self.clock.now()
        # Every code request in turn: the counts below must not race (PostgreSQL; SQLite
        # has one writer anyway). Requests are rare enough for one queue.
        await guard.serialise(session, "otp-send")
        refusal = await self._refusal(session, phone, delivery, requester, now)
        if refusal is not None:
            return self._counted(refusal)
        mine = (OtpCode.subject == phone) & (OtpCode.chat_user_id == requester.chat_user_id)
        # This chat's older codes for the phone stop working; another chat's do not (a
        # stranger asking for the owner's phone must not spoil the owner's code).
        await session.execute(
            update(OtpCode)
            .where(mine, OtpCode.purpose == purpose, OtpCode.used_at.is_(None))
            .values(used_at=now)
        )
        code = f"{secrets.randbelow(1_000_000):06d}"
        row = OtpCode(
            subject=phone,
            purpose=purpose,
            target=target,
            delivery=delivery,
            code_hash=self._digest(phone, purpose, code) if address else None,
            chat_user_id=requester.chat_user_id,
            client_address=requester.client,
            client_network=requester.network,
            created_at=now,
            expires_at=now + CODE_TTL,
        )
        session.add(row)
        audit.record(
            session,
            "otp_requested",
            chat_user_id=requester.chat_user_id,
            subject=phones.masked(phone),
            delivery=delivery,
            purpose=purpose,
        )
        await session.flush()  # the row's id, for the known and the unknown phone alike
        if address is not None:
            message = _message(delivery, address, text, code)
            job = _Job(row.id, message, requester.chat_user_id, purpose, phones.masked(phone))
            session.info.setdefault(AFTER_COMMIT, []).append(lambda: self._start(job))
        return self._counted(SendResult(Sent.SENT))

    async def _refusal(
        self,
        session: AsyncSession,
        phone: str,
        delivery: str,
        requester: Requester,
        now: datetime,
    ) -> SendResult | None:
        """Why no code may be sent now (a lock, the minute's wait, a limit, the budget),
        or None when it may."""
        for subject in (_requester_subject(phone, requester), _phone_subject(phone)):
            until = await guard.locked_until(session, subject, now)
            if until is not None:
                return SendResult(Sent.LOCKED, locked_until=until)
        mine = (OtpCode.subject == phone) & (OtpCode.chat_user_id == requester.chat_user_id)
        last = await session.scalar(
            select(func.max(OtpCode.created_at)).where(mine, OtpCode.failed.is_(False))
        )
        if last is not None and now - last < RESEND_AFTER:
            wait = int((RESEND_AFTER - (now - last)).total_seconds()) + 1
            return SendResult(Sent.WAIT, wait_seconds=wait)
        refused_by = await self._refusing_limit(session, phone, requester, now)
        if refused_by is not None:
            self._refuse(session, requester, phone, refused_by)
            return SendResult(Sent.RATE_LIMITED)
        if delivery == "sms" and not await self._within_budget(session, now):
            self._refuse(session, requester, phone, "sms_budget")
            return SendResult(Sent.BUSY)
        return None

    async def _refusing_limit(
        self, session: AsyncSession, phone: str, requester: Requester, now: datetime
    ) -> str | None:
        """The name of the first limit this request would pass, or None."""
        hour, day = now - WINDOW, now - timedelta(days=1)
        mine = (OtpCode.subject == phone) & (OtpCode.chat_user_id == requester.chat_user_id)
        checks: list[tuple[str, ColumnElement[bool], datetime, int]] = [
            ("requester", mine, hour, PER_REQUESTER_PER_HOUR),
            ("chat", OtpCode.chat_user_id == requester.chat_user_id, day, PER_USER_PER_DAY),
        ]
        if requester.client is not None:
            checks.append(
                (
                    "address",
                    OtpCode.client_address == requester.client,
                    hour,
                    self.limits.per_address_hour,
                )
            )
        if requester.network is not None:
            network = OtpCode.client_network == requester.network
            checks += [
                ("network", network, hour, self.limits.per_network_hour),
                # New chats from one network spend only that network's share of a phone.
                (
                    "phone_network",
                    network & (OtpCode.subject == phone),
                    hour,
                    PER_REQUESTER_PER_HOUR,
                ),
            ]
        checks.append(("phone", OtpCode.subject == phone, hour, PER_PHONE_PER_HOUR))
        for name, condition, since, limit in checks:
            if await _count(session, condition, since) >= limit:
                if name in ("network", "phone"):  # many identities at work: tell someone
                    log.warning(
                        "one-time codes refused: the per-%s limit (%s an hour) is reached "
                        "(phone %s, chat user %s)",
                        name,
                        limit,
                        phones.masked(phone),
                        requester.chat_user_id,
                    )
                return name
        return None

    async def _within_budget(self, session: AsyncSession, now: datetime) -> bool:
        """Whether one more SMS fits the minute's and the day's budget; warns operators
        when a budget passes 80 % or runs out (once per window)."""
        sms = OtpCode.delivery == "sms"
        used = {
            "minute": (await _count(session, sms, now - timedelta(minutes=1)), "sms_per_minute"),
            "day": (await _count(session, sms, now - timedelta(days=1)), "sms_per_day"),
        }
        fits = True
        for window, (count, setting) in used.items():
            budget = getattr(self.limits, setting)
            ratio = min(1.0, (count + 1) / budget)
            metrics.SMS_BUDGET_USED.labels(window).set(ratio)
            if count >= budget:
                fits = False
            if count + 1 >= budget * BUDGET_ALERT:
                self._alert(window, count + 1 if count < budget else count, budget, now)
        return fits

    def _alert(self, window: str, used: int, budget: int, now: datetime) -> None:
        every = timedelta(minutes=1) if window == "minute" else timedelta(hours=1)
        last = self._alerted.get(window)
        if last is not None and now - last < every:
            return
        self._alerted[window] = now
        metrics.SMS_BUDGET_ALERTS.inc()
        log.warning(
            "SMS budget of the %s is being eaten: %s of %s used (CSKH_SMS_PER_%s); "
            "past it, customers are offered e-mail or asked to try later",
            window,
            used,
            budget,
            window.upper(),
        )

    def _refuse(self, session: AsyncSession, requester: Requester, phone: str, limit: str) -> None:
        metrics.OTP_REFUSED.labels(limit).inc()
        audit.record(
            session,
            "otp_refused",
            chat_user_id=requester.chat_user_id,
            subject=phones.masked(phone),
            reason=limit,
        )

    @staticmethod
    def _counted(result: SendResult) -> SendResult:
        metrics.OTP_REQUESTS.labels(str(result.outcome)).inc()
        return result

    # --- the background send ----------------------------------------------------------------

    def _start(self, job: _Job) -> None:
        task = asyncio.get_running_loop().create_task(self._deliver(job), name="otp-send")
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def _deliver(self, job: _Job) -> None:
        message = job.message
        senders = {"sms": self.senders.sms, "email": self.senders.email}
        sender = senders.get(message.kind, self.senders.zalo)
        try:
            try:
                if sender is None:  # the Zalo OA stopped offering ZNS meanwhile
                    raise DeliveryError(f"no sender for {message.kind}")
                await sender.send(message)
            except DeliveryError as error:
                await self._record_failure(job, str(error))
                if self.on_undelivered is not None:
                    await self.on_undelivered(
                        Undelivered(job.chat_user_id, message.kind, job.purpose)
                    )
                return
            async with self.db.transaction() as session:
                audit.record(
                    session,
                    "otp_sent",
                    chat_user_id=job.chat_user_id,
                    subject=job.masked,
                    delivery=message.kind,
                    purpose=job.purpose,
                )
        except Exception:  # a background task has nobody to raise to
            log.exception("sending a one-time code for chat user %s failed", job.chat_user_id)

    async def _record_failure(self, job: _Job, error: str) -> None:
        async with self.db.transaction() as session:
            row = await session.get(OtpCode, job.row_id)
            if row is not None:
                row.code_hash = None  # never delivered: it cannot be entered
                row.failed = True  # and it neither counts toward the wait nor the budget
            audit.record(
                session,
                "otp_failed",
                chat_user_id=job.chat_user_id,
                subject=job.masked,
                delivery=job.message.kind,
                error=error[:200],
            )

    async def drain(self, seconds: float | None = None) -> None:
        """Wait for the codes still on their way (at shutdown; tests), at most `seconds`
        seconds: a gateway that hangs must not hold a shutdown for ever."""
        try:
            async with asyncio.timeout(seconds):
                while self._sending:
                    await asyncio.gather(*list(self._sending), return_exceptions=True)
        except TimeoutError:
            log.warning("%s one-time codes still unsent at shutdown", len(self._sending))
            for task in list(self._sending):
                task.cancel()

    # --- checking ----------------------------------------------------------------------------

    async def check(
        self,
        session: AsyncSession,
        *,
        phone: str,
        purpose: str,
        code: str,
        requester: Requester,
    ) -> CheckResult:
        """Check a typed code; a right one is used up, a wrong one counts toward the
        locks of this chat (for this phone), of its address and of the phone."""
        now = self.clock.now()
        own = _requester_subject(phone, requester)
        shared = [_phone_subject(phone)]
        if requester.client is not None:
            shared.append(_address_subject(requester.client))
        await guard.serialise(session, own, *shared)  # counting and using up: one at a time
        for subject in (own, *shared):
            until = await guard.locked_until(session, subject, now)
            if until is not None:
                return CheckResult(Checked.LOCKED, locked_until=until)
        candidate = await session.scalar(
            select(OtpCode)
            .where(
                OtpCode.subject == phone,
                OtpCode.purpose == purpose,
                OtpCode.chat_user_id == requester.chat_user_id,
                OtpCode.used_at.is_(None),
                OtpCode.expires_at > now,
                OtpCode.code_hash.is_not(None),
            )
            .order_by(OtpCode.created_at.desc())
            .limit(1)
        )
        typed = "".join(code.split())
        expected = candidate.code_hash if candidate else None
        # Compare in constant time even when there is nothing to compare with.
        matches = hmac.compare_digest(self._digest(phone, purpose, typed), expected or "0" * 64)
        if candidate is not None and matches:
            candidate.used_at = now
            await guard.clear(session, own)
            return CheckResult(Checked.OK, target=candidate.target)
        audit.record(
            session,
            "login_failure",
            chat_user_id=requester.chat_user_id,
            subject=phones.masked(phone),
            method="otp",
        )
        locked = await self._count_wrong(session, phone, requester, now)
        if locked is not None:
            return CheckResult(Checked.LOCKED, locked_until=locked)
        left = await guard.failures_left(session, own, WRONG_PER_REQUESTER)
        return CheckResult(Checked.WRONG, attempts_left=left)

    async def _count_wrong(
        self, session: AsyncSession, phone: str, requester: Requester, now: datetime
    ) -> datetime | None:
        """Count a wrong code against the chat, its address and the phone; the end of
        the lock it earned this chat, if any."""
        masked = phones.masked(phone)
        scopes: list[tuple[str, str, int, timedelta | None]] = [
            ("requester", _requester_subject(phone, requester), WRONG_PER_REQUESTER, None),
            ("phone", _phone_subject(phone), WRONG_PER_PHONE, WINDOW),
        ]
        if requester.client is not None:
            scopes.append(
                ("address", _address_subject(requester.client), WRONG_PER_ADDRESS, WINDOW)
            )
        earned: datetime | None = None
        for scope, subject, limit, window in scopes:
            until = await guard.record_failure(session, subject, now, limit=limit, window=window)
            if until is None:
                continue
            earned = until
            metrics.LOCKOUTS.labels(f"otp_{scope}").inc()
            audit.record(
                session,
                "lockout",
                chat_user_id=requester.chat_user_id,
                subject=masked,
                scope=scope,
                until=until.isoformat(),
            )
            if scope != "requester":  # many chats at one phone, or one address at many
                log.warning(
                    "one-time code checks locked per %s until %s (phone %s, address %s)",
                    scope,
                    until.isoformat(),
                    masked,
                    requester.address,
                )
        return earned


@dataclass(frozen=True)
class _Job:
    row_id: int
    message: Outgoing
    chat_user_id: int
    purpose: str
    masked: str


def _message(delivery: str, address: str, text: CodeMessage, code: str) -> Outgoing:
    if delivery == "sms":
        return Outgoing("sms", address, text.sms.format(code=code))
    if delivery == "zalo":  # the ZNS template holds the words; only the code goes
        return Outgoing("zalo", address, code)
    return Outgoing("email", address, text.email_body.format(code=code), text.email_subject)


def _requester_subject(phone: str, requester: Requester) -> str:
    return f"otp:{phone}|chat:{requester.chat_user_id}"


def _phone_subject(phone: str) -> str:
    return f"otp:{phone}"


def _address_subject(address: str) -> str:
    return f"otp-addr:{address}"


async def _count(session: AsyncSession, condition: ColumnElement[bool], since: datetime) -> int:
    total = await session.scalar(
        select(func.count())
        .select_from(OtpCode)
        .where(condition, OtpCode.created_at > since, OtpCode.failed.is_(False))
    )
    return int(total or 0)
