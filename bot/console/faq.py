"""The FAQ page (issue 19): supervisors add, edit and remove the entries the bot answers
from. A save goes to the database (faq_entries, over data/faq.yml's entry of the same
id); every bot process picks it up on its next message, without a restart."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bot.auth.audit import record_staff
from bot.console.access import LEADS, Pages
from bot.console.base import console_of, redirect, staff_of
from bot.core.faq import matching
from bot.core.fmt import local
from nlu.faq import FaqEntry, FaqError

pages = Pages()


@pages.get("/console/faq", LEADS)
async def faq_page(request: web.Request) -> web.StreamResponse:
    return await _listing(request)


async def _listing(
    request: web.Request, *, error: str | None = None, draft: dict[str, Any] | None = None
) -> web.StreamResponse:
    console = console_of(request)
    search = request.query.get("q", "").strip()
    async with console.services.db.reading() as session:
        entries = await console.services.faq.entries(session)
    shown = matching(entries, search) if search else entries
    return console.render(
        request,
        "faq.html",
        entries=shown,
        total=len(entries),
        search=search,
        draft=draft or {},
        today=local(console.now).date().isoformat(),
        error=error,
        status=400 if error else 200,
    )


@pages.post("/console/faq", LEADS)
async def save_faq(request: web.Request) -> web.StreamResponse:
    """Add an entry, or replace the one of the same id."""
    console, staff = console_of(request), staff_of(request)
    form = await request.post()
    field = {name: str(form.get(name, "")).strip() for name in _FIELDS}
    try:
        entry = FaqEntry.from_dict(
            {
                "id": field["id"],
                "question": {"vi": field["question_vi"], "en": field["question_en"]},
                "also": [line for line in field["also"].splitlines() if line.strip()],
                "answer": {"vi": field["answer_vi"], "en": field["answer_en"]},
                "source": field["source"],
                "reviewed": field["reviewed"],
                "offer": field["offer"] or None,
            }
        )
    except FaqError as error:
        return await _listing(request, error=f"Chưa lưu được: {error}", draft=field)
    async with console.services.db.transaction() as session:
        await console.services.faq.save(session, entry, staff.username)
        record_staff(session, "faq_saved", staff.username, subject=entry.id)
    return redirect(f"/console/faq#faq-{entry.id}")


@pages.post("/console/faq/{entry_id}/delete", LEADS)
async def delete_faq(request: web.Request) -> web.StreamResponse:
    console, staff = console_of(request), staff_of(request)
    entry_id = request.match_info["entry_id"]
    async with console.services.db.transaction() as session:
        if await console.services.faq.remove(session, entry_id, staff.username):
            record_staff(session, "faq_deleted", staff.username, subject=entry_id)
    return redirect("/console/faq")


_FIELDS = (
    "id",
    "question_vi",
    "question_en",
    "also",
    "answer_vi",
    "answer_en",
    "source",
    "reviewed",
    "offer",
)
