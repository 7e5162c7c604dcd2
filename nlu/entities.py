"""Entities in what customers type: codes, phones, amounts, dates and places (issue 8).

Patterns run on a folded view of the text (lower case, no diacritics, đ -> d) that
keeps, for every character, its offset in the original, so each `Entity` carries
`start`/`end` in the text as typed. Where the folded form is ambiguous, the typed
diacritics decide: "2 kỳ" is not "2 ký" (kWh), "tiền điện" is not "Tiên Điền" (a
commune). Province and ward names come from the vietnam_provinces package, indexed
once on first use.
"""

from __future__ import annotations

import calendar
import re
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from nlu.normalize import strip_diacritics

TIMEZONE = ZoneInfo("Asia/Ho_Chi_Minh")
_Found = tuple[str, Any, int, int]  # entity, value, start and end in the folded text


@dataclass(frozen=True)
class Entity:
    """A value found in a text, with its character span in the original text."""

    entity: str
    value: Any
    start: int
    end: int
    text: str


class _Folded:
    """The text folded character by character, remembering where each one came from."""

    def __init__(self, text: str) -> None:
        self.text = text
        chars: list[str] = []
        self.origin: list[int] = []
        for index, char in enumerate(text):
            for folded in _fold_char(char):
                chars.append(folded)
                self.origin.append(index)
        self.folded = "".join(chars)

    def span(self, start: int, end: int) -> tuple[int, int]:
        """Original offsets of folded[start:end] (diacritic marks of the last letter kept)."""
        return self.origin[start], self.origin[end] if end < len(self.origin) else len(self.text)


@cache
def _fold_char(char: str) -> str:
    return "".join(c for c in strip_diacritics(char).casefold() if not unicodedata.combining(c))


def agrees(typed: str, canonical: str) -> bool:
    """True unless a letter typed with a diacritic differs from the canonical spelling.

    >>> agrees("hoi an", "Hội An"), agrees("hội an", "Hội An"), agrees("tiền điện", "Tiên Điền")
    (True, True, False)
    """
    typed = " ".join(unicodedata.normalize("NFC", typed).lower().split())
    canonical = " ".join(canonical.lower().split())
    if len(typed) != len(canonical):
        return True
    return all(
        a == b or (_fold_char(a) == a and a == _fold_char(b))
        for a, b in zip(typed, canonical, strict=True)
    )


# --- codes, phones, e-mail ---------------------------------------------------------------
# A customer code is a 6-character unit code (PC05CC, PP0100) and 7 digits.
_CUSTOMER_CODE = re.compile(r"(?<![a-z0-9])p[a-z](?: ?[a-z0-9]){4}(?: ?\d){7}(?![a-z0-9])")
_PHONE = re.compile(r"(?<![\d+])(?:\+ ?84|84|0)[ .-]?([35789](?:[ .-]?\d){8})(?!\d)")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[a-z]{2,}")

# --- amounts -----------------------------------------------------------------------------
_NUMBER = r"(\d{1,3}(?:[.,]\d{3})+(?!\d)|\d+(?:[.,]\d+)?)"
_THOUSANDS = re.compile(r"\d{1,3}(?:[.,]\d{3})+")
# A number right after "tháng", "ngày", "kỳ", "năm" is a date part, not an amount.
_NOT_DATE = r"(?<![\w.,/])(?<!thang )(?<!ngay )(?<!ky )(?<!nam )"
_MONEY = re.compile(
    _NOT_DATE
    + _NUMBER
    + r" ?(?:(ty|trieu|tr)(?![a-z])(?: ?(\d{1,3})(?: ?(nghin|ngan|k))?(?![\w.,]))?"
    r"|(nghin|ngan|k|vnd|dong|d)(?![a-z]))(?: ?(?:vnd|dong|d)(?![a-z]))?"
)
_MULTIPLIER = {"ty": 10**9, "trieu": 10**6, "tr": 10**6, "nghin": 1000, "ngan": 1000, "k": 1000}
_KWH = re.compile(
    _NOT_DATE + _NUMBER + r" ?(kwh|kw h|so dien(?! thoai)|so(?! dien thoai)|ky|ki)(?![a-z])"
)

# --- dates and billing periods -----------------------------------------------------------
_YEAR = r"(?:(?: nam |/| )(\d{4})| (nam nay|nam ngoai|nam truoc))?"  # groups: digits, words
_RELATIVE_YEAR = {"nam nay": 0, "nam ngoai": -1, "nam truoc": -1}
_RELATIVE_MONTH = {"nay": 0, "truoc": -1, "sau": 1, "toi": 1}
_RELATIVE_DAY = {"hom nay": 0, "hom qua": -1, "ngay mai": 1}
_DateValue = Callable[[re.Match[str], date], tuple[str, Any]]


