"""Marketing broadcasts (Thông báo quảng bá, issue 14): compose a campaign (a text, an
optional image, a segment with its live recipient count), preview it as a Telegram and a
web chat customer will see it, send it now or at a time, and follow its progress live
(pause, resume).

The code is `cskh campaign`'s (bot/notify/campaigns.py): the console creates and starts
the campaign in one transaction; the delivery workers send its rows under the weekly
marketing cap and outside the quiet hours, as they send every campaign.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from bot.auth.audit import record_staff
from bot.console.access import MARKETING, Pages
from bot.console.base import CHANNEL_LABELS, console_of, int_or_none, moment, redirect, staff_of
from bot.console.broadcast_compose import (
    LANGUAGES,
    MB,
    TARIFFS,
    Draft,
    FormError,
    Upload,
    bubbles,
    describe,
    image_of,
    preview_problem,
    reach_of,
    rules_of,
    segment_of,
    send_time_of,
    text_of,
)
from bot.core import fmt
from bot.notify.campaigns import (
    MAX_CAPTION,
    MAX_IMAGE_BYTES,
    MAX_TEXT,
    CampaignError,
    Reach,
    campaign_status,
    create_campaign,
    pause_campaign,
    recent_campaigns,
    start_campaign,
)
from bot.notify.segments import Segment
from bot.store.media import load_media, sniff_image
from bot.store.models import Campaign
from bot.store.places import provinces

log = logging.getLogger(__name__)

pages = Pages()

LIST_SIZE = 50
STATES = {
    "draft": "Nháp (chưa gửi)",
    "running": "Đang gửi",
    "scheduled": "Đã lên lịch",
    "paused": "Tạm dừng",
    "done": "Đã gửi xong",
}
FINISHED = ("sent", "failed", "unreachable", "skipped")
NOTICES = {
    "sent": "Đã bắt đầu gửi thông báo.",
    "scheduled": "Đã lên lịch gửi thông báo.",
    "paused": "Đã tạm dừng: các tin chưa gửi được giữ lại.",
    "resumed": "Đã tiếp tục gửi.",
}


# --- pages ---------------------------------------------------------------------------------


@pages.get("/console/broadcasts", MARKETING)
async def broadcast_list(request: web.Request) -> web.StreamResponse:
    console = console_of(request)
    async with console.services.db.reading() as session:
        campaigns = await recent_campaigns(session, LIST_SIZE)
    rows = [
        (campaign, shown, describe(Segment.from_json(campaign.segment)), label(shown, console.now))
        for campaign, shown in campaigns
    ]
    return console.render(request, "broadcasts.html", rows=rows)


@pages.get("/console/broadcasts/new", MARKETING)
async def compose(request: web.Request) -> web.StreamResponse:
    return await _compose_page(request, Draft())


@pages.post("/console/broadcasts/count", MARKETING)
async def count(request: web.Request) -> web.StreamResponse:
    """The live recipient count of the segment being built, with the rules it is sent under."""
    console = console_of(request)
    draft = Draft.of(await request.post())
    try:
        segment = segment_of(draft)
        at = send_time_of(draft, console.now) or console.now
    except FormError as error:
        body = console.fragment(
            "_broadcast_reach.html", reach=None, rules=None, segment="", problem=str(error)
        )
        return web.json_response({"error": str(error), "html": body}, status=400)
    found = await reach_of(console, segment, at)
    body = console.fragment(
        "_broadcast_reach.html",
        reach=found,
        rules=rules_of(console, at),
        segment=describe(segment),
        problem=None,
    )
    return web.json_response(
        {
            "matching": found.matching,
            "opted_out": found.opted_out,
            "at_cap": found.at_cap,
            "receiving": found.receiving,
            "html": body,
        }
    )


@pages.post("/console/broadcasts/preview", MARKETING)
async def preview(request: web.Request) -> web.StreamResponse:
    """The message as a Telegram and a web chat customer will see it: as a fragment for
    the page's script, or the whole compose page again without it."""
    console = console_of(request)
    form = await request.post()
    draft = Draft.of(form)
    local = form.get("image_local") == "1"  # the page shows the chosen file itself
    fragment = request.headers.get("X-Requested-With") == "fetch"
    problem: str | None
    try:
        image = None if local else image_of(form, console)
    except FormError as error:
        if not fragment:
            return await _compose_page(request, draft, error=str(error), dropped=True, status=400)
        image, problem = None, str(error)
    else:
        problem = preview_problem(draft, local or image is not None)
    if not fragment:
        return await _compose_page(request, draft, image=image, dropped=image is not None)
    body = console.fragment(
        "_broadcast_preview.html",
        bubbles=bubbles(console, draft, image, local),
        preview_problem=problem,
        language=LANGUAGES.get(draft.language, LANGUAGES["vi"]),
    )
    return web.json_response({"html": body}, status=400 if problem else 200)


