"""Live conversations: the list (filters, live updates), one conversation's transcript
as the customer saw it with the customer's data beside it, and the handoff actions
(take over, reply with text, a photo or a PDF, note, transfer, resolve)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from sqlalchemy import exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.auth.audit import record_staff
from bot.billing import explain as bill_explain
from bot.billing.explain_staff import lines as explanation_lines
from bot.console.access import SUPPORT, Pages
from bot.console.base import MODE_LABELS, Console, console_of, int_or_none, redirect, staff_of
from bot.core import phones
from bot.core.messages import Media, Reply, clean_filename
from bot.core.outbound import PushError
from bot.store import requests as service_requests
from bot.store.media import sniff_media
from bot.store.models import (
    ChatUser,
    Conversation,
    CustomerLink,
    Delivery,
    Notice,
    TranscriptMessage,
)
from bot.store.staff_models import CannedReply, StaffAccount, StaffNote
from bot.support import handoff

log = logging.getLogger(__name__)

pages = Pages()

PAGE_SIZE = 50
TRANSCRIPT_SIZE = 200  # the latest messages shown; older ones are in the database
SEARCH_MIN = 2  # characters a transcript search needs
PENDING = ("queued", "claimed", "sending", "held", "failed", "unreachable", "skipped")
ANSWERING_ROLES = ("agent", "supervisor", "admin")
ALLOWED_UPLOADS = frozenset({"image/jpeg", "image/png", "image/webp", "application/pdf"})


@dataclass(frozen=True)
class Filters:
    """The list's filters, as typed in its form."""

    channel: str = ""
    mode: str = ""
    code: str = ""
    phone: str = ""
    q: str = ""

    @classmethod
    def of(cls, query: Any) -> Filters:
        def value(name: str, limit: int) -> str:
            return str(query.get(name, "")).strip()[:limit]

        return cls(
            value("channel", 20),
            value("mode", 16),
            value("code", 13).upper(),
            value("phone", 20),
            value("q", 100),
        )

    @property
    def query_string(self) -> str:
        return urlencode({k: v for k, v in vars(self).items() if v})


@dataclass
class Row:
    conversation: Conversation
    user: ChatUser
    codes: list[str]
    names: list[str]


@dataclass
class Listing:
    rows: list[Row]
    problem: str | None = None  # a filter that could not be read (a bad phone number)
    waiting: int = 0


async def read_list(console: Console, filters: Filters, limit: int = PAGE_SIZE) -> Listing:
    """The conversations the filters pick, most recent activity first."""
    query = select(Conversation, ChatUser).join(ChatUser, ChatUser.id == Conversation.chat_user_id)
    problem = None
    if filters.channel:
        query = query.where(ChatUser.channel == filters.channel)
    if filters.mode in MODE_LABELS:
        query = query.where(Conversation.mode == filters.mode)
    if filters.code:
        query = query.where(
            exists().where(
                CustomerLink.chat_user_id == ChatUser.id,
                CustomerLink.customer_code == filters.code,
            )
        )
    if filters.phone:
        try:
            query = query.where(ChatUser.verified_phone == phones.parse_contact(filters.phone))
        except phones.NotAPhone:
            problem = f"“{filters.phone}” không phải số điện thoại Việt Nam."
    if filters.q:
        if len(filters.q) < SEARCH_MIN:
            problem = f"Tìm trong nội dung cần ít nhất {SEARCH_MIN} ký tự."
        else:
            pattern = (
                "%" + filters.q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            )
            query = query.where(
                exists().where(
                    TranscriptMessage.conversation_id == Conversation.id,
                    TranscriptMessage.text.ilike(pattern, escape="\\"),
                )
            )
    query = query.order_by(Conversation.last_activity_at.desc(), Conversation.id.desc())
    async with console.services.db.reading() as session:
        found = (await session.execute(query.limit(limit))).all() if problem is None else []
        waiting = await session.scalar(
            select(func.count())
            .select_from(Conversation)
            .where(Conversation.mode == handoff.WAITING)
        )
    codes = sorted({link.customer_code for _, user in found for link in user.links})
    names = await console.services.backend.customer_names(codes)
    rows = [
        Row(
            conversation,
            user,
            user.customer_codes,
            [names[c] for c in user.customer_codes if c in names],
        )
        for conversation, user in found
    ]
    return Listing(rows, problem, waiting or 0)


