"""The compose form of a broadcast (broadcasts.py): what was typed, read as
`cskh campaign create` reads its options; who the segment reaches and the rules the send
goes under (weekly cap, quiet hours); the message as customers will see it."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web
from multidict import MultiDictProxy

from bot.console.base import CHANNEL_LABELS, Console, moment
from bot.core import fmt
from bot.core.fmt import LOCAL_TZ
from bot.core.messages import Media, Reply, clean_filename, clean_text
from bot.notify.campaigns import (
    MAX_CAPTION,
    MAX_IMAGE_BYTES,
    MAX_TEXT,
    Reach,
    campaign_replies,
    reach,
)
from bot.notify.outbox import quiet
from bot.notify.segments import AreaError, Segment, resolve_area
from bot.store.media import sniff_image
from bot.store.models import Campaign
from bot.store.places import province_name, ward_name, ward_province

MB = 1024 * 1024
SCHEDULE_AHEAD = timedelta(days=365)  # a year ahead at most (a mistyped year is caught)
TYPED_MAX = 20_000  # characters of a text kept from the form (enough to say it is too long)
TARIFFS = {"household": "Sinh hoạt", "business": "Kinh doanh", "production": "Sản xuất"}
LANGUAGES = {"vi": "Tiếng Việt", "en": "English"}


class FormError(ValueError):
    """What cannot be sent as typed; the message says what is wrong and how to write it."""


# --- the compose form --------------------------------------------------------------------


@dataclass(frozen=True)
class Draft:
    """The compose form as typed: shown again as it was when something is wrong."""

    text: str = ""
    province: str = ""
    ward: str = ""
    tariff: str = ""
    has_debt: bool = False
    channel: str = ""
    language: str = ""
    when: str = "now"  # now | later
    send_at: str = ""  # the datetime-local field: Vietnam time, "2026-12-02T08:00"

    @classmethod
    def of(cls, form: MultiDictProxy[Any]) -> Draft:
        def value(name: str, limit: int = 100) -> str:
            field = form.get(name, "")
            return field.strip()[:limit] if isinstance(field, str) else ""

        typed = form.get("text", "")
        text = clean_text(typed.replace("\r\n", "\n"))[:TYPED_MAX] if isinstance(typed, str) else ""
        return cls(
            text=text.strip(),
            province=value("province"),
            ward=value("ward"),
            tariff=value("tariff", 20),
            has_debt=value("has_debt", 5) in ("1", "on"),
            channel=value("channel", 20),
            language=value("language", 5),
            when="later" if value("when", 10) == "later" else "now",
            send_at=value("send_at", 40),
        )


@dataclass(frozen=True)
class Upload:
    """The picture chosen for the campaign, checked by its bytes."""

    data: bytes
    filename: str
    content_type: str


def segment_of(draft: Draft) -> Segment:
    """The segment the form names, with its places resolved as `cskh campaign` resolves
    them (names with or without diacritics, or codes)."""
    province, ward = draft.province, draft.ward
    if ward and not province:
        if not ward.isdigit():
            raise FormError(
                "Hãy nhập tỉnh/thành phố trước phường/xã (hoặc nhập mã phường/xã, ví dụ 20410)."
            )
        try:
            province = str(ward_province(int(ward)))
        except ValueError:
            raise FormError(f"Không có phường/xã mã {ward}.") from None
    province_code = ward_code = None
    if province:
        try:
            province_code = resolve_area(province).province_code
        except AreaError:
            raise FormError(
                f"Không tìm thấy tỉnh/thành phố “{province}”. Chọn trong danh sách, hoặc gõ "
                "tên (ví dụ Đà Nẵng) hay mã tỉnh (ví dụ 48)."
            ) from None
        if ward:
            try:
                ward_code = resolve_area(province, ward).ward_code
            except AreaError:
                raise FormError(
                    f"Không tìm thấy phường/xã “{ward}” ở {province_name(province_code)}. Gõ tên "
                    "(ví dụ Hội An; nếu trùng tên, ghi cả “Phường” hay “Xã”) hoặc mã phường/xã."
                ) from None
    for typed, known, what in (
        (draft.tariff, TARIFFS, "Nhóm giá"),
        (draft.channel, CHANNEL_LABELS, "Kênh"),
        (draft.language, LANGUAGES, "Ngôn ngữ"),
    ):
        if typed and typed not in known:
            raise FormError(f"{what} “{typed}” không có trong danh sách.")
    return Segment(
        province_code=province_code,
        ward_code=ward_code,
        tariff_group=draft.tariff or None,
        has_debt=draft.has_debt,
        channel=draft.channel or None,
        language=draft.language or None,
    )


def send_time_of(draft: Draft, now: datetime) -> datetime | None:
    """The time a scheduled campaign goes (Vietnam time unless an offset is given);
    None to send now."""
    if draft.when != "later":
        return None
    if not draft.send_at:
        raise FormError("Hãy chọn ngày giờ gửi, hoặc chọn “Gửi ngay”.")
    try:
        at = datetime.fromisoformat(draft.send_at)
    except ValueError:
        raise FormError("Ngày giờ gửi chưa đúng. Ví dụ: 02/12/2026 08:00.") from None
    at = at if at.tzinfo else at.replace(tzinfo=LOCAL_TZ)
    if at <= now:
        raise FormError(f"Thời điểm gửi đã qua. Hãy chọn sau {moment(now)}.")
    if at > now + SCHEDULE_AHEAD:
        raise FormError(f"Chỉ lên lịch được trong vòng {SCHEDULE_AHEAD.days} ngày tới.")
    return at


def text_of(draft: Draft, *, with_image: bool) -> str:
    """The text as it will be sent, within Telegram's limits (campaigns.py keeps them)."""
    length = len(draft.text)
    if not length:
        raise FormError("Nội dung thông báo đang trống. Hãy nhập nội dung.")
    if length > MAX_TEXT:
        raise FormError(
            f"Nội dung dài {fmt.number(length)} ký tự; tối đa {fmt.number(MAX_TEXT)} ký tự "
            "(một tin Telegram chứa tối đa 4.096 ký tự, cần chừa chỗ cho các nút). Hãy rút gọn."
        )
    if with_image and length > MAX_CAPTION:
        raise FormError(
            f"Khi có ảnh, nội dung là chú thích của ảnh: Telegram nhận tối đa "
            f"{fmt.number(MAX_CAPTION)} ký tự, nội dung đang dài {fmt.number(length)} ký tự. "
            "Hãy rút gọn hoặc bỏ ảnh."
        )
    return draft.text


