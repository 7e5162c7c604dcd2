"""What customers type into form fields, and what we keep or tell them back."""

from __future__ import annotations

import ast
import contextlib
import string
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import phonenumbers
import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from phonenumbers import PhoneNumberType

from bot.core.texts import Texts
from bot.dialogs.fields import (
    AreaChoice,
    FieldError,
    Option,
    find_areas,
    match_choice,
    match_choices,
    parse_customer_code,
    parse_date,
    parse_email,
    parse_id_number,
    parse_number,
    parse_phone,
    parse_text,
    parse_yes_no,
)
from bot.dialogs.forms import default_forms
from nlu.normalize import strip_diacritics

ROOT = Path(__file__).resolve().parents[2]
TODAY = date(2026, 11, 26)
# The 63 province codes of birth registration, as published (not read from the code).
PROVINCE_CODES = [
    f"{code:03d}"
    for code in (
        *(1, 2, 4, 6, 8, 10, 11, 12, 14, 15, 17, 19, 20, 22, 24, 25, 26, 27, 30, 31, 33, 34),
        *(35, 36, 37, 38, 40, 42, 44, 45, 46, 48, 49, 51, 52, 54, 56, 58, 60, 62, 64, 66, 67),
        *(68, 70, 72, 74, 75, 77, 79, 80, 82, 83, 84, 86, 87, 89, 91, 92, 93, 94, 95, 96),
    )
]

USE = [
    Option("home", {"vi": "🏠 Sinh hoạt", "en": "Household"}),
    Option("business", {"vi": "Kinh doanh", "en": "Business"}),
    Option("production", {"vi": "Sản xuất", "en": "Production"}),
]


def rejected(call: Callable[[], object], key: str) -> dict[str, object]:
    """Asserts the call fails with the error text `key`; its params."""
    with pytest.raises(FieldError) as caught:
        call()
    assert caught.value.key == key, str(caught.value)
    return caught.value.params


def test_field_error_names_its_text_and_reads_well_in_logs() -> None:
    error = FieldError("id_length", count=11)
    assert (error.key, error.params, error.text_key) == (
        "id_length",
        {"count": 11},
        "fields.id_length",
    )
    assert str(error) == "id_length (count=11)"
    assert str(FieldError("phone")) == "phone"
    assert isinstance(error, ValueError)


# --- text ----------------------------------------------------------------------------------------
def test_text_is_stripped_but_keeps_what_is_inside() -> None:
    assert parse_text("  Nguyễn  Văn An \n") == "Nguyễn  Văn An"
    assert parse_text("Dòng 1\nDòng 2") == "Dòng 1\nDòng 2"


def test_text_too_short_or_too_long_says_how_many() -> None:
    assert rejected(lambda: parse_text("   "), "text_short") == {"min": 1, "count": 0}
    assert rejected(lambda: parse_text("An", min_length=5), "text_short") == {"min": 5, "count": 2}
    params = rejected(lambda: parse_text("x" * 101, max_length=100), "text_long")
    assert params == {"max": 100, "count": 101}


# --- phone ---------------------------------------------------------------------------------------
# The mobile ranges the networks use since the 2018 renumbering (after the trunk 0), as
# published: Viettel, VinaPhone, MobiFone, Vietnamobile, Gmobile, Itel, Reddi. Where only
# part of a range is in use, the in-use blocks (052x, 0559, 089x, 099x).
MOBILE_PREFIXES = [
    *("32", "33", "34", "35", "36", "37", "38", "39", "86", "96", "97", "98"),
    *("81", "82", "83", "84", "85", "88", "91", "94"),
    *("70", "76", "77", "78", "79", "896", "897", "898", "899", "90", "93"),
    *("522", "523", "528", "56", "58", "92"),
    *("59", "990", "991", "993", "994", "995", "996", "997", "998", "999"),
    *("87", "559"),
]


@pytest.mark.parametrize("prefix", MOBILE_PREFIXES)
def test_the_mobile_prefixes_are_mobile_ranges_to_the_numbering_plan(prefix: str) -> None:
    """Checked by libphonenumber's plan, every block of a two-digit range included."""
    blocks = [prefix] if len(prefix) == 3 else [prefix + digit for digit in string.digits]
    for national in (block.ljust(9, fill) for block in blocks for fill in "09"):
        number = phonenumbers.parse("0" + national, "VN")
        assert phonenumbers.is_valid_number(number), national
        assert phonenumbers.number_type(number) == PhoneNumberType.MOBILE, national


