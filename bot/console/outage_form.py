"""The new-outage form of the console: what staff typed, kept as typed, and checked into
the outage it describes, every mistake told in Vietnamese with the way to write it
right. Times come from <input type=datetime-local>, in Vietnam time."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, fields, replace
from datetime import datetime, timedelta
from typing import Any

from bot.core import fmt
from bot.notify.outages import MAX_CODES, UnknownCodes, listed_codes, outage_draft
from bot.notify.producers import NoticeError
from bot.notify.segments import Area, AreaError, resolve_area
from bot.store.backend import OutageRecord, UtilityBackend
from bot.store.places import province_name
from nlu.normalize import fold

log = logging.getLogger(__name__)

KINDS = {"planned": "Theo kế hoạch", "incident": "Sự cố"}
INCIDENT_AHEAD = timedelta(minutes=5)  # an incident has begun (a clock a little ahead)
REASON_MAX = 300
_PREFIX = re.compile(r"^(Phường|Xã|Đặc khu|Thành phố|Tỉnh) ")


class Invalid(ValueError):
    """Input staff must correct; the message says what and how, in Vietnamese."""


@dataclass(frozen=True)
class OutageForm:
    """The new-outage form as typed (kept as typed when it comes back with an error)."""

    kind: str = "planned"
    target: str = "area"  # area | codes
    province: str = ""
    ward: str = ""
    codes: str = ""
    start: str = ""  # <input type=datetime-local>: 2026-12-02T07:00, Vietnam time
    end: str = ""
    reason: str = ""

    @classmethod
    def of(cls, form: Any) -> OutageForm:
        def value(name: str, limit: int) -> str:
            return str(form.get(name, "")).strip()[:limit]

        typed = cls(
            value("kind", 10),
            value("target", 10),
            value("province", 100),
            value("ward", 100),
            value("codes", 20 * MAX_CODES),
            value("start", 30),
            value("end", 30),
            value("reason", 2 * REASON_MAX),
        )
        if typed.target not in ("area", "codes"):  # a form without the choice: what is filled
            return replace(typed, target="codes" if typed.codes and not typed.province else "area")
        return typed

    def pairs(self) -> list[tuple[str, str]]:
        """(name, value) pairs, for the preview's hidden copy of the form."""
        return [(f.name, getattr(self, f.name)) for f in fields(self)]


@dataclass(frozen=True)
class Checked:
    """A form whose values make an outage."""

    draft: OutageRecord
    area: Area | None
    codes: list[str]


async def check_form(typed: OutageForm, backend: UtilityBackend, now: datetime) -> Checked:
    """The outage the form describes; `Invalid` says the first thing to correct."""
    if typed.kind not in KINDS:
        raise Invalid("Vui lòng chọn loại: theo kế hoạch hoặc sự cố.")
    area, codes = _target(typed)
    reason = " ".join(typed.reason.split())
    if not reason:
        raise Invalid("Vui lòng nhập lý do ngừng cấp điện, ví dụ: Bảo dưỡng đường dây.")
    if len(reason) > REASON_MAX:
        raise Invalid(f"Lý do tối đa {REASON_MAX} ký tự (đang có {len(reason)}).")
    start, end = local_time(typed.start), local_time(typed.end)
    if start is None or end is None:
        raise Invalid(
            "Vui lòng nhập thời gian bắt đầu và thời gian dự kiến có điện lại "
            "(ngày và giờ, ví dụ 02/12/2026 07:00)."
        )
    if end <= start:
        raise Invalid("Thời gian dự kiến có điện lại phải sau thời gian bắt đầu.")
    if typed.kind == "planned" and start <= now:
        raise Invalid(
            f"Lịch theo kế hoạch phải bắt đầu sau bây giờ ({shown(now)}). "
            "Điện đã mất thì chọn loại Sự cố."
        )
    if typed.kind == "incident" and start > now + INCIDENT_AHEAD:
        raise Invalid(
            f"Sự cố bắt đầu từ bây giờ ({shown(now)}) trở về trước. "
            "Ngừng cấp điện sắp tới thì chọn loại Theo kế hoạch."
        )
    if end <= now:
        raise Invalid(f"Thời gian dự kiến có điện lại đã qua (bây giờ là {shown(now)}).")
    try:
        draft = await outage_draft(
            backend,
            area=area,
            customer_codes=codes,
            kind=typed.kind,
            start=start,
            end=end,
            reason=reason,
            now=now,
        )
    except UnknownCodes as error:
        raise Invalid(
            f"Không có khách hàng nào mang mã: {', '.join(error.codes)}. "
            "Vui lòng kiểm tra lại (mã 13 ký tự, ví dụ PC05CC0123456)."
        ) from None
    except NoticeError as error:
        raise Invalid(changed_meanwhile(error)) from None
    return Checked(draft, area, codes)


