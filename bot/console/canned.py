"""Canned replies: ready answers agents insert in one click; supervisors keep them.
{name} and {customer_code} are filled in with the customer's when inserted."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import select

from bot.auth.audit import record_staff
from bot.console.access import LEADS, Pages
from bot.console.base import console_of, int_or_none, redirect, staff_of
from bot.store.staff_models import CannedReply

pages = Pages()

TITLE_MAX = 80
TEXT_MAX = 2000


@pages.get("/console/canned", LEADS)
async def canned_page(request: web.Request) -> web.StreamResponse:
    return await _listing(request)


async def _listing(request: web.Request, *, error: str | None = None) -> web.StreamResponse:
    console = console_of(request)
    async with console.services.db.reading() as session:
        replies = list(await session.scalars(select(CannedReply).order_by(CannedReply.title)))
    return console.render(
        request, "canned.html", replies=replies, error=error, status=400 if error else 200
    )


@pages.post("/console/canned", LEADS)
async def save_canned(request: web.Request) -> web.StreamResponse:
    """Add a canned reply, or change one (`id` given)."""
    console, staff = console_of(request), staff_of(request)
    form = await request.post()
    title = str(form.get("title", "")).strip()
    text = str(form.get("text", "")).strip()
    if not title or not text:
        return await _listing(request, error="Câu trả lời mẫu cần tiêu đề và nội dung.")
    if len(title) > TITLE_MAX or len(text) > TEXT_MAX:
        return await _listing(
            request, error=f"Tiêu đề tối đa {TITLE_MAX} ký tự, nội dung tối đa {TEXT_MAX} ký tự."
        )
    reply_id = int_or_none(str(form.get("id", "")))
    async with console.services.db.transaction() as session:
        row = await session.get(CannedReply, reply_id) if reply_id else None
        if row is None:
            row = CannedReply(title=title, text=text, updated_by=staff.username)
            session.add(row)
        row.title, row.text = title, text
        row.updated_by, row.updated_at = staff.username, console.now
        record_staff(session, "canned_saved", staff.username, subject=title)
    return redirect("/console/canned")


@pages.post("/console/canned/{reply_id:\\d+}/delete", LEADS)
async def delete_canned(request: web.Request) -> web.StreamResponse:
    console, staff = console_of(request), staff_of(request)
    reply_id = int_or_none(request.match_info["reply_id"])
    async with console.services.db.transaction() as session:
        row = await session.get(CannedReply, reply_id) if reply_id else None
        if row is not None:
            record_staff(session, "canned_deleted", staff.username, subject=row.title)
            await session.delete(row)
    return redirect("/console/canned")
