"""Typed values customers give us in forms, parsed and normalised (docs/FORMS.md).

Each parser takes what the customer typed and the field's options and returns the
value we keep, or raises `FieldError` naming the text (`fields.<key>` in domain.yml)
that says what is wrong and how to write it right. Customers type without
diacritics, in any case, with extra spaces, on phone keyboards that may send
full-width digits: every parser accepts all of that. How dates are read lives in
`dates.py`; `parse_date` here checks them against the field.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation

from bot.core import phones
from bot.dialogs.dates import RULES, NoSuchDate, UnreadableDate, read_date
from bot.store.places import province_name, ward_name
from nlu.entities import EVNCPC_PROVINCES, extract_entities
from nlu.normalize import fold, normalize


class FieldError(ValueError):
    """A value a field cannot accept.

    `key` names the customer-facing text `fields.<key>` in domain.yml (what is
    wrong, how to write it right, an example); `params` fill its placeholders.
    """

    def __init__(self, key: str, **params: object) -> None:
        super().__init__(key)
        self.key = key
        self.params = params

    @property
    def text_key(self) -> str:
        """The dotted key of the text to show the customer."""
        return f"fields.{self.key}"

    def __str__(self) -> str:
        if not self.params:
            return self.key
        return f"{self.key} ({', '.join(f'{k}={v!r}' for k, v in self.params.items())})"


def _compatible(text: str) -> str:
    """NFKC and stripped: phone keyboards and IMEs may send full-width digits ("０９０５")."""
    return unicodedata.normalize("NFKC", text).strip()


# --- text, phone, e-mail -------------------------------------------------------------------
def parse_text(text: str, *, min_length: int = 1, max_length: int = 500) -> str:
    """Free text, stripped at both ends (line breaks inside are the customer's)."""
    value = unicodedata.normalize("NFC", text).strip()
    if len(value) < min_length:
        raise FieldError("text_short", min=min_length, count=len(value))
    if len(value) > max_length:
        raise FieldError("text_long", max=max_length, count=len(value))
    return value


def parse_phone(text: str, *, mobile: bool = False) -> str:
    """A number to call the customer back on, in E.164: a mobile ('0905 123 456' ->
    '+84905123456') or a landline with its area code ('0236 3822 123' -> '+842363822123');
    only a mobile when `mobile` (a number that must receive SMS codes)."""
    if mobile:
        try:
            return phones.parse_mobile(text)
        except phones.NotAPhone:
            raise FieldError("mobile") from None
    try:
        return phones.parse_contact(text)
    except phones.NotAPhone:
        raise FieldError("phone") from None


_EMAIL = re.compile(r"([^\s@]+)@((?:[^\s@.]+\.)+[^\s@.0-9]{2,})")


def parse_email(text: str) -> str:
    """An e-mail address with its domain lower-cased (the local part is the owner's)."""
    value = _compatible(text).rstrip(".")  # the full stop of a sentence
    match = _EMAIL.fullmatch(value)
    if not match or ".." in match.group(1) or len(value) > 254:
        raise FieldError("email")
    return f"{match.group(1)}@{match.group(2).lower()}"


# --- personal identification number (CCCD / thẻ căn cước) -----------------------------------
# Province codes of birth registration in the 12-digit number: the 63 provinces before
# the 2025 merger (Circular 59/2021/TT-BCA); numbers already issued keep them.
ID_PROVINCE_CODES = frozenset(
    f"{code:03d}"
    for code in (
        *(1, 2, 4, 6, 8, 10, 11, 12, 14, 15, 17, 19, 20, 22, 24, 25, 26, 27, 30, 31, 33, 34),
        *(35, 36, 37, 38, 40, 42, 44, 45, 46, 48, 49, 51, 52, 54, 56, 58, 60, 62, 64, 66, 67),
        *(68, 70, 72, 74, 75, 77, 79, 80, 82, 83, 84, 86, 87, 89, 91, 92, 93, 94, 95, 96),
    )
)
# The 4th digit: century of birth (and sex, which we do not keep).
_ID_CENTURY = {"0": 1900, "1": 1900, "2": 2000, "3": 2000, "4": 2100, "5": 2100}
_ID_CENTURY |= {"6": 2200, "7": 2200, "8": 1800, "9": 1800}
# Everyone from 14 must hold an ID card (Law on Identification 2023, art. 19).
MIN_HOLDER_AGE = 14


def parse_id_number(text: str, *, today: date) -> str:
    """The 12 digits of a CCCD or thẻ căn cước, checked against what they encode."""
    value = re.sub(r"[\s.\-]", "", _compatible(text))
    if not re.fullmatch(r"[0-9]*", value, re.ASCII):
        raise FieldError("id_digits")
    if len(value) != 12:
        raise FieldError("id_length", count=len(value))
    if value[:3] not in ID_PROVINCE_CODES:
        raise FieldError("id_province", code=value[:3])
    year = _ID_CENTURY[value[3]] + int(value[4:6])
    if today.year - year < MIN_HOLDER_AGE:
        raise FieldError("id_birth", year=year)
    return value


# --- numbers ---------------------------------------------------------------------------------
# A number as typed: "1 500" (space-grouped thousands) or digits with dots and commas.
_NUMBER = re.compile(
    r"(?P<sign>[-+]?)\s*(?P<number>[0-9]{1,3}(?: [0-9]{3})+(?:,[0-9]+)?|[0-9][0-9.,]*)\s*"
    r"(?P<unit>.*)",
    re.ASCII | re.DOTALL,
)
# Folded ways to write each unit of docs/FORMS.md ("100 số" is 100 kWh in speech).
_UNIT_ALIASES: dict[str, frozenset[str]] = {
    "kw": frozenset({"kw"}),
    "kwh": frozenset({"kwh", "kw h", "so", "so dien"}),
    "ho": frozenset({"ho", "ho gia dinh"}),
    "nguoi": frozenset({"nguoi", "ng", "nhan khau"}),
    "m": frozenset({"m", "met"}),
}


def parse_number(
    text: str,
    *,
    unit: str | None = None,
    minimum: float | None = None,
    maximum: float | None = None,
    integer: bool = False,
) -> int | float:
    """A quantity written the Vietnamese way ("2,5 kW", "1.500"); int when whole.

    Errors carry `min`, `max` and `example` ready to show ("1 kW", "" when unset)
    and `unit` ("" when the field has none).
    """

    def error(key: str) -> FieldError:
        return FieldError(
            key,
            min=_quantity(minimum, unit),
            max=_quantity(maximum, unit),
            unit=unit or "",
            example=_quantity(_example(minimum, maximum, integer), unit),
        )

    match = _NUMBER.fullmatch(_compatible(text))
    if not match:
        raise error("number")
    typed_unit = fold(match["unit"])
    if typed_unit:
        if unit is None:
            raise error("number")
        if typed_unit not in _UNIT_ALIASES.get(fold(unit), frozenset({fold(unit)})):
            raise error("number_unit")
    value = _decimal(match["number"], integer)
    # Past float's range is no quantity anyone means, and would come back as inf.
    if value is None or not math.isfinite(value):
        raise error("number")
    if match["sign"] == "-":
        value = -value
    if integer and value != value.to_integral_value():
        raise error("number_integer")
    if minimum is not None and value < Decimal(str(minimum)):
        raise error("number_min")
    if maximum is not None and value > Decimal(str(maximum)):
        raise error("number_max")
    return int(value) if value == value.to_integral_value() else float(value)


def _decimal(raw: str, integer: bool) -> Decimal | None:
    """'2,5' -> 2.5 (decimal comma); '1.500' -> 1500; None when it is no number."""
    raw = raw.rstrip(".,").replace(" ", "")  # a trailing full stop ends the sentence
    marks = {mark for mark in raw if mark in ".,"}
    whole, fraction = raw, ""
    if len(marks) == 2:  # "1.234,5" or "1,234.5": the last mark is the decimal one
        point = "." if raw.rfind(".") > raw.rfind(",") else ","
        whole, _, fraction = raw.rpartition(point)
        if not _grouped(whole, "," if point == "." else "."):
            return None
    elif marks:
        mark = marks.pop()
        parts = raw.split(mark)
        # Vietnamese writes thousands with a dot; in a whole-number field a comma with
        # groups of three ("1,500 người") can only be thousands too.
        thousands = _grouped(raw, mark) and (mark == "." or integer or len(parts) > 2)
        if not thousands:
            if len(parts) != 2:
                return None
            whole, fraction = parts
    try:
        return Decimal(f"{whole.replace('.', '').replace(',', '')}.{fraction or '0'}")
    except InvalidOperation:
        return None


def _grouped(raw: str, mark: str) -> bool:
    return re.fullmatch(rf"[0-9]{{1,3}}(?:{re.escape(mark)}[0-9]{{3}})+", raw) is not None


def _example(minimum: float | None, maximum: float | None, integer: bool) -> float:
    """A right answer to show: a small plausible value inside the bounds."""
    value: float = 3 if integer else 2.5
    if minimum is not None and value < minimum:
        value = minimum
    if maximum is not None and value > maximum:
        value = maximum
    return value


def _quantity(value: float | None, unit: str | None) -> str:
    """Vietnamese number format with the unit: 1500 -> '1.500 kWh', 2.5 -> '2,5 kW'."""
    if value is None:
        return ""
    whole, _, fraction = f"{abs(value):.6f}".rstrip("0").partition(".")
    number = ("-" if value < 0 else "") + f"{int(whole):,}".replace(",", ".")
    number += f",{fraction}" if fraction else ""
    return f"{number} {unit}" if unit else number


# --- dates -----------------------------------------------------------------------------------
def parse_date(text: str, *, today: date, rule: str = "any", max_days: int | None = None) -> date:
    """A date as typed ("1/10", "ngày mai"), on the side of today that `rule` asks for
    and at most `max_days` away. Errors carry `example`, a right answer, as dd/mm/yyyy.
    """
    if rule not in RULES:
        raise ValueError(f"unknown date rule {rule!r}; expected one of {RULES}")
    shift = 7 if max_days is None else min(7, max_days)
    example = _day(today + timedelta(days={"future": shift, "past": -shift}.get(rule, 0)))
    try:
        value = read_date(text, today=today, rule=rule)
    except NoSuchDate:
        raise FieldError("date_impossible", text=text.strip(), example=example) from None
    except UnreadableDate:
        raise FieldError("date", example=example) from None
    days = (value - today).days
    if rule == "future" and days < 0:
        raise FieldError("date_past", date=_day(value), today=_day(today), example=example)
    if rule == "past" and days > 0:
        raise FieldError("date_future", date=_day(value), today=_day(today), example=example)
    if max_days is not None and abs(days) > max_days:
        raise FieldError(
            "date_far", date=_day(value), days=abs(days), max_days=max_days, example=example
        )
    return value


def _day(value: date) -> str:
    return f"{value.day:02d}/{value.month:02d}/{value.year}"


# --- yes/no and choices ---------------------------------------------------------------------
# Normalised answers (nlu.normalize expands "ko", "k", "oke"; drops "ạ").
_YES = frozenset(
    {"co", "co chu", "co roi", "yes", "y", "yeah", "yep", "sure", "u", "uh", "uhm", "um", "ok"}
    | {"dung", "dung roi", "dung vay", "vang", "da", "dong y", "chinh xac", "phai", "phai roi"}
    | {"duoc", "roi"}
)
_NO = frozenset(
    {"khong", "no", "n", "nope", "sai", "sai roi", "khong phai", "khong dung", "khong dong y"}
    | {"chua", "chua co", "khong co"}
)
_TRAILING = frozenset({"nhe", "nha", "nhen"})  # "có nhé", "không nha"


def parse_yes_no(text: str) -> bool:
    """'có', 'ừ', 'ok' -> True; 'không', 'ko', 'sai' -> False."""
    words = normalize(text).split()
    while len(words) > 1 and words[-1] in _TRAILING:
        words.pop()
    if len(words) > 1 and words[0] == "da":  # "dạ không": the polite "dạ" is not a yes
        words.pop(0)
    answer = " ".join(words)
    if answer in _YES:
        return True
    if answer in _NO:
        return False
    raise FieldError("yes_no")


@dataclass(frozen=True)
class Option:
    """One answer of a choice field: the key we keep and its label in each language."""

    key: str
    labels: Mapping[str, str]

    def label(self, lang: str) -> str:
        """The label in `lang`, else Vietnamese, else any."""
        fallback = next(iter(self.labels.values()), self.key)
        return self.labels.get(lang) or self.labels.get("vi") or fallback


def match_choice(text: str, options: Sequence[Option], lang: str) -> str:
    """The key of the option the text names: its label, a unique prefix or its number."""
    key = _choice(fold(text), options)
    if key is None:
        raise FieldError("choice", choices=_labels(options, lang))
    return key


def _choice(folded: str, options: Sequence[Option]) -> str | None:
    if not folded:
        return None
    labels = [(option.key, fold(label)) for option in options for label in option.labels.values()]
    for key, label in labels:
        if folded == label:
            return key
    # A typed number is the position shown by channels without buttons ("1. Sinh hoạt").
    if re.fullmatch(r"[0-9]{1,3}", folded, re.ASCII) and 1 <= int(folded) <= len(options):
        return options[int(folded) - 1].key
    prefixed = {key for key, label in labels if label.startswith(folded)}
    return prefixed.pop() if len(prefixed) == 1 else None


def _labels(options: Sequence[Option], lang: str) -> str:
    return ", ".join(option.label(lang) for option in options)


_SEPARATORS = re.compile(r"[,;\n]+")
_AND = re.compile(r"\s+(?:và|va|and|&)\s+", re.IGNORECASE)


def match_choices(
    text: str, options: Sequence[Option], lang: str, *, minimum: int = 1
) -> list[str]:
    """The keys of the options named, in the options' order ("1, 3", "A và B")."""
    chosen: set[str] = set()
    for part in _SEPARATORS.split(unicodedata.normalize("NFC", text)):
        folded = fold(part)
        if not folded:
            continue
        whole = _choice(folded, options)  # a label may itself contain "và"
        if whole is not None:
            chosen.add(whole)
            continue
        pieces = [fold(piece) for piece in _AND.split(part)]
        if len(pieces) == 1:  # "1 3": positions separated by spaces
            pieces = folded.split() if folded.replace(" ", "").isdecimal() else pieces
        for piece in filter(None, pieces):
            key = _choice(piece, options)
            if key is None:
                raise FieldError("choice", choices=_labels(options, lang))
            chosen.add(key)
    if not chosen and minimum > 0:
        raise FieldError("choice", choices=_labels(options, lang))
    if len(chosen) < minimum:
        raise FieldError("choice_min", min=minimum, choices=_labels(options, lang))
    return [option.key for option in options if option.key in chosen]


# --- customer code and area ------------------------------------------------------------------
# 2 letters (the power company), 4 letters/digits (the unit), 7 digits: PC05CC0123456.
_CUSTOMER_CODE = re.compile(r"[A-Z]{2}[A-Z0-9]{4}[0-9]{7}", re.ASCII)


def parse_customer_code(text: str) -> str:
    """A customer code as printed on the bill: upper case, no spaces."""
    value = re.sub(r"\s", "", _compatible(text)).upper()
    if not _CUSTOMER_CODE.fullmatch(value):
        raise FieldError("customer_code")
    return value


@dataclass(frozen=True)
class AreaChoice:
    """A ward or commune EVNCPC serves, with its province (names as in the 2025 lists)."""

    ward_code: int
    ward: str
    province_code: int
    province: str


# Words that introduce a district, abolished in 2025: the name after them ("quận Hải
# Châu") is no longer an address part, even where a new ward took the same name.
_DISTRICT_WORDS = frozenset({"quan", "huyen", "thi xa", "tx", "q"})


def find_areas(text: str) -> list[AreaChoice]:
    """The wards the text names in EVNCPC's provinces, best first; [] when none.

    A province named too ("phường An Phú, Gia Lai") keeps only its wards.
    """
    wards: list[Mapping[str, int]] = []
    provinces: set[int] = set()
    for entity in extract_entities(text):
        if entity.entity == "province":
            provinces.add(int(entity.value["code"]))
        elif entity.entity == "ward" and not _after_district(text[: entity.start]):
            wards.append(entity.value)
    areas: dict[int, AreaChoice] = {}
    for ward in wards:
        province = int(ward["province_code"])
        if province not in EVNCPC_PROVINCES or (provinces and province not in provinces):
            continue
        code = int(ward["code"])
        areas.setdefault(code, AreaChoice(code, ward_name(code), province, province_name(province)))
    return list(areas.values())


def _after_district(before: str) -> bool:
    words = fold(before).split()
    return bool(words) and (words[-1] in _DISTRICT_WORDS or " ".join(words[-2:]) in _DISTRICT_WORDS)
