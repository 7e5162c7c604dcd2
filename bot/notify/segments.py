"""Who a notice is for: areas named as staff type them, and segments of chat users.

An outage names its area by province and ward (`cskh notify outage --province
"da nang" --ward "Hoi An"`); a campaign picks chat users by the customers they are
linked to (province, ward, tariff group, unpaid bills) and by the chat itself
(channel, language). Only activated chats the platform still reaches are recipients.

The links are ours, the customers the utility's: a segment reads the codes chats
linked, asks the `UtilityBackend` which of them it picks, then reads those codes' chats.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.store.backend import CustomerFilter, UtilityBackend
from bot.store.models import ChatUser, CustomerLink
from bot.store.places import province_name, ward_name, ward_province
from nlu.entities import extract_entities
from nlu.normalize import fold

# Administrative prefixes that read in lower case inside a sentence ("khu vực phường
# Hội An"); a province named without one ("Gia Lai") keeps its capitals.
_PREFIXES = re.compile(r"^(Phường|Xã|Đặc khu|Thành phố|Tỉnh) ")


class AreaError(ValueError):
    """A province or ward that names no place (or several); the message says which."""


@dataclass(frozen=True)
class Area:
    """A province, or one ward of it, as vietnam-provinces names them."""

    province_code: int
    ward_code: int | None = None

    @property
    def name(self) -> str:
        """'Phường Hội An, Thành phố Đà Nẵng' or 'Thành phố Đà Nẵng'."""
        province = province_name(self.province_code)
        if self.ward_code is None:
            return province
        return f"{ward_name(self.ward_code)}, {province}"

    @property
    def in_sentence(self) -> str:
        """'phường Hội An' (the ward alone reads better in a notice), 'thành phố Đà Nẵng'."""
        place = ward_name(self.ward_code) if self.ward_code else province_name(self.province_code)
        return in_sentence(place)


def in_sentence(place: str) -> str:
    """'Phường Hội An' -> 'phường Hội An'; 'Gia Lai' stays as it is."""
    return _PREFIXES.sub(lambda m: m.group(1).lower() + " ", place, count=1)


def on_streets(address: str, streets: Sequence[str]) -> bool:
    """Whether an address ("88 Hùng Vương") is on one of the streets ("Hùng Vương"),
    whole words, without case or diacritics."""
    folded = fold(address)
    return any(
        re.search(rf"(^|\W){re.escape(fold(street))}($|\W)", folded)
        for street in streets
        if street.strip()
    )


def resolve_area(province: str, ward: str | None = None) -> Area:
    """The area a staff member means: names matched without case or diacritics
    ("da nang", "Thành phố Đà Nẵng", a former province "Quảng Nam"), or codes ("48")."""
    province_code = _province_code(province)
    if ward is None or not ward.strip():
        return Area(province_code)
    return Area(province_code, _ward_code(ward, province_code))


def _province_code(typed: str) -> int:
    text = typed.strip()
    if text.isdigit():
        try:
            province_name(int(text))
        except ValueError:
            raise AreaError(f"no province with code {text}") from None
        return int(text)
    found = _province_names().get(fold(text))
    if found is not None:
        return found
    # Former names (merged in 2025) and spellings the language model knows.
    entities = extract_entities(text)
    provinces = {e.value["code"] for e in entities if e.entity == "province" and e.text == text}
    if len(provinces) == 1:
        return int(provinces.pop())
    raise AreaError(f"no province named {typed!r} (use a name as vietnam-provinces spells it)")


def _ward_code(typed: str, province_code: int) -> int:
    text = typed.strip()
    if text.isdigit():
        try:
            in_province = ward_province(int(text))
        except ValueError:
            raise AreaError(f"no ward with code {text}") from None
        if in_province != province_code:
            raise AreaError(f"ward {text} is not in {province_name(province_code)}")
        return int(text)
    wanted = fold(text)
    wards = _ward_names().get(province_code, {})
    codes = wards.get(wanted, [])
    if len(codes) == 1:
        return codes[0]
    if len(codes) > 1:
        names = ", ".join(ward_name(code) for code in codes)
        raise AreaError(f"{typed!r} is several wards ({names}): write it with its prefix")
    raise AreaError(f"no ward named {typed!r} in {province_name(province_code)}")


@functools.cache
def _province_names() -> dict[str, int]:
    """Folded names, with and without "Thành phố"/"Tỉnh", to province codes."""
    from vietnam_provinces import Province

    names: dict[str, int] = {}
    for province in Province.iter_all():
        full = " ".join(province.name.split())
        names[fold(full)] = int(province.code)
        names[fold(_PREFIXES.sub("", full))] = int(province.code)
    return names


@functools.cache
def _ward_names() -> dict[int, dict[str, list[int]]]:
    """Per province: folded ward names, with and without "Phường"/"Xã", to codes."""
    from vietnam_provinces import Ward

    names: dict[int, dict[str, list[int]]] = {}
    for ward in Ward.iter_all():
        full = " ".join(ward.name.split())
        in_province = names.setdefault(int(ward.province_code), {})
        for key in {fold(full), fold(_PREFIXES.sub("", full))}:
            in_province.setdefault(key, []).append(int(ward.code))
    return names


# --- segments of chat users ---------------------------------------------------------------


@dataclass(frozen=True)
class Segment:
    """Which chat users a notice is for; every field left None matches all.

    The customer fields (area, tariff group, debt) match a chat through the customer
    codes linked to it; the chat fields (channel, language) match the chat itself.
    """

    province_code: int | None = None
    ward_code: int | None = None
    tariff_group: str | None = None
    has_debt: bool = False
    channel: str | None = None
    language: str | None = None

    @property
    def about_customers(self) -> bool:
        return (
            self.province_code is not None
            or self.ward_code is not None
            or self.tariff_group is not None
            or self.has_debt
        )

    @property
    def customers(self) -> CustomerFilter:
        """The customer fields, as the backend is asked about them."""
        return CustomerFilter(self.province_code, self.ward_code, self.tariff_group, self.has_debt)

    def to_json(self) -> dict[str, Any]:
        return {key: value for key, value in asdict(self).items() if value not in (None, False)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Segment:
        return cls(**{key: data[key] for key in cls.__dataclass_fields__ if key in data})


@dataclass
class Linked:
    """A recipient chat and its customer codes the notice concerns (first: the one
    the notice names)."""

    chat_user: ChatUser
    codes: list[str] = field(default_factory=list)


async def linked_users(
    session: AsyncSession, backend: UtilityBackend, segment: Segment
) -> list[Linked]:
    """Activated, reachable chat users in `segment`, by id, with their matching codes."""
    found: dict[int, Linked] = {}
    for query in await _segment_queries(session, backend, segment, ChatUser):
        for chat_user, code in await session.execute(query):
            linked = found.setdefault(chat_user.id, Linked(chat_user))
            if code is not None and code not in linked.codes:
                linked.codes.append(code)
    # (Codes come batch after batch in their order, so each chat's stay sorted.)
    return [found[key] for key in sorted(found)]


async def linked_chat_codes(
    session: AsyncSession, backend: UtilityBackend, segment: Segment
) -> dict[int, list[str]]:
    """The chats of `linked_users` by id, with the same codes, without loading the chats:
    what a count needs (100,000 chats in about a second rather than twenty)."""
    found: dict[int, list[str]] = {}
    for query in await _segment_queries(session, backend, segment, ChatUser.id):
        for chat_user_id, code in await session.execute(query):
            codes = found.setdefault(chat_user_id, [])
            if code is not None and code not in codes:
                codes.append(code)
    return {key: found[key] for key in sorted(found)}


async def _segment_queries(
    session: AsyncSession, backend: UtilityBackend, segment: Segment, chat: Any
) -> list[Select[Any]]:
    """Queries of (`chat`, customer code) rows for the segment's chats, in chat order:
    everybody's with whatever codes they linked, or a batch of the matching codes each."""
    if not segment.about_customers:
        query = (
            select(chat, CustomerLink.customer_code)
            .outerjoin(CustomerLink, CustomerLink.chat_user_id == ChatUser.id)
            .where(*_chat_filters(segment))
            .order_by(ChatUser.id, CustomerLink.customer_code)
        )
        return [query]
    codes = await linked_codes(session, segment)
    matching = sorted(await backend.matching_customers(codes, segment.customers)) if codes else []
    return [  # IN lists of a reasonable size
        select(chat, CustomerLink.customer_code)
        .join(CustomerLink, CustomerLink.chat_user_id == ChatUser.id)
        .where(CustomerLink.customer_code.in_(matching[start : start + 1000]))
        .where(*_chat_filters(segment))
        .order_by(ChatUser.id, CustomerLink.customer_code)
        for start in range(0, len(matching), 1000)
    ]