@pytest.mark.parametrize(
    "typed",
    [
        "0905 123 456",
        "0905.123.456",
        "0905-123-456",
        "0905123456",
        "+84 905 123 456",
        "+84905123456",
        "84905123456",
        "(+84) 905 123 456",
        "+84 0905 123 456",
        "０９０５ １２３ ４５６",
    ],
)
def test_phone_in_any_layout_is_kept_in_e164(typed: str) -> None:
    assert parse_phone(typed) == "+84905123456"


@pytest.mark.parametrize(
    ("typed", "kept"),
    [
        ("0236 3822 123", "+842363822123"),  # Đà Nẵng
        ("0236.3822.123", "+842363822123"),
        ("+84 236 3822 123", "+842363822123"),
        ("024 3826 1234", "+842438261234"),  # Hà Nội
        ("0235 3852 111", "+842353852111"),  # Quảng Nam
    ],
)
def test_a_landline_with_its_area_code_is_a_contact_number(typed: str, kept: str) -> None:
    assert parse_phone(typed) == kept


def test_a_number_that_must_take_sms_codes_is_a_mobile_only() -> None:
    """The contract's new phone (svc_change_info, `mobile: true`) receives the login's
    one-time codes: a landline is refused with that reason."""
    assert parse_phone("0905 123 456", mobile=True) == "+84905123456"
    assert rejected(lambda: parse_phone("0236 3822 123", mobile=True), "mobile") == {}
    new_phone = next(f for f in default_forms()["svc_change_info"].fields if f.name == "new_phone")
    assert new_phone.params == {"mobile": True}


@pytest.mark.parametrize(
    "typed", ["12345", "0905 123 45", "0905 123 4567", "0205 123 456", "1900 1909", "số tôi", ""]
)
def test_phone_that_is_no_vietnamese_number_to_call_is_rejected(typed: str) -> None:
    assert rejected(lambda: parse_phone(typed), "phone") == {}


@given(
    prefix=st.sampled_from(MOBILE_PREFIXES),
    rest=st.text("0123456789", min_size=7, max_size=7),
    layout=st.sampled_from(
        [
            "0{n}",
            "0{a} {b} {c}",
            "0{a}.{b}.{c}",
            "0{a}-{b}-{c}",
            "+84{n}",
            "+84 {a} {b} {c}",
            "84{n}",
            " (+84) {n} ",
        ]
    ),
)
def test_any_mobile_number_in_any_layout_normalises_the_same(
    prefix: str, rest: str, layout: str
) -> None:
    national = (prefix + rest)[:9]  # nine digits after the trunk 0
    typed = layout.format(n=national, a=national[:3], b=national[3:6], c=national[6:])
    assert parse_phone(typed) == f"+84{national}"


# --- e-mail --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("typed", "kept"),
    [
        ("nguyenvanan@gmail.com", "nguyenvanan@gmail.com"),
        ("  An.Nguyen@Gmail.COM ", "An.Nguyen@gmail.com"),
        ("cskh+bot@cpc.vn.", "cskh+bot@cpc.vn"),
        ("an@mail.cpc.vn", "an@mail.cpc.vn"),
    ],
)
def test_email_keeps_the_address_with_its_domain_lower_cased(typed: str, kept: str) -> None:
    assert parse_email(typed) == kept


@pytest.mark.parametrize(
    "typed",
    ["nguyenvanan", "an@gmail", "an@@gmail.com", "an @gmail.com", "an..b@gmail.com", "@x.vn"],
)
def test_email_that_is_no_address_is_rejected(typed: str) -> None:
    rejected(lambda: parse_email(typed), "email")


# --- personal identification number -------------------------------------------------------------
@pytest.mark.parametrize(
    "typed", ["048090001234", "048 090 001 234", "048.090.001.234", " 0480 9000 1234 "]
)
def test_id_number_is_kept_as_12_digits(typed: str) -> None:
    assert parse_id_number(typed, today=TODAY) == "048090001234"


def test_id_number_errors_say_what_is_wrong() -> None:
    assert rejected(lambda: parse_id_number("04809000123", today=TODAY), "id_length") == {
        "count": 11
    }
    assert rejected(lambda: parse_id_number("0480900012345", today=TODAY), "id_length") == {
        "count": 13
    }
    assert rejected(lambda: parse_id_number("", today=TODAY), "id_length") == {"count": 0}
    rejected(lambda: parse_id_number("04809000123O", today=TODAY), "id_digits")
    rejected(lambda: parse_id_number("CCCD 048090001234", today=TODAY), "id_digits")
    params = rejected(lambda: parse_id_number("003090001234", today=TODAY), "id_province")
    assert params == {"code": "003"}


