"""One-time codes: 6 digits from a CSPRNG, kept as an HMAC, valid 5 minutes, single use.

Limits (protection against guessing and SMS pumping): 5 wrong entries lock the phone
for 15 minutes; a new code only 60 s after the last; at most 5 codes per phone per
hour and 10 per chat user per day. A request for a phone that is on no contract is
recorded and answered exactly like one that is, so answers reveal nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.auth import audit, guard
from bot.auth.providers import DeliveryError, Outgoing, Senders
from bot.core.clock import Clock
from bot.core.fmt import mask_phone
from bot.store.models import OtpCode

CODE_TTL = timedelta(minutes=5)
RESEND_AFTER = timedelta(seconds=60)
PER_PHONE_PER_HOUR = 5
PER_USER_PER_DAY = 10


class Sent(StrEnum):
    SENT = "sent"  # or silently not sent: the answer is the same
    WAIT = "wait"  # the last code is less than 60 s old
    RATE_LIMITED = "rate_limited"
    LOCKED = "locked"
    DELIVERY_FAILED = "delivery_failed"


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


class OtpService:
    """Issues and checks one-time codes; every call runs in the caller's transaction."""

    def __init__(self, secret: bytes, clock: Clock, senders: Senders) -> None:
        self._secret = secret
        self.clock = clock
        self.senders = senders

    def _digest(self, phone: str, purpose: str, code: str) -> str:
        message = f"otp|{phone}|{purpose}|{code}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()

    @staticmethod
    def _guard_subject(phone: str) -> str:
        return f"otp:{phone}"

    async def send(
        self,
        session: AsyncSession,
        *,
        phone: str,
        purpose: str,
        delivery: str,
        chat_user_id: int,
        address: str | None,
        text: CodeMessage,
        target: str | None = None,
    ) -> SendResult:
        """Send a code for `phone` by `delivery` ("sms" or "email") to `address` (the
        phone or the contract's e-mail); with no address nothing is sent, silently."""
        now = self.clock.now()
        subject = mask_phone(phone)
        await guard.serialise(session, self._guard_subject(phone))
        until = await guard.locked_until(session, self._guard_subject(phone), now)
        if until is not None:
            return SendResult(Sent.LOCKED, locked_until=until)
        # One code a minute to a phone, whatever it is for; a message the gateway refused
        # does not hold the customer back from another way.
        last = await session.scalar(
            select(func.max(OtpCode.created_at)).where(
                OtpCode.subject == phone, OtpCode.failed.is_(False)
            )
        )
        if last is not None and now - last < RESEND_AFTER:
            wait = int((RESEND_AFTER - (now - last)).total_seconds()) + 1
            return SendResult(Sent.WAIT, wait_seconds=wait)
        per_phone = await self._count(session, OtpCode.subject == phone, now - timedelta(hours=1))
        per_user = await self._count(
            session, OtpCode.chat_user_id == chat_user_id, now - timedelta(days=1)
        )
        if per_phone >= PER_PHONE_PER_HOUR or per_user >= PER_USER_PER_DAY:
            audit.record(
                session,
                "otp_refused",
                chat_user_id=chat_user_id,
                subject=subject,
                reason="rate limit",
            )
            return SendResult(Sent.RATE_LIMITED)
        # Older codes stop working once a new one is issued.
        await session.execute(
            update(OtpCode)
            .where(OtpCode.subject == phone, OtpCode.purpose == purpose, OtpCode.used_at.is_(None))
            .values(used_at=now)
        )
        code = f"{secrets.randbelow(1_000_000):06d}"
        row = OtpCode(
            subject=phone,
            purpose=purpose,
            target=target,
            delivery=delivery,
            code_hash=self._digest(phone, purpose, code) if address else None,
            chat_user_id=chat_user_id,
            created_at=now,
            expires_at=now + CODE_TTL,
        )
        session.add(row)
        if address is None:
            return SendResult(Sent.SENT)
        message = (
            Outgoing("sms", address, text.sms.format(code=code))
            if delivery == "sms"
            else Outgoing("email", address, text.email_body.format(code=code), text.email_subject)
        )
        sender = self.senders.sms if delivery == "sms" else self.senders.email
        try:
            await sender.send(message, session)
        except DeliveryError as error:
            row.code_hash = None  # never delivered: it cannot be entered
            row.failed = True
            audit.record(
                session,
                "otp_failed",
                chat_user_id=chat_user_id,
                subject=subject,
                delivery=delivery,
                error=str(error)[:200],
            )
            return SendResult(Sent.DELIVERY_FAILED)
        audit.record(
            session,
            "otp_sent",
            chat_user_id=chat_user_id,
            subject=subject,
            delivery=delivery,
            purpose=purpose,
        )
        return SendResult(Sent.SENT)

    async def _count(
        self, session: AsyncSession, condition: ColumnElement[bool], since: datetime
    ) -> int:
        total = await session.scalar(
            select(func.count()).select_from(OtpCode).where(condition, OtpCode.created_at > since)
        )
        return int(total or 0)

    async def check(
        self, session: AsyncSession, *, phone: str, purpose: str, code: str, chat_user_id: int
    ) -> CheckResult:
        """Check a typed code; a right one is used up, a wrong one counts toward the lock."""
        now = self.clock.now()
        subject = self._guard_subject(phone)
        await guard.serialise(session, subject)  # counting and using up a code: one at a time
        until = await guard.locked_until(session, subject, now)
        if until is not None:
            return CheckResult(Checked.LOCKED, locked_until=until)
        candidate = await session.scalar(
            select(OtpCode)
            .where(
                OtpCode.subject == phone,
                OtpCode.purpose == purpose,
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
            await guard.clear(session, subject)
            return CheckResult(Checked.OK, target=candidate.target)
        locked = await guard.record_failure(session, subject, now)
        audit.record(
            session,
            "login_failure",
            chat_user_id=chat_user_id,
            subject=mask_phone(phone),
            method="otp",
        )
        if locked is not None:
            audit.record(
                session,
                "lockout",
                chat_user_id=chat_user_id,
                subject=mask_phone(phone),
                until=locked.isoformat(),
            )
            return CheckResult(Checked.LOCKED, locked_until=locked)
        return CheckResult(Checked.WRONG, attempts_left=await guard.failures_left(session, subject))
