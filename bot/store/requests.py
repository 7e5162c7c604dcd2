"""Service requests: created when a form is submitted, moved along their lifecycle by
staff (the `cskh requests` command now, the console later: both call this module).

Lifecycle: received (tiếp nhận) → in_progress (đang xử lý) → done (hoàn thành), or
rejected (từ chối, with a reason), or needs_info (chờ bổ sung: the customer is asked
for a missing document and answers in the chat). Every step is kept as an event.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.store.models import ServiceRequest, ServiceRequestEvent

STATUSES = ("received", "in_progress", "needs_info", "done", "rejected")
OPEN_STATUSES = ("received", "in_progress", "needs_info")


class RequestError(ValueError):
    """A status change that cannot be made (unknown code or status, missing reason).

    `reason` names the case for callers that explain it in their own words (the
    console): unknown_status, unknown_request, note_needed, unchanged, no_code.
    """

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


async def _next_code(session: AsyncSession, year: int) -> str:
    prefix = f"YC-{year}-"
    last = await session.scalar(
        select(func.max(ServiceRequest.code)).where(ServiceRequest.code.like(f"{prefix}%"))
    )
    number = int(last.removeprefix(prefix)) + 1 if last else 1
    return f"{prefix}{number:06d}"


async def create_request(
    session: AsyncSession,
    *,
    chat_user_id: int,
    form_id: str,
    customer_code: str | None,
    data: dict[str, Any],
    attachments: list[dict[str, Any]],
    urgent: bool,
    now: datetime,
    due_on: date | None = None,
) -> ServiceRequest:
    """Store a submitted form under a new code such as YC-2026-000123; `due_on` is the
    date promised to the customer (working days; None for urgent reports, promised in
    hours)."""
    for _ in range(5):  # two processes may pick the same next number: the second retries
        code = await _next_code(session, now.year)
        request = ServiceRequest(
            code=code,
            chat_user_id=chat_user_id,
            customer_code=customer_code,
            type=form_id,
            data=data,
            attachments=attachments,
            status="received",
            urgent=urgent,
            due_on=due_on,
            created_at=now,
            updated_at=now,
        )
        request.events = [ServiceRequestEvent(status="received", actor="customer", created_at=now)]
        try:
            async with session.begin_nested():
                session.add(request)
        except IntegrityError:
            continue
        return request
    raise RequestError("could not allocate a request code", "no_code")


async def get_request(session: AsyncSession, code: str) -> ServiceRequest | None:
    return await session.scalar(
        select(ServiceRequest).where(ServiceRequest.code == code.strip().upper())
    )


async def list_requests(
    session: AsyncSession,
    *,
    status: str | None = None,
    chat_user_id: int | None = None,
    limit: int = 50,
) -> list[ServiceRequest]:
    """Newest first; urgent ones first among the open."""
    query = select(ServiceRequest)
    if status is not None:
        query = query.where(ServiceRequest.status == status)
    if chat_user_id is not None:
        query = query.where(ServiceRequest.chat_user_id == chat_user_id)
    query = query.order_by(ServiceRequest.urgent.desc(), ServiceRequest.created_at.desc())
    return list(await session.scalars(query.limit(limit)))


async def set_status(
    session: AsyncSession,
    code: str,
    status: str,
    *,
    note: str | None,
    actor: str,
    now: datetime,
) -> ServiceRequest:
    """Move a request to `status`, keeping the step in its history.

    Raises:
        RequestError: unknown request or status, a rejection or a request for more
            information without a note saying why or what, or the status it already has.
    """
    if status not in STATUSES:
        raise RequestError(
            f"unknown status {status!r}; one of {', '.join(STATUSES)}", "unknown_status"
        )
    request = await get_request(session, code)
    if request is None:
        raise RequestError(f"no service request {code}", "unknown_request")
    if status in ("rejected", "needs_info") and not (note and note.strip()):
        raise RequestError(
            f"status {status} needs --note (the reason, or what is missing)", "note_needed"
        )
    if status == request.status and not note:
        # the customer is not told twice
        raise RequestError(f"{code} is already {status}", "unchanged")
    request.status = status
    request.updated_at = now
    request.events.append(
        ServiceRequestEvent(status=status, note=note, actor=actor, created_at=now)
    )
    return request


def add_customer_reply(
    request: ServiceRequest, *, text: str | None, media_ids: list[str], now: datetime
) -> None:
    """A document or message the customer sent for a request waiting for information."""
    if media_ids:
        request.attachments = [
            *request.attachments,
            *({"type": "photo", "media": m} for m in media_ids),
        ]
    request.updated_at = now
    request.events.append(
        ServiceRequestEvent(
            status=request.status, note=text or None, actor="customer", created_at=now
        )
    )