def test_id_number_of_someone_under_14_or_not_yet_born_is_rejected() -> None:
    # digit 4: 2/3 = born 2000-2099; digits 5-6: the year
    assert rejected(lambda: parse_id_number("048313001234", today=TODAY), "id_birth") == {
        "year": 2013
    }
    assert rejected(lambda: parse_id_number("048230001234", today=TODAY), "id_birth") == {
        "year": 2030
    }
    assert parse_id_number("048312001234", today=TODAY) == "048312001234"  # 14 this year
    assert parse_id_number("001185001234", today=TODAY) == "001185001234"  # a woman born 1985


@given(
    province=st.sampled_from(PROVINCE_CODES),
    year=st.integers(1900, TODAY.year - 14),
    female=st.booleans(),
    serial=st.text("0123456789", min_size=6, max_size=6),
    spaced=st.booleans(),
)
def test_any_well_formed_id_number_is_accepted(
    province: str, year: int, female: bool, serial: str, spaced: bool
) -> None:
    century = {1900: 0, 2000: 2}[year // 100 * 100] + int(female)
    number = f"{province}{century}{year % 100:02d}{serial}"
    typed = " ".join([number[:3], number[3:6], number[6:]]) if spaced else number
    assert parse_id_number(typed, today=TODAY) == number


# --- numbers -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("typed", "options", "value"),
    [
        ("40", {}, 40),
        ("40 kW", {"unit": "kW"}, 40),
        ("40kw", {"unit": "kW"}, 40),
        ("40 KW.", {"unit": "kW"}, 40),
        ("2,5 kW", {"unit": "kW"}, 2.5),
        ("2.5", {}, 2.5),
        ("1.500", {}, 1500),
        ("1.500 kWh", {"unit": "kWh", "integer": True}, 1500),
        ("1.500.000", {}, 1500000),
        ("1.234,5", {}, 1234.5),
        ("1 500 kWh", {"unit": "kWh"}, 1500),
        ("1,500", {"integer": True}, 1500),
        ("1,5", {}, 1.5),
        ("12.50", {}, 12.5),
        ("100 số", {"unit": "kWh"}, 100),
        ("3 hộ", {"unit": "hộ", "integer": True}, 3),
        ("3 HO", {"unit": "hộ", "integer": True}, 3),
        ("4 người", {"unit": "người"}, 4),
        ("4 nguoi", {"unit": "người"}, 4),
        ("25 m", {"unit": "m"}, 25),
        ("25 mét", {"unit": "m"}, 25),
    ],
)
def test_numbers_are_read_the_vietnamese_way(typed: str, options: dict, value: float) -> None:
    parsed = parse_number(typed, **options)
    assert parsed == value
    assert isinstance(parsed, int) == isinstance(value, int)


def test_a_wrong_unit_names_the_right_one() -> None:
    params = rejected(lambda: parse_number("40 kWh", unit="kW"), "number_unit")
    assert params["unit"] == "kW"
    assert params["example"] == "2,5 kW"
    rejected(lambda: parse_number("40 m2", unit="m"), "number_unit")


def test_number_errors_carry_the_bounds_ready_to_show() -> None:
    assert rejected(lambda: parse_number("không biết"), "number")["example"] == "2,5"
    assert rejected(lambda: parse_number("40 kW"), "number")  # no unit on this field
    params = rejected(lambda: parse_number("0,5 kW", unit="kW", minimum=1), "number_min")
    assert (params["min"], params["unit"], params["example"]) == ("1 kW", "kW", "2,5 kW")
    params = rejected(
        lambda: parse_number("2.000", unit="kWh", minimum=10, maximum=1500), "number_max"
    )
    assert (params["min"], params["max"], params["example"]) == ("10 kWh", "1.500 kWh", "10 kWh")
    params = rejected(
        lambda: parse_number("2,5 người", unit="người", integer=True), "number_integer"
    )
    assert params["example"] == "3 người"


@given(
    text=st.text(),
    unit=st.sampled_from([None, "kW", "kWh", "hộ", "người", "m"]),
    bounds=st.sampled_from([(None, None), (1, None), (None, 100), (0.5, 2000)]),
    integer=st.booleans(),
)
def test_any_text_either_is_a_number_or_is_explained(
    text: str, unit: str | None, bounds: tuple[float | None, float | None], integer: bool
) -> None:
    with contextlib.suppress(FieldError):
        parse_number(text, unit=unit, minimum=bounds[0], maximum=bounds[1], integer=integer)