def _today(today: date | None) -> date:
    return today or datetime.now(TIMEZONE).date()


def _period(month: int, year: int | None, today: date, term: int | None = None) -> dict | None:
    """A billing period; without a year, the latest such month not in the future."""
    if not 1 <= month <= 12 or (term is not None and not 1 <= term <= 3):
        return None
    if year is None:
        year = today.year if month <= today.month else today.year - 1
    return {"year": year, "month": month, "term": term}


def _date(day: int, month: int, year: int | None, today: date) -> str | None:
    """An ISO date; without a year, the occurrence nearest to today (past or coming)."""
    if not 1 <= month <= 12:
        return None
    years = [year] if year is not None else [today.year - 1, today.year, today.year + 1]
    found = [date(y, month, day) for y in years if day <= calendar.monthrange(y, month)[1]]
    if not found:
        return None
    return min(found, key=lambda d: (abs((d - today).days), d > today)).isoformat()


def _year(m: re.Match[str], today: date) -> int | None:
    """The year of the last two groups of a pattern ending in `_YEAR`."""
    digits, words = m.groups()[-2:]
    if digits:
        return int(digits)
    return today.year + _RELATIVE_YEAR[words] if words else None


def _relative_month(m: re.Match[str], today: date) -> tuple[str, Any]:
    index = today.year * 12 + today.month - 1 + _RELATIVE_MONTH[m[1]]
    return "period", {"year": index // 12, "month": index % 12 + 1, "term": None}


# In order: a longer form ("01/10/2026") wins over the shorter one inside it ("01/10").
_DATE_PATTERNS: tuple[tuple[re.Pattern[str], _DateValue], ...] = (
    (
        re.compile(r"(?<![\d/.])(\d{1,2})[/.-](\d{1,2})[/.-](\d{4}|\d{2})(?![\d/.])"),
        lambda m, t: ("date", _date(int(m[1]), int(m[2]), int(m[3]) % 100 + 2000, t)),
    ),
    (
        re.compile(r"ngay (\d{1,2}) thang (\d{1,2})" + _YEAR + r"(?!\d)"),
        lambda m, t: ("date", _date(int(m[1]), int(m[2]), _year(m, t), t)),
    ),
    (
        re.compile(r"ky (\d) (?:thang |t)(\d{1,2})" + _YEAR + r"(?!\d)"),
        lambda m, t: ("period", _period(int(m[2]), _year(m, t), t, term=int(m[1]))),
    ),
    (
        re.compile(r"(?<![\w/.])(?:thang |t)?(\d{1,2})[/.-](\d{4})(?![\d/])"),
        lambda m, t: ("period", _period(int(m[1]), int(m[2]), t)),
    ),
    (
        re.compile(r"(?<![\w/.,])(\d{1,2})[/-](\d{1,2})(?![\d/.,]|[/-]\d)"),
        lambda m, t: ("date", _date(int(m[1]), int(m[2]), None, t)),
    ),
    (
        re.compile(r"thang ?(\d{1,2})" + _YEAR + r"(?![\d/])"),
        lambda m, t: ("period", _period(int(m[1]), _year(m, t), t)),
    ),
    (
        # "t2".."t7" are weekdays in chat (thứ hai..bảy): only t1 and t8..t12 are months.
        re.compile(r"(?<![a-z0-9])t(1|8|9|1[0-2])(?![\d/])"),
        lambda m, t: ("period", _period(int(m[1]), None, t)),
    ),
    (re.compile(r"thang (nay|truoc|sau|toi)(?![a-z])"), _relative_month),
    (
        re.compile(r"(hom nay|hom qua|ngay mai)(?![a-z])"),
        lambda m, t: ("date", (t + timedelta(days=_RELATIVE_DAY[m[1]])).isoformat()),
    ),
)


# --- places ------------------------------------------------------------------------------
def _phrases(text: str) -> frozenset[str]:
    return frozenset(phrase.strip() for phrase in text.split(","))


EVNCPC_PROVINCES = frozenset({44, 46, 48, 51, 52, 56, 66})
MAX_PLACE_CANDIDATES = 5
_WARD_PREFIXES = {"phuong": ("phuong", "p"), "xa": ("xa",), "dac khu": ("dac khu",)}
_PROVINCE_PREFIXES = ("thanh pho", "tp", "tinh")
# Provinces merged in 2025 (Resolution 202/2025/QH15) whose names customers still use.
_FORMER_PROVINCES = {
    "Quảng Bình": "Quảng Trị",
    "Thừa Thiên Huế": "Thành phố Huế",
    "Quảng Nam": "Thành phố Đà Nẵng",
    "Kon Tum": "Quảng Ngãi",
    "Bình Định": "Gia Lai",
    "Phú Yên": "Đắk Lắk",
    "Ninh Thuận": "Khánh Hòa",
    "Đắk Nông": "Lâm Đồng",
}
# Ward names that are everyday words when typed without "phường"/"xã" ("an toàn",
# "tiền điện", "để gì", "trả liền"...): only matched with the prefix.
_COMMON_PHRASES = _phrases(
    "an toan, tien dien, dong tien, de gi, tra lien, dien hong, dan dien, quang dien, "
    "thong nhat, dong thuan, van hoa, minh hoa, binh an, binh minh, thanh binh, to tung, "
    "phu ho, ba dong, ba don, an luong, tan tien, vinh quang, kim ngan, son mai, dien tho, "
    "thang dien, ba gia, tra tan, hoa tien, cam an, dong le, ha nha, dong hoa, phu trach, "
    "gia dinh, la gi, ban co, vinh vien, lai dong, thanh cong, cho quan, van an, ban ho, "
    "lai hoa, nhan hoa, dinh cong, dai dien, tien thang, dien xa, dong da, dong van, "
    "vi thanh, chi minh, thieu tien, ban may, trung tam, doc lap, hanh phuc, doan ket, "
    "thang loi, hop ly, an sinh, tien phong, dong tam, hoa binh, an binh, chu"
)
# Words before a bare name that say a place follows ("ở Hội An", "khu vực Hải Châu").
_CUES = _phrases(
    "o, tai, khu, khu vuc, dia ban, gan, quanh, vung, thuoc, quan, huyen, thi xa, thi tran, thon"
)
_TOKEN = re.compile(r"[a-z0-9]+")


@dataclass(frozen=True)
class _Place:
    entity: str  # "province" or "ward"
    code: int
    name: str
    province_code: int
    bare: str  # the name without "Phường", "Thành phố"...: what diacritics are checked on
    prefixed: bool

    @property
    def value(self) -> dict[str, Any]:
        value: dict[str, Any] = {"code": self.code, "name": self.name}
        if self.entity == "ward":
            value["province_code"] = self.province_code
        return value


def _tokens(text: str) -> tuple[str, ...]:
    return tuple(_TOKEN.findall("".join(_fold_char(c) for c in text)))


@cache
def _place_index() -> dict[tuple[str, ...], list[_Place]]:
    """Folded name tokens, with and without their prefix, to places (built once)."""
    from vietnam_provinces import Province, Ward

    index: dict[tuple[str, ...], list[_Place]] = {}

    def add(place: _Place, prefixes: tuple[str, ...]) -> None:
        bare = _tokens(place.bare)
        index.setdefault(bare, []).append(place)
        for prefix in prefixes:
            prefixed = _Place(**{**place.__dict__, "prefixed": True})
            index.setdefault(_tokens(prefix) + bare, []).append(prefixed)

    provinces: dict[str, _Place] = {}
    for province in Province.iter_all():
        name = " ".join(province.name.split())
        bare = re.sub(r"^(Thành phố|Tỉnh) ", "", name)
        place = _Place("province", int(province.code), name, int(province.code), bare, False)
        provinces[name] = place
        add(place, _PROVINCE_PREFIXES)
    for former, current in _FORMER_PROVINCES.items():
        add(_Place(**{**provinces[current].__dict__, "bare": former}), _PROVINCE_PREFIXES)
    for ward in Ward.iter_all():
        name = " ".join(ward.name.split())  # the package has "Phường  Tân An"
        kind = next(
            k for k in _WARD_PREFIXES if _tokens(name)[: len(k.split())] == tuple(k.split())
        )
        bare = name.split(" ", len(kind.split()))[-1]
        add(
            _Place("ward", int(ward.code), name, int(ward.province_code), bare, False),
            _WARD_PREFIXES[kind],
        )
    return index


def _accepted(places: list[_Place], typed: str, cue: bool) -> list[_Place]:
    places = [p for p in places if agrees(typed, p.bare)]
    if not places or places[0].prefixed:
        return places
    provinces = [p for p in places if p.entity == "province"]
    if provinces:
        return provinces
    key = " ".join(_tokens(typed))
    if key in _COMMON_PHRASES or (" " not in key and len(key) < 5 and not cue):
        return []
    proper_noun = typed[:1].isupper() and any(_fold_char(c) != c.lower() for c in typed)
    return [p for p in places if cue or proper_noun or p.province_code in EVNCPC_PROVINCES]


def _places(view: _Folded) -> list[list[_Found]]:
    """Longest place names first; ward candidates of a province named nearby, then of
    EVNCPC's provinces, come first."""
    index = _place_index()
    tokens = list(_TOKEN.finditer(view.folded))
    words = [t.group(0) for t in tokens]
    matches: list[tuple[int, int, list[_Place]]] = []
    i = 0
    while i < len(tokens):
        for size in range(min(6, len(tokens) - i), 0, -1):
            places = index.get(tuple(words[i : i + size]))
            if not places:
                continue
            name_size = len(_tokens(places[0].bare))
            start, end = tokens[i + size - name_size].start(), tokens[i + size - 1].end()
            before = " ".join(words[max(0, i - 2) : i])
            cue = bool(words[:i]) and (words[i - 1] in _CUES or before in _CUES)
            accepted = _accepted(places, view.text[slice(*view.span(start, end))], cue)
            if accepted:
                matches.append((tokens[i].start(), end, accepted))
                i += size - 1
                break
        i += 1
    named = {p.code for _, _, places in matches for p in places if p.entity == "province"}

    def rank(place: _Place) -> tuple[bool, bool, int]:
        return (
            place.province_code not in named,
            place.province_code not in EVNCPC_PROVINCES,
            place.code,
        )

    return [
        [(p.entity, p.value, start, end) for p in sorted(places, key=rank)[:MAX_PLACE_CANDIDATES]]
        for start, end, places in matches
    ]


# --- extraction ----------------------------------------------------------------------------
def _codes(view: _Folded, today: date) -> Iterator[_Found]:
    for m in _EMAIL.finditer(view.folded):
        yield "email", view.text[slice(*view.span(*m.span()))].lower(), *m.span()
    for m in _CUSTOMER_CODE.finditer(view.folded):
        yield "customer_code", m.group(0).replace(" ", "").upper(), *m.span()
    for m in _PHONE.finditer(view.folded):
        yield "phone", "+84" + re.sub(r"\D", "", m.group(1)), *m.span()


def _dates(view: _Folded, today: date) -> Iterator[_Found]:
    for pattern, value_of in _DATE_PATTERNS:
        for m in pattern.finditer(view.folded):
            typed = view.text[slice(*view.span(*m.span()))]
            if m[0].startswith("thang") and not agrees(typed[:5], "tháng"):
                continue  # "thắng 2" (won 2) is not "tháng 2"
            try:
                name, value = value_of(m, today)
            except ValueError:  # 31/02
                continue
            if value is not None:
                yield name, value, *m.span()


def _number(raw: str) -> Decimal:
    if _THOUSANDS.fullmatch(raw):
        return Decimal(re.sub(r"[.,]", "", raw))
    return Decimal(raw.replace(",", "."))


def _amounts(view: _Folded, today: date) -> Iterator[_Found]:
    for m in _MONEY.finditer(view.folded):
        unit = m.group(2) or m.group(5)
        multiplier = _MULTIPLIER.get(unit, 1)
        amount = _number(m.group(1)) * multiplier
        if m.group(3):  # "1tr2" is 1.2 million, "1 triệu 250 nghìn" 1,250,000
            tail = Decimal(m.group(3))
            amount += tail * 1000 if m.group(4) else tail * multiplier / 10 ** len(m.group(3))
        if multiplier == 1 and amount < 1000:
            continue  # "9 dong" is more likely "tháng 9 đóng" than 9 VND
        if unit in ("dong", "d") and not agrees(view.text[slice(*view.span(*m.span(5)))], "đồng"):
            continue
        yield "money", int(amount), *m.span()
    for m in _KWH.finditer(view.folded):
        typed = view.text[slice(*view.span(*m.span(2)))]
        quantity = _number(m.group(1))
        if m.group(2) in ("ky", "ki") and (
            quantity < 10 or not (agrees(typed, "ký") or agrees(typed, "kí"))
        ):
            continue  # "2 kỳ" is two billing periods
        yield (
            "kwh",
            int(quantity) if quantity == quantity.to_integral() else float(quantity),
            *m.span(),
        )


# Extractors in priority order: an earlier one's span wins an overlap.
_EXTRACTORS: tuple[Callable[[_Folded, date], Iterator[_Found]], ...] = (_codes, _dates, _amounts)


def extract_entities(text: str, *, today: date | None = None) -> list[Entity]:
    """Entities of `text` sorted by position; overlaps go to the more specific kind.

    Dates and periods without a year resolve against `today` (default: today in
    Asia/Ho_Chi_Minh).
    """
    view = _Folded(text)
    day = _today(today)
    groups = [[found] for extractor in _EXTRACTORS for found in extractor(view, day)]
    taken: list[tuple[int, int]] = []
    entities: list[Entity] = []
    for group in [*groups, *_places(view)]:  # a group: one span, its candidate values
        _, _, start, end = group[0]
        if any(start < e and s < end for s, e in taken):
            continue
        taken.append((start, end))
        first, last = view.span(start, end)
        entities.extend(
            Entity(name, value, first, last, text[first:last]) for name, value, *_ in group
        )
    return sorted(entities, key=lambda e: (e.start, e.end))