@pages.get("/console/conversations", SUPPORT)
async def conversation_list(request: web.Request) -> web.StreamResponse:
    console = console_of(request)
    filters = Filters.of(request.query)
    listing = await read_list(console, filters)
    return console.render(
        request,
        "conversations.html",
        listing=listing,
        filters=filters,
        modes=MODE_LABELS,
        error=listing.problem,
    )


@pages.get("/console/conversations/rows", SUPPORT)
async def conversation_rows(request: web.Request) -> web.StreamResponse:
    """The list's rows alone: what the page fetches when an event says something moved."""
    console = console_of(request)
    listing = await read_list(console, Filters.of(request.query))
    body = console.fragment("_rows.html", listing=listing)
    return web.json_response({"rows": body, "waiting": listing.waiting})


# --- one conversation -------------------------------------------------------------------


@dataclass
class Shown:
    """One message as the console shows it."""

    id: int
    direction: str  # in | out | note
    author: str
    text: str | None
    at: datetime
    photos: list[str] = field(default_factory=list)
    documents: list[tuple[str, str]] = field(default_factory=list)  # (media id, filename)
    buttons: list[list[str]] = field(default_factory=list)
    tapped: str | None = None  # the title of the button the customer pressed
    extras: list[str] = field(default_factory=list)  # location, contact
    status: str | None = None  # an agent's message not (yet) delivered


@dataclass
class Detail:
    conversation: Conversation
    user: ChatUser
    messages: list[Shown]
    holder: StaffAccount | None
    customers: list[Any]
    unpaid: dict[str, list[Any]]
    # Each code's latest bill explained, as `cskh bills explain` prints it (issue 18).
    explained: dict[str, list[str]]
    requests: list[Any]
    notices: list[Delivery]
    staff: list[StaffAccount]
    canned: list[tuple[str, str]]

    def author(self, message: Shown) -> str:
        """An agent's name as colleagues know it (the transcript keeps the username)."""
        username = message.author.removeprefix("staff:")
        return next((s.display_name for s in self.staff if s.username == username), username)


async def read_transcript(session: AsyncSession, conversation: Conversation) -> list[Shown]:
    """The latest messages as the customer saw them, the agent's notes and the agent's
    messages still on their way (or undeliverable) in time order."""
    rows = list(
        await session.scalars(
            select(TranscriptMessage)
            .where(TranscriptMessage.conversation_id == conversation.id)
            .order_by(TranscriptMessage.id.desc())
            .limit(TRANSCRIPT_SIZE)
        )
    )
    rows.reverse()
    shown: list[Shown] = []
    titles: dict[str, str] = {}
    for row in rows:
        message = _shown(row, titles)
        shown.append(message)
        for attachment in row.attachments or []:
            if attachment.get("type") == "buttons":
                for button_row in attachment.get("rows", []):
                    for button in button_row:
                        if button.get("payload"):
                            titles[button["payload"]] = button.get("title", "")
    since = rows[0].created_at if len(rows) == TRANSCRIPT_SIZE else None
    pending = await session.execute(
        select(Delivery, Notice.meta)
        .join(Notice, Notice.id == Delivery.notice_id)
        .where(
            Delivery.chat_user_id == conversation.chat_user_id,
            Notice.kind == handoff.STAFF_REPLY,
            Delivery.status.in_(PENDING),
            *([Delivery.created_at >= since] if since else []),
        )
    )
    for delivery, meta in pending:
        for reply in delivery.message:
            shown.append(
                Shown(
                    id=0,
                    direction="out",
                    author=str(meta.get("author", "staff")),
                    text=reply.get("text"),
                    at=delivery.created_at,
                    status=delivery.status,
                )
            )
    notes = await session.scalars(
        select(StaffNote).where(StaffNote.conversation_id == conversation.id)
    )
    for note in notes:
        if since is None or note.created_at >= since:
            shown.append(Shown(0, "note", f"staff:{note.author}", note.text, note.created_at))
    shown.sort(key=lambda m: (m.at, m.id))
    return shown


