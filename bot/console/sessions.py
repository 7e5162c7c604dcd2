"""Staff sessions: a random token in an HttpOnly, SameSite=Lax cookie (Secure behind
https), its SHA-256 in the database, a CSRF token per session, and sign-out after
CSKH_CONSOLE_IDLE_MINUTES without a request.

Sessions live in the database, so any `cskh serve` process behind the load balancer
knows them and "sign out" ends them everywhere at once.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, update

from bot.core.clock import Clock
from bot.store.db import Database
from bot.store.staff_models import StaffAccount, StaffSession

COOKIE = "cskh_console"
LOGIN_COOKIE = "cskh_console_login"  # the sign-in form's CSRF token (before a session)
TOUCH_EVERY = timedelta(seconds=60)  # last_seen_at is written at most this often


@dataclass(frozen=True)
class SignedIn:
    """The staff member behind a request."""

    id: int
    username: str
    display_name: str
    role: str
    session_id: str
    csrf: str


class Expired(Exception):
    """The session was idle too long (the page says so on the sign-in form)."""


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class SessionStore:
    """Opens, reads and ends staff sessions."""

    def __init__(self, db: Database, clock: Clock, idle: timedelta) -> None:
        self.db = db
        self.clock = clock
        self.idle = idle

    async def open(self, account: StaffAccount, address: str | None) -> str:
        """A new session for `account`; the cookie's token (never stored)."""
        token = secrets.token_urlsafe(32)
        now = self.clock.now()
        async with self.db.transaction() as session:
            session.add(
                StaffSession(
                    id=_digest(token),
                    staff_id=account.id,
                    csrf=secrets.token_urlsafe(32),
                    address=address,
                    created_at=now,
                    last_seen_at=now,
                )
            )
        return token

    async def load(self, token: str | None, *, touch: bool = True) -> SignedIn | None:
        """The signed-in staff member of `token`, or None. `touch=False` reads without
        counting as activity (a page left open does not keep its session alive).

        Raises:
            Expired: the session existed but was idle too long (it is ended now).
        """
        if not token or len(token) > 100:
            return None
        now = self.clock.now()
        key = _digest(token)
        # Read without the write lock (on SQLite every writer takes turns): most requests
        # only read; the rare write (expiry, the once-a-minute touch) follows apart.
        async with self.db.reading() as session:
            row = await session.get(StaffSession, key)
            account = await session.get(StaffAccount, row.staff_id) if row is not None else None
        if row is None:
            return None
        if account is None or account.disabled or now - row.last_seen_at > self.idle:
            async with self.db.transaction() as session:
                await session.execute(delete(StaffSession).where(StaffSession.id == key))
            if account is not None and not account.disabled:
                raise Expired
            return None
        if touch and now - row.last_seen_at > TOUCH_EVERY:
            async with self.db.transaction() as session:
                await session.execute(
                    update(StaffSession).where(StaffSession.id == key).values(last_seen_at=now)
                )
        return SignedIn(
            account.id, account.username, account.display_name, account.role, row.id, row.csrf
        )

    async def close(self, session_id: str) -> None:
        async with self.db.transaction() as session:
            await session.execute(delete(StaffSession).where(StaffSession.id == session_id))

    async def close_all(self, staff_id: int) -> None:
        """End every session of an account (disabled, or its password changed)."""
        async with self.db.transaction() as session:
            await session.execute(delete(StaffSession).where(StaffSession.staff_id == staff_id))