# --- dates ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("typed", "rule", "meant"),
    [
        ("01/10/2026", "any", date(2026, 10, 1)),
        ("1-10-2026", "any", date(2026, 10, 1)),
        ("1.10.2026", "any", date(2026, 10, 1)),
        ("1/10/26", "any", date(2026, 10, 1)),
        ("2026-10-01", "any", date(2026, 10, 1)),
        ("01102026", "any", date(2026, 10, 1)),
        ("ngày 1 tháng 10 năm 2026", "any", date(2026, 10, 1)),
        ("Ngay 1 thang 10 nam 2026", "any", date(2026, 10, 1)),
        ("ngày 1 tháng 12 năm nay", "any", date(2026, 12, 1)),
        ("hôm nay", "any", TODAY),
        ("HOM NAY", "any", TODAY),
        ("ngày mai", "future", TODAY + timedelta(days=1)),
        ("mai", "future", TODAY + timedelta(days=1)),
        ("hom qua", "past", TODAY - timedelta(days=1)),
        ("hôm qua ạ", "past", TODAY - timedelta(days=1)),
        # without a year: this year's, the next one, the last one
        ("1/10", "any", date(2026, 10, 1)),
        ("1/10", "future", date(2027, 10, 1)),
        ("1/12", "future", date(2026, 12, 1)),
        ("26/11", "future", TODAY),
        ("1/12", "past", date(2025, 12, 1)),
        ("1/10", "past", date(2026, 10, 1)),
        ("1/10/85", "past", date(1985, 10, 1)),
    ],
)
def test_dates_are_read_the_vietnamese_way(typed: str, rule: str, meant: date) -> None:
    assert parse_date(typed, today=TODAY, rule=rule) == meant


def test_a_date_that_cannot_be_read_shows_the_format() -> None:
    assert rejected(lambda: parse_date("sáng thứ hai", today=TODAY), "date") == {
        "example": "26/11/2026"
    }
    assert rejected(lambda: parse_date("10/2026", today=TODAY, rule="future"), "date") == {
        "example": "03/12/2026"
    }


@pytest.mark.parametrize("typed", ["31/2", "29/02/2027", "32/1/2026", "1/13/2026", "0/5"])
def test_a_day_the_calendar_does_not_have_is_named_back(typed: str) -> None:
    params = rejected(lambda: parse_date(typed, today=TODAY), "date_impossible")
    assert params == {"text": typed, "example": "26/11/2026"}


def test_a_date_on_the_wrong_side_of_today_is_rejected() -> None:
    params = rejected(lambda: parse_date("1/10/2026", today=TODAY, rule="future"), "date_past")
    assert params == {"date": "01/10/2026", "today": "26/11/2026", "example": "03/12/2026"}
    params = rejected(lambda: parse_date("ngày mai", today=TODAY, rule="past"), "date_future")
    assert params == {"date": "27/11/2026", "today": "26/11/2026", "example": "19/11/2026"}


def test_a_date_too_far_away_says_how_far() -> None:
    params = rejected(
        lambda: parse_date("1/3/2027", today=TODAY, rule="future", max_days=30), "date_far"
    )
    assert params == {"date": "01/03/2027", "days": 95, "max_days": 30, "example": "03/12/2026"}
    assert parse_date("26/12/2026", today=TODAY, rule="future", max_days=30) == date(2026, 12, 26)
    rejected(lambda: parse_date("1/1/2020", today=TODAY, max_days=365), "date_far")


@given(
    text=st.text(),
    rule=st.sampled_from(["any", "past", "future"]),
    max_days=st.none() | st.integers(0, 400),
)
def test_any_text_either_is_a_date_or_is_explained(
    text: str, rule: str, max_days: int | None
) -> None:
    with contextlib.suppress(FieldError):
        parse_date(text, today=TODAY, rule=rule, max_days=max_days)


@given(
    day=st.dates(date(1950, 1, 1), date(2099, 12, 31)),
    layout=st.sampled_from(
        ["{d}/{m}/{y}", "{d:02d}-{m:02d}-{y}", "{d}.{m}.{y}", "ngày {d} tháng {m} năm {y}"]
    ),
)
def test_any_full_date_in_any_layout_is_read(day: date, layout: str) -> None:
    typed = layout.format(d=day.day, m=day.month, y=day.year)
    assert parse_date(typed, today=TODAY) == day