def _shown(row: TranscriptMessage, titles: dict[str, str]) -> Shown:
    message = Shown(row.id, row.direction, row.author, row.text, row.created_at)
    if row.direction == "in" and row.payload and not row.text:
        message.tapped = titles.get(row.payload) or row.payload
    for attachment in row.attachments or []:
        kind = attachment.get("type")
        media_id = attachment.get("media")
        if kind in ("photo", "image") and media_id:
            message.photos.append(str(media_id))
        elif kind == "document" and media_id:
            message.documents.append((str(media_id), str(attachment.get("filename") or "tệp")))
        elif kind == "buttons":
            message.buttons = [
                [str(b.get("title", "")) for b in line] for line in attachment.get("rows", [])
            ]
        elif kind == "location":
            message.extras.append(f"📍 Vị trí {attachment.get('lat')}, {attachment.get('lon')}")
        elif kind == "contact":
            number = str(attachment.get("phone") or "")
            message.extras.append(f"📞 Danh bạ: {phones.shown(number) if number else ''}")
        elif kind in ("image", "document") and attachment.get("url"):
            message.extras.append(str(attachment.get("filename") or attachment["url"]))
    return message


async def read_detail(console: Console, conversation_id: int) -> Detail | None:
    backend = console.services.backend
    async with console.services.db.reading() as session:
        conversation = await session.get(Conversation, conversation_id)
        if conversation is None:
            return None
        user = conversation.chat_user
        messages = await read_transcript(session, conversation)
        holder = (
            await session.get(StaffAccount, conversation.staff_id)
            if conversation.staff_id
            else None
        )
        open_requests = [
            r
            for r in await service_requests.list_requests(session, chat_user_id=user.id, limit=20)
            if r.status not in ("done", "rejected", "cancelled")
        ]
        notices = list(
            await session.scalars(
                select(Delivery)
                .where(Delivery.chat_user_id == user.id, Delivery.category != "service")
                .order_by(Delivery.id.desc())
                .limit(5)
            )
        )
        colleagues = list(
            await session.scalars(
                select(StaffAccount)
                .where(StaffAccount.role.in_(ANSWERING_ROLES), StaffAccount.disabled.is_(False))
                .order_by(StaffAccount.display_name)
            )
        )
        canned_rows = list(await session.scalars(select(CannedReply).order_by(CannedReply.title)))
    customers = [c for c in [await backend.customer(code) for code in user.customer_codes] if c]
    unpaid = {c.code: await backend.unpaid_bills(c.code) for c in customers}
    explained = {c.code: await _explained(console, c) for c in customers}
    name = customers[0].name if customers else (user.display_name or "Quý khách")
    code = user.default_customer_code or (customers[0].code if customers else "")
    canned = [(row.title, fill_placeholders(row.text, name, code)) for row in canned_rows]
    return Detail(
        conversation,
        user,
        messages,
        holder,
        customers,
        unpaid,
        explained,
        open_requests,
        notices,
        colleagues,
        canned,
    )


async def _explained(console: Console, customer: Any) -> list[str]:
    """The latest bill's decomposition in staff words; [] without a bill, or when its
    period cannot be priced (the chat then says it cannot explain it either)."""
    bills = await console.services.backend.bills(customer.code, limit=bill_explain.BILLS_NEEDED)
    try:
        found = bill_explain.explain(customer, bills, console.services.tariffs)
    except bill_explain.ExplainError as error:
        log.warning("cannot explain the latest bill of %s: %s", customer.code, error)
        return []
    return explanation_lines(found) if found is not None else []


def fill_placeholders(text: str, name: str, customer_code: str) -> str:
    """A canned reply for this customer: {name} and {customer_code} filled in."""
    return text.replace("{name}", name).replace("{customer_code}", customer_code)


def _id(request: web.Request) -> int:
    value = int_or_none(request.match_info.get("conversation_id"))
    if value is None:
        raise web.HTTPNotFound(text="Không có hội thoại này.")
    return value


async def _page(
    request: web.Request, *, error: str | None = None, notice: str | None = None, status: int = 200
) -> web.StreamResponse:
    console = console_of(request)
    detail = await read_detail(console, _id(request))
    if detail is None:
        raise web.HTTPNotFound(text="Không có hội thoại này.")
    return console.render(
        request,
        "conversation.html",
        status=status,
        d=detail,
        mine=detail.conversation.staff_id == staff_of(request).id,
        error=error,
        notice=notice,
    )


@pages.get("/console/conversations/{conversation_id:\\d+}", SUPPORT)
async def conversation_page(request: web.Request) -> web.StreamResponse:
    notice = {"sent": "Đã gửi tin cho khách hàng.", "queued": "Tin đang được gửi."}.get(
        request.query.get("ok", "")
    )
    return await _page(request, notice=notice)


