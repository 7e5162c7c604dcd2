"""The security audit log (staff read it; it outlives a customer's data deletion)."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.store.models import SecurityEvent

log = logging.getLogger(__name__)

EVENTS = frozenset(
    {
        "consent_accepted",
        "activation",
        "login_success",
        "login_failure",
        "otp_requested",
        "otp_sent",
        "otp_failed",
        "otp_refused",
        "lockout",
        "pin_set",
        "pin_changed",
        "pin_removed",
        "pin_failed",
        "pin_lockout",
        "code_linked",
        "code_unlinked",
        "default_code",
        "logout",
        "logout_everywhere",
        "data_deleted",
        "password_reset",
    }
)


def record(
    session: AsyncSession,
    event: str,
    *,
    chat_user_id: int | None = None,
    subject: str | None = None,
    **details: Any,
) -> None:
    """Add an event to the audit log in the caller's transaction. Never pass a secret."""
    if event not in EVENTS:
        raise ValueError(f"unknown security event {event!r}")
    session.add(
        SecurityEvent(chat_user_id=chat_user_id, event=event, subject=subject, details=details)
    )
    log.info("security event %s (chat user %s, %s)", event, chat_user_id, subject)
