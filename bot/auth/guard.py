"""Wrong attempts and the locks they earn (OTP codes, passwords, PINs).

One rule everywhere: at most 5 wrong attempts, then the subject (a phone, a username,
a chat's PIN) is locked for 15 minutes. A success clears the count.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.locks import advisory_key
from bot.store.models import AuthGuard

MAX_FAILURES = 5
LOCK_FOR = timedelta(minutes=15)


async def serialise(session: AsyncSession, subject: str) -> None:
    """Let one transaction at a time count attempts on `subject` (until it ends).

    Without it, two chats guessing the same phone at once on PostgreSQL would each read
    the old count and the lock would never come. SQLite runs one writer at a time anyway.
    """
    bind = session.get_bind()
    if bind.dialect.name == "postgresql":
        await session.execute(
            text("SELECT pg_advisory_xact_lock(:key)"), {"key": advisory_key(f"guard|{subject}")}
        )


async def locked_until(session: AsyncSession, subject: str, now: datetime) -> datetime | None:
    """When the subject's lock ends, or None if it is not locked."""
    guard = await session.get(AuthGuard, subject)
    if guard is not None and guard.locked_until is not None and guard.locked_until > now:
        return guard.locked_until
    return None


async def record_failure(session: AsyncSession, subject: str, now: datetime) -> datetime | None:
    """Count one wrong attempt; the end of the lock when this one earns it, else None."""
    guard = await session.get(AuthGuard, subject)
    if guard is None:
        guard = AuthGuard(subject=subject, failures=0, updated_at=now)
        session.add(guard)
    elif guard.locked_until is not None and guard.locked_until <= now:
        guard.failures, guard.locked_until = 0, None  # the old lock has run out
    guard.failures += 1
    guard.updated_at = now
    if guard.failures >= MAX_FAILURES:
        guard.locked_until = now + LOCK_FOR
        return guard.locked_until
    return None


async def failures_left(session: AsyncSession, subject: str) -> int:
    guard = await session.get(AuthGuard, subject)
    return MAX_FAILURES - (guard.failures if guard else 0)


async def clear(session: AsyncSession, subject: str) -> None:
    guard = await session.get(AuthGuard, subject)
    if guard is not None:
        await session.delete(guard)