@pages.get("/console/conversations/{conversation_id:\\d+}/live", SUPPORT)
async def conversation_live(request: web.Request) -> web.StreamResponse:
    """The transcript and the handoff bar alone, refreshed when an event names them."""
    console = console_of(request)
    detail = await read_detail(console, _id(request))
    if detail is None:
        raise web.HTTPNotFound(text="Không có hội thoại này.")
    mine = detail.conversation.staff_id == staff_of(request).id
    return web.json_response(
        {
            "transcript": console.fragment("_transcript.html", d=detail),
            "status": console.fragment(
                "_handoff.html", d=detail, mine=mine, csrf=staff_of(request).csrf
            ),
            "mine": mine,
        }
    )


async def _customer_told(console: Console, chat_user_id: int, key: str, **params: Any) -> None:
    """Tell the customer what happened (taken over, transferred); a channel that is not
    running here leaves the note unsaid rather than failing the staff's action."""
    async with console.services.db.reading() as session:
        user = await session.get(ChatUser, chat_user_id)
    if user is None:
        return
    text = console.services.texts.get(key, user.language, **params)
    try:
        await console.services.pusher.push(
            chat_user_id, [Reply(text=text)], author="system", kind=handoff.STAFF_REPLY
        )
    except PushError:
        log.warning("could not tell chat user %s (%s)", chat_user_id, key)


@pages.post("/console/conversations/{conversation_id:\\d+}/take", SUPPORT)
async def take(request: web.Request) -> web.StreamResponse:
    console, staff = console_of(request), staff_of(request)
    conversation_id = _id(request)
    try:
        async with console.services.db.transaction() as session:
            conversation = await handoff.take_over(
                session, conversation_id, staff, now=console.now, live=console.services.live
            )
            chat_user_id = conversation.chat_user_id
            record_staff(
                session,
                "handoff_taken",
                staff.username,
                chat_user_id=chat_user_id,
                subject=f"conversation {conversation_id}",
            )
    except handoff.AlreadyTaken as taken:
        return await _page(request, error=f"Không tiếp nhận được: {taken}.", status=409)
    except handoff.HandoffError as error:
        return await _page(request, error=str(error), status=409)
    await _customer_told(console, chat_user_id, "handoff.taken", name=staff.display_name)
    return redirect(f"/console/conversations/{conversation_id}")


@pages.post("/console/conversations/{conversation_id:\\d+}/reply", SUPPORT)
async def reply(request: web.Request) -> web.StreamResponse:
    """An agent's message: text, and a photo or a PDF, on the customer's own channel."""
    console, staff = console_of(request), staff_of(request)
    form = await request.post()
    text = str(form.get("text", "")).strip()[:4000]
    upload = form.get("file")
    media: Media | None = None
    if isinstance(upload, web.FileField) and upload.filename:
        data = upload.file.read(console.services.settings.max_upload_mb * 1024 * 1024 + 1)
        if len(data) > console.services.settings.max_upload_mb * 1024 * 1024:
            return await _page(
                request,
                error=f"Tệp lớn hơn {console.services.settings.max_upload_mb} MB.",
                status=400,
            )
        content_type = sniff_media(data)
        if content_type not in ALLOWED_UPLOADS:
            return await _page(
                request, error="Chỉ gửi được ảnh (JPEG, PNG, WebP) hoặc tệp PDF.", status=400
            )
        media = Media(content_type, clean_filename(upload.filename) or "tep", data=data)
    if not text and media is None:
        return await _page(request, error="Hãy nhập nội dung hoặc chọn một tệp.", status=400)
    is_image = media is not None and media.content_type.startswith("image/")
    message = Reply(
        text=text,
        image=media if is_image else None,
        document=media if media is not None and not is_image else None,
    )
    conversation_id = _id(request)
    try:
        async with console.services.db.transaction() as session:
            conversation = await session.get(Conversation, conversation_id)
            if conversation is None:
                raise web.HTTPNotFound(text="Không có hội thoại này.")
            delivery_id = await handoff.reply(
                session, console.services.pusher, conversation, staff, message
            )
            record_staff(
                session,
                "staff_reply",
                staff.username,
                chat_user_id=conversation.chat_user_id,
                subject=f"conversation {conversation_id}",
                delivered=delivery_id is not None,
            )
            console.services.live.after_commit(
                session, {"type": "conversation", "id": conversation_id}
            )
    except handoff.HandoffError as error:
        return await _page(request, error=str(error), status=409)
    except PushError as error:
        return await _page(request, error=f"Kênh của khách hàng không chạy: {error}", status=503)
    if delivery_id is None:
        return await _page(
            request,
            error="Không gửi được: khách hàng không còn nhận tin trên kênh này (đã chặn bot "
            "hoặc rời cuộc trò chuyện). Hãy liên hệ qua số điện thoại của khách hàng.",
            status=409,
        )
    sent = await console.services.pusher.send_now([delivery_id])
    return redirect(f"/console/conversations/{conversation_id}?ok={'sent' if sent else 'queued'}")