@pages.post("/console/broadcasts", MARKETING)
async def send(request: web.Request) -> web.StreamResponse:
    """Create the campaign and start it: now, or at its time."""
    console, staff = console_of(request), staff_of(request)
    services = console.services
    form = await request.post()
    draft = Draft.of(form)
    upload = form.get("image")
    chosen = isinstance(upload, web.FileField) and bool(upload.filename)
    try:
        image = image_of(form, console)
        text = text_of(draft, with_image=image is not None)
        segment = segment_of(draft)
        send_at = send_time_of(draft, console.now)
    except FormError as error:
        return await _compose_page(request, draft, error=str(error), dropped=chosen, status=400)
    try:
        async with services.db.transaction() as session:
            campaign = await create_campaign(
                session,
                text=text,
                segment=segment,
                now=console.now,
                image=image.data if image else None,
                image_name=image.filename if image else "image",
                send_at=send_at,
                created_by=staff.username,
            )
            record_staff(
                session,
                "broadcast_created",
                staff.username,
                subject=f"campaign {campaign.id}",
                segment=segment.to_json(),
                send_at=send_at.isoformat() if send_at else None,
                image=image is not None,
            )
            await _start(session, request, campaign.id)
    except CampaignError as error:  # the checks above should have caught it
        log.warning("broadcast refused by campaigns: %s", error)
        return await _compose_page(
            request, draft, error=f"Không tạo được thông báo: {error}", dropped=chosen, status=400
        )
    done = "scheduled" if send_at else "sent"
    return redirect(f"/console/broadcasts/{campaign.id}?ok={done}")


@pages.get("/console/broadcasts/{campaign_id:\\d+}", MARKETING)
async def progress(request: web.Request) -> web.StreamResponse:
    notice = NOTICES.get(request.query.get("ok", ""))
    return await _progress_page(request, _id(request), notice=notice)


@pages.get("/console/broadcasts/{campaign_id:\\d+}/status", MARKETING)
async def status_json(request: web.Request) -> web.StreamResponse:
    """The counts of the progress bar, polled by the page every second until done."""
    console = console_of(request)
    campaign_id = _id(request)
    try:
        async with console.services.db.reading() as session:
            shown = await campaign_status(session, campaign_id)
    except CampaignError:
        return web.json_response({"error": "Không có thông báo này."}, status=404)
    return web.json_response(
        {**shown, "finished": finished(shown), "label": label(shown, console.now)}
    )


@pages.get("/console/broadcasts/{campaign_id:\\d+}/image", MARKETING)
async def campaign_image(request: web.Request) -> web.StreamResponse:
    """The campaign's picture, for its progress page."""
    console = console_of(request)
    async with console.services.db.reading() as session:
        campaign = await session.get(Campaign, _id(request))
        stored = (
            await load_media(session, campaign.image_media_id)
            if campaign is not None and campaign.image_media_id
            else None
        )
    if stored is None or sniff_image(stored.data) is None:
        raise web.HTTPNotFound(text="Thông báo này không có ảnh.")
    return web.Response(
        body=stored.data,
        content_type=stored.content_type,
        headers={
            "Content-Security-Policy": "sandbox; default-src 'none'",
            "Cache-Control": "private, max-age=300",
        },
    )


@pages.post("/console/broadcasts/{campaign_id:\\d+}/pause", MARKETING)
async def pause(request: web.Request) -> web.StreamResponse:
    """Hold what is not sent yet (rows a worker took already still go)."""
    console, staff = console_of(request), staff_of(request)
    campaign_id = _id(request)
    async with console.services.db.transaction() as session:
        shown = await _status_or_404(session, campaign_id)
        refusal = {
            "draft": "Thông báo chưa bắt đầu gửi nên không cần tạm dừng.",
            "paused": "Thông báo đang tạm dừng.",
            "done": "Thông báo đã gửi xong, không còn tin nào để tạm dừng.",
        }.get(shown["state"])
        if refusal is None:
            held = await pause_campaign(session, campaign_id)
            record_staff(
                session,
                "broadcast_paused",
                staff.username,
                subject=f"campaign {campaign_id}",
                held=held,
            )
    if refusal is not None:
        return await _progress_page(request, campaign_id, error=refusal, status=409)
    return redirect(f"/console/broadcasts/{campaign_id}?ok=paused")