def _target(typed: OutageForm) -> tuple[Area | None, list[str]]:
    """The area (a province, or a ward of it) or the customer codes the form names."""
    if typed.target == "codes":
        codes = listed_codes(re.split(r"[\s,;]+", typed.codes))
        if not codes:
            raise Invalid("Vui lòng nhập ít nhất một mã khách hàng, ví dụ PC05CC0123456.")
        if len(codes) > MAX_CODES:
            raise Invalid(
                f"Tối đa {MAX_CODES} mã khách hàng (đang có {len(codes)}). "
                "Khu vực rộng hơn thì chọn phường/xã hoặc tỉnh/thành phố."
            )
        return None, codes
    if not typed.province:
        raise Invalid("Vui lòng nhập tỉnh/thành phố, ví dụ: Đà Nẵng (hoặc mã 48).")
    province = province_of(typed.province)
    if province is None:
        raise Invalid(
            f"Không tìm thấy tỉnh/thành phố “{typed.province}”. Ghi tên có hoặc không dấu "
            "(ví dụ: Đà Nẵng, da nang) hoặc mã tỉnh (ví dụ: 48)."
        )
    try:
        return resolve_area(typed.province, typed.ward or None), []
    except AreaError:
        raise Invalid(
            f"Không tìm thấy phường/xã “{typed.ward}” thuộc {province_name(province)}. Ghi tên "
            "có hoặc không dấu (ví dụ: Hội An), thêm “Phường” hay “Xã” khi nhiều nơi trùng "
            "tên, hoặc mã phường/xã (ví dụ: 20410); để trống nếu mất điện cả tỉnh."
        ) from None


def province_of(typed: str) -> int | None:
    """The province a name or code typed names, if any."""
    try:
        return resolve_area(typed).province_code if typed else None
    except AreaError:
        return None


def sorted_names(names: Iterable[str]) -> list[str]:
    """Names in the order a Vietnamese reader looks them up (without the prefix)."""
    return sorted(names, key=lambda name: fold(_PREFIX.sub("", name)))


def local_time(typed: str) -> datetime | None:
    """A time from <input type=datetime-local> ("2026-12-02T07:00"): Vietnam time."""
    try:
        moment = datetime.fromisoformat(typed)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=fmt.LOCAL_TZ)


def typed_time(moment: datetime) -> str:
    """The value <input type=datetime-local> shows for `moment`, in Vietnam time."""
    return f"{fmt.local(moment):%Y-%m-%dT%H:%M}"


def shown(moment: datetime) -> str:
    """ "15:00 26/11/2026", in Vietnam time."""
    return f"{fmt.clock(moment)} {fmt.day(moment)}"


def changed_meanwhile(error: NoticeError) -> str:
    """What a producer refused after this page's checks passed: the outage or the clock
    moved in between (another staff member, a slow form)."""
    log.info("outage change refused by its producer: %s", error)
    return "Lịch vừa thay đổi hoặc đã quá giờ trong lúc nhập. Vui lòng tải lại trang rồi thử lại."