# --- yes / no ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "typed",
    [
        "có",
        "Co",
        "yes",
        "Y",
        "ừ",
        "u",
        "uh",
        "ok",
        "Oke",
        "đúng",
        "dung",
        "vâng",
        "vang ạ",
        "✅ Có",
        "có nhé",
        "dạ",
    ],
)
def test_yes_in_its_many_ways(typed: str) -> None:
    assert parse_yes_no(typed) is True


@pytest.mark.parametrize(
    "typed", ["không", "Khong", "ko", "k", "no", "N", "sai", "dạ không", "không ạ", "khongg"]
)
def test_no_in_its_many_ways(typed: str) -> None:
    assert parse_yes_no(typed) is False


@pytest.mark.parametrize("typed", ["có lẽ", "maybe", "", "để tôi xem"])
def test_neither_yes_nor_no_is_asked_again(typed: str) -> None:
    assert rejected(lambda: parse_yes_no(typed), "yes_no") == {}


# --- choices -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("typed", "key"),
    [
        ("🏠 Sinh hoạt", "home"),
        ("sinh hoat", "home"),
        ("SINH HOẠT!", "home"),
        ("household", "home"),  # the other language's label
        ("kinh", "business"),  # a unique prefix
        ("San", "production"),
        ("2", "business"),  # the number shown by channels without buttons
        (" 3. ", "production"),
    ],
)
def test_a_choice_is_recognised_by_label_prefix_or_number(typed: str, key: str) -> None:
    assert match_choice(typed, USE, "vi") == key


@pytest.mark.parametrize("typed", ["s", "4", "0", "", "nông nghiệp"])
def test_an_unknown_or_ambiguous_choice_lists_the_choices(typed: str) -> None:
    assert rejected(lambda: match_choice(typed, USE, "vi"), "choice") == {
        "choices": "🏠 Sinh hoạt, Kinh doanh, Sản xuất"
    }
    assert rejected(lambda: match_choice(typed, USE, "en"), "choice") == {
        "choices": "Household, Business, Production"
    }


@given(text=st.text())
def test_any_text_either_is_a_choice_or_is_explained(text: str) -> None:
    with contextlib.suppress(FieldError):
        assert match_choice(text, USE, "vi") in {"home", "business", "production"}


@pytest.mark.parametrize(
    ("typed", "keys"),
    [
        ("1, 3", ["home", "production"]),
        ("3;1", ["home", "production"]),
        ("1 3", ["home", "production"]),
        ("sinh hoạt và kinh doanh", ["home", "business"]),
        ("Kinh doanh va san xuat", ["business", "production"]),
        ("kinh doanh", ["business"]),
        ("2, 2", ["business"]),
    ],
)
def test_several_choices_are_read_in_the_options_order(typed: str, keys: list[str]) -> None:
    assert match_choices(typed, USE, "vi") == keys


def test_a_label_with_va_inside_is_not_split() -> None:
    options = [Option("repair", {"vi": "Sửa chữa và bảo dưỡng", "en": "Repair"}), *USE]
    assert match_choices("sửa chữa và bảo dưỡng, 2", options, "vi") == ["repair", "home"]


def test_too_few_or_unknown_choices_are_explained() -> None:
    params = rejected(lambda: match_choices("1", USE, "vi", minimum=2), "choice_min")
    assert params["min"] == 2
    rejected(lambda: match_choices("1, nông nghiệp", USE, "vi"), "choice")
    rejected(lambda: match_choices(" , ", USE, "vi"), "choice")


# --- customer code -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("typed", "code"),
    [
        ("PC05CC0123456", "PC05CC0123456"),
        ("pc05cc0123456", "PC05CC0123456"),
        (" PC05CC 0123456 ", "PC05CC0123456"),
        ("PQ02000012345", "PQ02000012345"),
    ],
)
def test_customer_code_is_kept_as_printed_on_the_bill(typed: str, code: str) -> None:
    assert parse_customer_code(typed) == code


@pytest.mark.parametrize(
    "typed", ["PC05CC012345", "PC05CC01234567", "0905123456", "PC05CC012345A", ""]
)
def test_a_wrong_customer_code_is_rejected(typed: str) -> None:
    assert rejected(lambda: parse_customer_code(typed), "customer_code") == {}


# --- areas ---------------------------------------------------------------------------------------
HOI_AN = AreaChoice(20410, "Phường Hội An", 48, "Thành phố Đà Nẵng")


