"""Phone numbers: Vietnamese mobiles and landlines in any layout, kept in E.164."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.core.phones import NotAPhone, masked, parse_contact, parse_mobile, shown

MOBILE_LAYOUTS = [
    "0905123456",
    "0905 123 456",
    "0905.123.456",
    "0905-123-456",
    "+84905123456",
    "+84 905 123 456",
    "84905123456",
    "(+84) 905 123 456",
    "+84 0905 123 456",  # the trunk 0 kept after the country code: read as meant
    "0084 905 123 456",
    " 0905123456",
    "0905123456 ",
    "\t0905 123 456\n",
    "０９０５ １２３ ４５６",
]
GARBAGE = [
    "",
    " ",
    "số tôi",
    "12345",
    "905123456",  # no trunk 0, no country code
    "0905 123 45",
    "0905 123 4567",
    "0905 123 456 ext 12",
    "09O5 123 456",
    "0905 123 456, 0914 222 333",
    "++84905123456",
    "0501 234 567",  # 050 is no network's range
    "0205 123 456",  # an area code with too few digits after it
    "+1 650 253 0000",  # a valid number, not a Vietnamese one
    "0" * 40,
]


@pytest.mark.parametrize("typed", MOBILE_LAYOUTS)
def test_a_mobile_in_any_layout_is_kept_in_e164(typed: str) -> None:
    assert parse_mobile(typed) == "+84905123456"
    assert parse_contact(typed) == "+84905123456"


@pytest.mark.parametrize(
    ("typed", "e164"),
    [
        ("0236 3123 456", "+842363123456"),  # Đà Nẵng
        ("0236.3123.456", "+842363123456"),
        (" +84 236 3123 456 ", "+842363123456"),
        ("842363123456", "+842363123456"),
        ("024 3826 1234", "+842438261234"),  # Hà Nội
        ("028 3822 1234", "+842838221234"),  # TP Hồ Chí Minh
        ("0235 3852 111", "+842353852111"),  # Quảng Nam
    ],
)
def test_a_landline_is_a_contact_number_but_no_mobile(typed: str, e164: str) -> None:
    assert parse_contact(typed) == e164
    with pytest.raises(NotAPhone):
        parse_mobile(typed)


@pytest.mark.parametrize("typed", ["1900 1909", "19001909", "+84 1900 1909", "1800 1234"])
def test_a_service_number_is_no_contact_number(typed: str) -> None:
    with pytest.raises(NotAPhone):
        parse_contact(typed)


@pytest.mark.parametrize("typed", GARBAGE)
def test_garbage_is_no_phone_number(typed: str) -> None:
    with pytest.raises(NotAPhone):
        parse_mobile(typed)
    with pytest.raises(NotAPhone):
        parse_contact(typed)


@given(
    prefix=st.sampled_from(["32", "35", "39", "56", "58", "70", "79", "86", "90", "94", "98"]),
    rest=st.text("0123456789", min_size=7, max_size=7),
    layout=st.sampled_from(["0{n}", "0{a} {b} {c}", "+84{n}", "84{n}", " (+84) {n} "]),
)
def test_any_mobile_reads_back_as_shown(prefix: str, rest: str, layout: str) -> None:
    national = prefix + rest
    typed = layout.format(n=national, a=national[:3], b=national[3:6], c=national[6:])
    e164 = parse_mobile(typed)
    assert e164 == f"+84{national}"
    assert parse_mobile(shown(e164)) == e164


@pytest.mark.parametrize(
    ("e164", "display"),
    [
        ("+84905123456", "0905 123 456"),
        ("+84358666777", "0358 666 777"),
        ("+842363123456", "0236 3123 456"),
        ("+842438261234", "024 3826 1234"),
        ("+16502530000", "+1 650-253-0000"),
        ("not a number", "not a number"),
    ],
)
def test_shown_as_customers_write_it(e164: str, display: str) -> None:
    assert shown(e164) == display


@pytest.mark.parametrize(
    ("e164", "mask"),
    [
        ("+84905123456", "0905 *** 456"),
        ("+84911000111", "0911 *** 111"),
        ("+842363123456", "0236 *** 456"),
        ("+84123", "***"),
    ],
)
def test_masked_shows_only_the_ends(e164: str, mask: str) -> None:
    assert masked(e164) == mask
