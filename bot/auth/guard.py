"""Wrong attempts and the locks they earn (OTP codes, passwords, PINs).

The rule for a subject one person owns (a chat's PIN, a username, a phone asked from one
chat): at most 5 wrong attempts, then it is locked for 15 minutes; a success clears the
count. Subjects many people share (a network address, a phone asked from any chat)
take a higher `limit`, counted within a `window`, so that one attacker cannot lock out
everybody else (issue 12, point 5).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.locks import advisory_key
from bot.core.network import client_key, network_of
from bot.store.models import AuthGuard

MAX_FAILURES = 5
LOCK_FOR = timedelta(minutes=15)


@dataclass(frozen=True)
class Requester:
    """Who makes an attempt: the chat, and its network address where the channel knows
    one (web chat, REST behind a trusted proxy)."""

    chat_user_id: int
    address: str | None = None

    @property
    def client(self) -> str | None:
        """The address as limits count it (an IPv6 address by its /64)."""
        return client_key(self.address)

    @property
    def network(self) -> str | None:
        return network_of(self.address)


async def serialise(session: AsyncSession, *subjects: str) -> None:
    """Let one transaction at a time count attempts on `subjects` (until it ends).

    Without it, two chats guessing the same phone at once on PostgreSQL would each read
    the old count and the lock would never come. SQLite runs one writer at a time anyway.
    Several subjects are locked in one fixed order, so two transactions never wait for
    each other in a circle.
    """
    bind = session.get_bind()
    if bind.dialect.name == "postgresql":
        for subject in sorted(set(subjects)):
            await session.execute(
                text("SELECT pg_advisory_xact_lock(:key)"),
                {"key": advisory_key(f"guard|{subject}")},
            )


async def locked_until(session: AsyncSession, subject: str, now: datetime) -> datetime | None:
    """When the subject's lock ends, or None if it is not locked."""
    guard = await session.get(AuthGuard, subject)
    if guard is not None and guard.locked_until is not None and guard.locked_until > now:
        return guard.locked_until
    return None


async def record_failure(
    session: AsyncSession,
    subject: str,
    now: datetime,
    *,
    limit: int = MAX_FAILURES,
    window: timedelta | None = None,
) -> datetime | None:
    """Count one wrong attempt; the end of the lock when this one earns it, else None.
    With a `window`, the count starts again once the window since its first attempt has
    passed ("50 an hour" means 50 within one hour)."""
    guard = await session.get(AuthGuard, subject)
    if guard is None:
        guard = AuthGuard(subject=subject, failures=0, updated_at=now, window_start=now)
        session.add(guard)
    elif guard.locked_until is not None and guard.locked_until <= now:
        guard.failures, guard.locked_until = 0, None  # the old lock has run out
        guard.window_start = now
    elif window is not None and now - (guard.window_start or guard.updated_at) > window:
        guard.failures, guard.window_start = 0, now
    guard.failures += 1
    guard.updated_at = now
    if guard.failures >= limit:
        guard.locked_until = now + LOCK_FOR
        return guard.locked_until
    return None


async def failures_left(session: AsyncSession, subject: str, limit: int = MAX_FAILURES) -> int:
    guard = await session.get(AuthGuard, subject)
    return max(0, limit - (guard.failures if guard else 0))


async def clear(session: AsyncSession, subject: str) -> None:
    guard = await session.get(AuthGuard, subject)
    if guard is not None:
        await session.delete(guard)