@pytest.mark.parametrize(
    "typed",
    [
        "phường Hội An, Đà Nẵng",
        "phuong hoi an",
        "P. Hội An, Quảng Nam",
        "phường Hội An, quận Hải Châu",
    ],
)
def test_a_ward_is_found_however_it_is_typed(typed: str) -> None:
    assert find_areas(typed) == [HOI_AN]


def test_a_ward_name_in_two_provinces_offers_both_unless_the_province_is_named() -> None:
    assert [a.province_code for a in find_areas("phường An Khê")] == [48, 52]
    assert find_areas("phường An Khê, Gia Lai") == [
        AreaChoice(23617, "Phường An Khê", 52, "Gia Lai")
    ]


def test_only_wards_evncpc_serves_are_offered() -> None:
    assert find_areas("phường Hoàn Kiếm, Hà Nội") == []
    assert find_areas("phường An Phú, TP Hồ Chí Minh") == []
    assert [a.province_code for a in find_areas("phường An Phú")] == [52]


def test_a_former_district_is_ignored() -> None:
    assert find_areas("huyện Duy Xuyên") == []
    assert find_areas("xã Duy Xuyên, huyện Duy Xuyên, Quảng Nam") == [
        AreaChoice(20623, "Xã Duy Xuyên", 48, "Thành phố Đà Nẵng")
    ]


def test_area_names_are_single_spaced() -> None:
    (area,) = find_areas("phường Buôn Ma Thuột")
    assert area.ward == "Phường Buôn Ma Thuột"
    assert area.province == "Đắk Lắk"


def test_nothing_recognisable_finds_no_area() -> None:
    assert find_areas("nhà tôi ở gần chợ") == []


# --- the texts the errors refer to ---------------------------------------------------------------
def _raised_keys() -> dict[str, set[str]]:
    """Each `FieldError("key", ...)` in fields.py and the params it passes.

    parse_number raises through `error("key")`, a helper whose FieldError passes the
    same params for every key.
    """
    tree = ast.parse((ROOT / "bot/dialogs/fields.py").read_text(encoding="utf-8"))
    calls = [
        (node.func.id, node)
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
    ]
    shared = {
        k.arg
        for name, call in calls
        if name == "FieldError" and call.args and isinstance(call.args[0], ast.Name)
        for k in call.keywords
        if k.arg
    }
    raised: dict[str, set[str]] = {}
    for name, call in calls:
        first = call.args[0] if call.args else None
        if not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
            continue
        if name == "FieldError":
            raised.setdefault(first.value, set()).update(k.arg for k in call.keywords if k.arg)
        elif name == "error":
            raised.setdefault(first.value, set()).update(shared)
    return raised


def _texts() -> dict[str, dict[str, str]]:
    document = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))
    return document["texts"]["fields"]


def _placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def test_every_error_raised_has_a_text_with_the_params_it_needs() -> None:
    raised, texts = _raised_keys(), _texts()
    assert {"phone", "id_length", "date_impossible", "number_unit", "choice_min"} <= set(raised)
    for key, params in raised.items():
        assert key in texts, f"fields.{key} has no text in domain.yml"
        assert _placeholders(texts[key]["vi"]) <= params, key
    # The field types raise these themselves (bot/dialogs/field_types.py).
    engine_keys = {"area", "location_needed", "photo_needed", "photos_min", "code_not_linked"}
    assert set(texts) - set(raised) == engine_keys


def test_every_text_has_both_languages_and_an_example() -> None:
    raised = _raised_keys()
    for key, variants in _texts().items():
        if key not in raised:
            continue  # the engine's own texts ask for a button or a photo, not a format
        assert set(variants) == {"vi", "en"}, key
        assert _placeholders(variants["vi"]) == _placeholders(variants["en"]), key
        assert strip_diacritics(variants["vi"]) != variants["vi"], (
            f"{key}: Vietnamese without diacritics"
        )
        assert "ví dụ" in variants["vi"].lower(), key
        assert "example" in variants["en"].lower(), key


def test_the_texts_are_in_domain_yml() -> None:
    texts = Texts.load()
    assert texts.get("fields.id_length", "vi", count=11) == (
        "Số định danh cần đủ 12 chữ số (Quý khách vừa nhập 11). Ví dụ: 048090001234."
    )
    assert texts.get("fields.phone") == (
        "Số điện thoại chưa đúng. Vui lòng nhập số di động 10 số, ví dụ 0905 123 456, "
        "hoặc số máy bàn 11 số gồm cả mã vùng, ví dụ 0236 3822 123."
    )