@pages.post("/console/broadcasts/{campaign_id:\\d+}/resume", MARKETING)
async def resume(request: web.Request) -> web.StreamResponse:
    """Queue the held rows again (a paused campaign), or start a draft made with
    `cskh campaign create`: `start_campaign` does both, as `cskh campaign start` does."""
    console = console_of(request)
    campaign_id = _id(request)
    async with console.services.db.transaction() as session:
        shown = await _status_or_404(session, campaign_id)
        refusal = None
        if shown["state"] in ("paused", "draft"):
            await _start(session, request, campaign_id)
        else:
            refusal = "Thông báo không tạm dừng nên không cần tiếp tục."
    if refusal is not None:
        return await _progress_page(request, campaign_id, error=refusal, status=409)
    done = "sent" if shown["state"] == "draft" else "resumed"
    return redirect(f"/console/broadcasts/{campaign_id}?ok={done}")


# --- helpers -------------------------------------------------------------------------------


def finished(shown: dict[str, Any]) -> int:
    """Rows that will not be sent again: sent, failed, unreachable or skipped."""
    return sum(int(shown[key]) for key in FINISHED)


def label(shown: dict[str, Any], now: datetime) -> str:
    """The campaign's state in Vietnamese; a running one whose time has not come is
    "Đã lên lịch"."""
    state = shown["state"]
    send_at = datetime.fromisoformat(shown["send_at"]) if shown["send_at"] else None
    if state == "running" and send_at is not None and send_at > now and not finished(shown):
        return f"{STATES['scheduled']} {moment(send_at)}"
    return STATES.get(state, state)


def _id(request: web.Request) -> int:
    value = int_or_none(request.match_info.get("campaign_id"))
    if value is None:
        raise web.HTTPNotFound(text="Không có thông báo này.")
    return value


async def _start(session: AsyncSession, request: web.Request, campaign_id: int) -> None:
    """Start a draft or resume a paused campaign (`start_campaign`), in the audit log."""
    console, staff = console_of(request), staff_of(request)
    services = console.services
    started = await start_campaign(
        session,
        campaign_id,
        services.texts,
        backend=services.backend,
        now=console.now,
        marketing_per_week=services.settings.marketing_per_week,
    )
    record_staff(
        session,
        "broadcast_started",
        staff.username,
        subject=f"campaign {campaign_id}",
        queued=started.queued,
        skipped=started.skipped,
        resumed=started.resumed,
    )


async def _status_or_404(session: AsyncSession, campaign_id: int) -> dict[str, Any]:
    try:
        return await campaign_status(session, campaign_id)
    except CampaignError:
        raise web.HTTPNotFound(text="Không có thông báo này.") from None


async def _compose_page(
    request: web.Request,
    draft: Draft,
    *,
    error: str | None = None,
    image: Upload | None = None,
    dropped: bool = False,
    status: int = 200,
) -> web.StreamResponse:
    """The compose page with what was typed, the recipients of its segment and the preview;
    `dropped`: a picture was chosen, and a browser cannot be given it back."""
    console = console_of(request)
    found: Reach | None = None
    problem: str | None = None
    at = console.now
    segment_text = ""
    try:
        segment = segment_of(draft)
        at = send_time_of(draft, console.now) or console.now
    except FormError as wrong:
        problem = str(wrong)
    else:
        found = await reach_of(console, segment, at)
        segment_text = describe(segment)
    with_image = image is not None
    return console.render(
        request,
        "broadcast_new.html",
        status=status,
        error=error,
        draft=draft,
        dropped=dropped,
        reach=found,
        rules=rules_of(console, at),
        segment=segment_text,
        problem=problem,
        bubbles=bubbles(console, draft, image, False),
        preview_problem=preview_problem(draft, with_image),
        language=LANGUAGES.get(draft.language, LANGUAGES["vi"]),
        provinces=[name for _, name in provinces()],
        tariffs=TARIFFS,
        channels=CHANNEL_LABELS,
        languages=LANGUAGES,
        max_text=MAX_TEXT,
        max_caption=MAX_CAPTION,
        max_image_mb=min(console.services.settings.max_upload_mb * MB, MAX_IMAGE_BYTES) // MB,
        earliest=f"{fmt.local(console.now):%Y-%m-%dT%H:%M}",
    )


async def _progress_page(
    request: web.Request,
    campaign_id: int,
    *,
    error: str | None = None,
    notice: str | None = None,
    status: int = 200,
) -> web.StreamResponse:
    console = console_of(request)
    async with console.services.db.reading() as session:
        campaign = await session.get(Campaign, campaign_id)
        if campaign is None:
            raise web.HTTPNotFound(text="Không có thông báo này.")
        shown = await campaign_status(session, campaign_id)
    return console.render(
        request,
        "broadcast.html",
        status=status,
        error=error,
        notice=notice,
        campaign=campaign,
        shown=shown,
        done=finished(shown),
        state=label(shown, console.now),
        segment=describe(Segment.from_json(campaign.segment)),
    )
