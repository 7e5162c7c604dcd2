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
# What staff do in the console (issue 14), kept with the staff member's username.
STAFF_EVENTS = frozenset(
    {
        "staff_login",
        "staff_login_failed",
        "staff_login_throttled",
        "staff_logout",
        "staff_session_expired",
        "handoff_taken",
        "handoff_transferred",
        "handoff_resolved",
        "staff_reply",
        "staff_note",
        "canned_saved",
        "faq_saved",
        "faq_deleted",
        "canned_deleted",
        "request_status",
        "request_assigned",
        "request_fee_set",
        "payment_resolved",
        "inbox_answered",
        "outage_published",
        "outage_updated",
        "outage_restored",
        "incident_confirm",
        "incident_dismiss",
        "incident_restored",
        "broadcast_created",
        "broadcast_started",
        "broadcast_paused",
        "export",
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


def record_staff(
    session: AsyncSession,
    event: str,
    actor: str,
    *,
    subject: str | None = None,
    chat_user_id: int | None = None,
    **details: Any,
) -> None:
    """Add what a staff member did (`actor`: their username) to the audit log, in the
    caller's transaction: it is kept exactly when the action is."""
    if event not in STAFF_EVENTS:
        raise ValueError(f"unknown staff event {event!r}")
    session.add(
        SecurityEvent(
            chat_user_id=chat_user_id,
            event=event,
            subject=subject and subject[:100],
            actor=actor[:60],
            details=details,
        )
    )
    log.info("staff event %s by %s (%s)", event, actor, subject)
