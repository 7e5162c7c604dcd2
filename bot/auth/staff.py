"""Staff accounts of the console and their roles (issue 14).

A role says what a staff member may see and do; the console checks it on every route.
Passwords are argon2id hashes (bot/auth/passwords.py); a disabled account keeps its row
(its name stays on the audit log and on what it handled) but can no longer sign in.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.auth.passwords import hash_secret, verify_secret
from bot.store.staff_models import StaffAccount

# What each role is for; the console's route table grants access by these names.
ROLES: dict[str, str] = {
    "agent": "support agent: conversations, handoffs, service requests, replies to notices",
    "supervisor": "an agent's work plus canned replies, the dashboard and security events",
    "operations": "planned outages and incidents: publish, update, restore",
    "marketing": "broadcasts: compose, segment, send, watch",
    "admin": "everything, staff accounts included",
}
USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{2,59}$")
MIN_PASSWORD = 10


class StaffError(ValueError):
    """A staff account that cannot be made or changed as asked (said in plain words)."""


def check_username(username: str) -> str:
    """The username as stored: lower-case letters, digits, '.', '_' or '-', 3-60 long."""
    name = unicodedata.normalize("NFC", username).strip().lower()
    if not USERNAME.match(name):
        raise StaffError(
            "a username is 3 to 60 characters: lower-case letters without diacritics, "
            "digits, '.', '_' or '-', starting with a letter or digit"
        )
    return name


def check_password(password: str) -> None:
    """A staff password guards customers' data: at least 10 characters, with letters
    and digits."""
    if len(password) < MIN_PASSWORD or not (
        re.search(r"\d", password) and re.search(r"[^\W\d_]", password)
    ):
        raise StaffError(
            f"a staff password needs at least {MIN_PASSWORD} characters, letters and digits"
        )


async def find(session: AsyncSession, username: str) -> StaffAccount | None:
    return await session.scalar(
        select(StaffAccount).where(StaffAccount.username == username.strip().lower())
    )


async def add_staff(
    session: AsyncSession,
    username: str,
    role: str,
    password: str,
    *,
    display_name: str | None = None,
    now: datetime,
) -> StaffAccount:
    """A new staff account, in the caller's transaction.

    Raises:
        StaffError: a bad username, role or password, or a username already taken.
    """
    name = check_username(username)
    if role not in ROLES:
        raise StaffError(f"unknown role {role!r}: one of {', '.join(ROLES)}")
    check_password(password)
    if await find(session, name) is not None:
        raise StaffError(f"the username {name!r} is taken")
    account = StaffAccount(
        username=name,
        display_name=(display_name or name).strip()[:120] or name,
        role=role,
        password_hash=await hash_secret(password),
        created_at=now,
        password_changed_at=now,
    )
    session.add(account)
    return account


async def list_staff(session: AsyncSession) -> Sequence[StaffAccount]:
    """Every account, enabled ones first, by role and username."""
    rows = await session.scalars(
        select(StaffAccount).order_by(
            StaffAccount.disabled, StaffAccount.role, StaffAccount.username
        )
    )
    return rows.all()


async def disable_staff(session: AsyncSession, username: str) -> StaffAccount:
    """Stop an account from signing in (its row and its name on past work stay).

    Raises:
        StaffError: no such account.
    """
    account = await find(session, username)
    if account is None:
        raise StaffError(f"no staff account {username.strip().lower()!r}")
    account.disabled = True
    return account


async def authenticate(
    session: AsyncSession, username: str, password: str, *, now: datetime
) -> StaffAccount | None:
    """The enabled account whose password this is, or None (unknown user, wrong
    password and disabled account answer alike). A hash is checked even for an unknown
    user (verify_secret's dummy), so the time taken tells nothing."""
    account = await find(session, username)
    hashed = account.password_hash if account is not None else None
    if not await verify_secret(hashed, password) or account is None or account.disabled:
        return None
    account.last_login_at = now
    return account