@pages.post("/console/conversations/{conversation_id:\\d+}/note", SUPPORT)
async def note(request: web.Request) -> web.StreamResponse:
    """An internal note: staff read it beside the transcript; the customer never does."""
    console, staff = console_of(request), staff_of(request)
    form = await request.post()
    text = str(form.get("text", "")).strip()[:4000]
    if not text:
        return await _page(request, error="Ghi chú đang trống.", status=400)
    conversation_id = _id(request)
    async with console.services.db.transaction() as session:
        conversation = await session.get(Conversation, conversation_id)
        if conversation is None:
            raise web.HTTPNotFound(text="Không có hội thoại này.")
        session.add(
            StaffNote(
                conversation_id=conversation_id,
                author=staff.username,
                text=text,
                created_at=console.now,
            )
        )
        record_staff(
            session, "staff_note", staff.username, subject=f"conversation {conversation_id}"
        )
        console.services.live.after_commit(session, {"type": "conversation", "id": conversation_id})
    return redirect(f"/console/conversations/{conversation_id}")


@pages.post("/console/conversations/{conversation_id:\\d+}/transfer", SUPPORT)
async def transfer(request: web.Request) -> web.StreamResponse:
    console, staff = console_of(request), staff_of(request)
    form = await request.post()
    target_id = int_or_none(str(form.get("to", "")))
    conversation_id = _id(request)
    try:
        async with console.services.db.transaction() as session:
            conversation = await session.get(Conversation, conversation_id)
            target = await session.get(StaffAccount, target_id) if target_id else None
            if conversation is None or target is None:
                raise handoff.HandoffError("Hãy chọn nhân viên nhận hội thoại.")
            await handoff.transfer(session, conversation, staff, target, live=console.services.live)
            chat_user_id, target_name = conversation.chat_user_id, target.display_name
            record_staff(
                session,
                "handoff_transferred",
                staff.username,
                chat_user_id=chat_user_id,
                subject=f"conversation {conversation_id}",
                to=target.username,
            )
    except handoff.HandoffError as error:
        return await _page(request, error=str(error), status=409)
    await _customer_told(console, chat_user_id, "handoff.transferred", name=target_name)
    return redirect(f"/console/conversations/{conversation_id}")


@pages.post("/console/conversations/{conversation_id:\\d+}/resolve", SUPPORT)
async def resolve(request: web.Request) -> web.StreamResponse:
    """Done: the bot answers again and the customer is asked to rate the help."""
    console, staff = console_of(request), staff_of(request)
    conversation_id = _id(request)
    try:
        async with console.services.db.transaction() as session:
            conversation = await session.get(Conversation, conversation_id)
            if conversation is None:
                raise web.HTTPNotFound(text="Không có hội thoại này.")
            resolved = await handoff.resolve(
                session, conversation, staff, now=console.now, live=console.services.live
            )
            user = conversation.chat_user
            question = handoff.rating_question(
                console.services.texts, user.language, resolved.id, staff.display_name
            )
            try:
                delivery_id = await console.services.pusher.enqueue(
                    session,
                    user.id,
                    [question],
                    author="system",
                    kind=handoff.STAFF_REPLY,
                    claim=True,
                )
            except PushError:  # the channel is not running here: resolved all the same
                delivery_id = None
            record_staff(
                session,
                "handoff_resolved",
                staff.username,
                chat_user_id=user.id,
                subject=f"conversation {conversation_id}",
            )
    except handoff.HandoffError as error:
        return await _page(request, error=str(error), status=409)
    if delivery_id is not None:
        await console.services.pusher.send_now([delivery_id])
    return redirect(f"/console/conversations/{conversation_id}")