def image_of(form: MultiDictProxy[Any], console: Console) -> Upload | None:
    """The chosen picture: a JPEG, PNG, GIF or WebP by its bytes, within the upload limit."""
    field = form.get("image")
    if not isinstance(field, web.FileField) or not field.filename:
        return None
    limit = min(console.services.settings.max_upload_mb * MB, MAX_IMAGE_BYTES)
    data = field.file.read(limit + 1)
    if len(data) > limit:
        raise FormError(f"Ảnh lớn hơn {limit // MB} MB. Hãy chọn ảnh nhỏ hơn.")
    content_type = sniff_image(data)
    if content_type is None:
        raise FormError("Tệp đã chọn không phải ảnh JPEG, PNG, GIF hoặc WebP. Hãy chọn ảnh khác.")
    return Upload(data, clean_filename(field.filename) or "anh", content_type)


# --- who it reaches, and the rules it is sent under ---------------------------------------


@dataclass(frozen=True)
class Rules:
    """The weekly marketing cap and the quiet hours, for a send at `send_at`."""

    per_week: int
    quiet_start: int
    quiet_end: int
    send_at: datetime
    starts_at: datetime  # the first moment outside the quiet hours, from send_at

    @property
    def has_quiet_hours(self) -> bool:
        return self.quiet_start != self.quiet_end

    @property
    def waits_for_quiet_hours(self) -> bool:
        return self.starts_at != self.send_at


def rules_of(console: Console, at: datetime) -> Rules:
    settings = console.services.settings
    start, end = settings.quiet_range
    local = fmt.local(at)
    starts_at = local
    if quiet(local, start, end):  # marketing is not urgent: the worker holds it
        starts_at = local.replace(hour=end, minute=0, second=0, microsecond=0)
        if starts_at <= local:
            starts_at += timedelta(days=1)
    return Rules(settings.marketing_per_week, start, end, local, starts_at)


async def reach_of(console: Console, segment: Segment, at: datetime) -> Reach:
    services = console.services
    async with services.db.reading() as session:
        return await reach(
            session,
            segment,
            backend=services.backend,
            at=at,
            marketing_per_week=services.settings.marketing_per_week,
        )


def describe(segment: Segment) -> str:
    """The segment in a line: "Phường Hội An, Thành phố Đà Nẵng · giá kinh doanh · Telegram"."""
    parts = []
    if segment.province_code is not None:
        place = province_name(segment.province_code)
        if segment.ward_code is not None:
            place = f"{ward_name(segment.ward_code)}, {place}"
        parts.append(place)
    if segment.tariff_group:
        parts.append(f"giá {TARIFFS.get(segment.tariff_group, segment.tariff_group).lower()}")
    if segment.has_debt:
        parts.append("còn nợ tiền điện")
    if segment.channel:
        parts.append(CHANNEL_LABELS.get(segment.channel, segment.channel))
    if segment.language:
        parts.append(LANGUAGES.get(segment.language, segment.language))
    return " · ".join(parts) or "Mọi khách hàng đã kích hoạt"


# --- the preview --------------------------------------------------------------------------


@dataclass(frozen=True)
class Bubble:
    """One message as a customer sees it: its text, its picture and its button rows."""

    text: str
    image: str | None  # a data: URL; "" when the page shows the chosen file itself
    rows: list[list[str]]


def bubbles(console: Console, draft: Draft, image: Upload | None, local: bool) -> list[Bubble]:
    """The campaign's message in the segment's language (Vietnamese when it has none),
    made by `campaign_replies` as every recipient's is."""
    lang = draft.language if draft.language in LANGUAGES else "vi"
    media = Media(image.content_type, image.filename, data=image.data) if image else None
    replies = campaign_replies(console.services.texts, lang, 0, Campaign(text=draft.text), media)
    return [_bubble(reply, local) for reply in replies]


def _bubble(reply: Reply, local: bool) -> Bubble:
    picture = None
    if reply.image is not None and reply.image.data is not None:
        encoded = base64.b64encode(reply.image.data).decode()
        picture = f"data:{reply.image.content_type};base64,{encoded}"
    elif local:
        picture = ""
    rows = [[button.title for button in row] for row in reply.buttons]
    return Bubble(reply.text, picture, rows)


def preview_problem(draft: Draft, with_image: bool) -> str | None:
    """What keeps the text from being sent as it is (an empty text is just not written yet)."""
    if not draft.text:
        return None
    try:
        text_of(draft, with_image=with_image)
    except FormError as error:
        return str(error)
    return None