async def linked_codes(session: AsyncSession, segment: Segment | None = None) -> list[str]:
    """The customer codes linked to activated, reachable chats (of the segment's channel
    and language), each once, sorted."""
    rows = await session.scalars(
        select(CustomerLink.customer_code)
        .join(ChatUser, ChatUser.id == CustomerLink.chat_user_id)
        .where(*_chat_filters(segment or Segment()))
        .distinct()
        .order_by(CustomerLink.customer_code)
    )
    return list(rows)


async def users_of_codes(session: AsyncSession, codes: Sequence[str]) -> dict[str, list[ChatUser]]:
    """Activated, reachable chat users linked to each customer code."""
    by_code: dict[str, list[ChatUser]] = {}
    unique = sorted(set(codes))
    for start in range(0, len(unique), 1000):  # IN lists of a reasonable size
        rows = await session.execute(
            select(CustomerLink.customer_code, ChatUser)
            .join(ChatUser, ChatUser.id == CustomerLink.chat_user_id)
            .where(CustomerLink.customer_code.in_(unique[start : start + 1000]))
            .where(*_chat_filters(Segment()))
            .order_by(ChatUser.id)
        )
        for code, chat_user in rows:
            by_code.setdefault(code, []).append(chat_user)
    return by_code


def _chat_filters(segment: Segment) -> list[Any]:
    filters: list[Any] = [ChatUser.activated_at.is_not(None), ChatUser.reachable.is_(True)]
    if segment.channel is not None:
        filters.append(ChatUser.channel == segment.channel)
    if segment.language is not None:
        filters.append(ChatUser.language == segment.language)
    return filters
