"""Bills a customer would see, checked against numbers worked out by hand.

Unless stated otherwise the period is an ordinary month (2025-09-16 .. 2025-10-15):
no price or VAT change inside it, so Quyết định 1279/QĐ-BCT prices
1984 / 2050 / 2380 / 2998 / 3350 / 3460 VND/kWh apply with full tiers and 8% VAT.
"""

from __future__ import annotations

import copy
from datetime import date, timedelta
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.billing.tariffs import (
    BillBreakdown,
    BillLine,
    TariffBook,
    TariffError,
    TariffGroup,
    VatLine,
    VoltageLevel,
    default_tariffs,
)
from bot.paths import resource_path

MONTH = (date(2025, 9, 16), date(2025, 10, 15))
P1279 = date(2025, 5, 10)
P2699 = date(2024, 10, 11)


@pytest.fixture(scope="module")
def book() -> TariffBook:
    return default_tariffs()


def _bill(book: TariffBook, kwh: int, **kwargs: Any) -> BillBreakdown:
    return book.compute(kwh, *MONTH, **kwargs)


def _raw_yaml() -> dict[str, Any]:
    return yaml.safe_load(resource_path("data/tariffs.yml").read_text(encoding="utf-8"))


# --- the two reference bills -------------------------------------------------------------


def test_worked_example_split_at_1279(book: TariffBook) -> None:
    # 2025-04-26 .. 2025-05-25: T = 30, 14 days before 2025-05-10 and 16 from it.
    bill = book.compute(300, date(2025, 4, 26), date(2025, 5, 25))
    assert bill.lines == (
        # 300 * 14 / 30 = 140 kWh at 2699 prices, tiers 23/23/47/47/47
        BillLine(23, 1893, 43_539, P2699, 8, 1),
        BillLine(23, 1956, 44_988, P2699, 8, 2),
        BillLine(47, 2271, 106_737, P2699, 8, 3),
        BillLine(47, 2860, 134_420, P2699, 8, 4),
        # the other 160 kWh at 1279 prices, tiers 27/27/53/53/53
        BillLine(27, 1984, 53_568, P1279, 8, 1),
        BillLine(27, 2050, 55_350, P1279, 8, 2),
        BillLine(53, 2380, 126_140, P1279, 8, 3),
        BillLine(53, 2998, 158_894, P1279, 8, 4),
    )
    assert sum(line.amount for line in bill.lines[:4]) == 329_684
    assert sum(line.amount for line in bill.lines[4:]) == 393_952
    assert bill.vat_lines == (VatLine(8, 723_636, 57_891),)
    assert (bill.before_vat, bill.vat, bill.total) == (723_636, 57_891, 781_527)


def test_134_kwh_ordinary_month(book: TariffBook) -> None:
    bill = _bill(book, 134)
    assert [(line.kwh, line.amount) for line in bill.lines] == [
        (50, 99_200),
        (50, 102_500),
        (34, 80_920),
    ]
    assert (bill.before_vat, bill.vat, bill.total) == (282_620, 22_610, 305_230)


# --- household tiers ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwh", "before_vat", "vat", "total"),
    [
        (50, 99_200, 7_936, 107_136),  # 50 x 1984
        (51, 101_250, 8_100, 109_350),  # + 1 x 2050
        (100, 201_700, 16_136, 217_836),  # 99,200 + 50 x 2050
        (101, 204_080, 16_326, 220_406),  # + 1 x 2380; VAT 16,326.4
        (200, 439_700, 35_176, 474_876),  # 201,700 + 100 x 2380
        (201, 442_698, 35_416, 478_114),  # + 1 x 2998; VAT 35,415.84
        (300, 739_500, 59_160, 798_660),  # 439,700 + 100 x 2998
        (301, 742_850, 59_428, 802_278),  # + 1 x 3350
        (400, 1_074_500, 85_960, 1_160_460),  # 739,500 + 100 x 3350
        (401, 1_077_960, 86_237, 1_164_197),  # + 1 x 3460; VAT 86,236.8
    ],
)
def test_household_tier_boundaries(
    book: TariffBook, kwh: int, before_vat: int, vat: int, total: int
) -> None:
    bill = _bill(book, kwh)
    assert (bill.before_vat, bill.vat, bill.total) == (before_vat, vat, total)
    assert bill.lines[-1].tier == len(bill.lines)  # tiers fill in order, none skipped
    assert {line.tariff_from for line in bill.lines} == {P1279}


def test_two_households_double_the_tiers(book: TariffBook) -> None:
    bill = _bill(book, 250, households=2)
    assert [(line.tier, line.kwh, line.amount) for line in bill.lines] == [
        (1, 100, 198_400),
        (2, 100, 205_000),
        (3, 50, 119_000),
    ]
    assert (bill.before_vat, bill.vat, bill.total) == (522_400, 41_792, 564_192)
    assert bill.households == 2


def test_zero_kwh_is_an_empty_bill(book: TariffBook) -> None:
    bill = _bill(book, 0)
    assert bill.lines == () and bill.vat_lines == ()
    assert (bill.before_vat, bill.vat, bill.total) == (0, 0, 0)


def test_a_million_kwh(book: TariffBook) -> None:
    bill = _bill(book, 1_000_000)
    # 1,074,500 for the first 400 kWh + 999,600 x 3460
    assert bill.lines[-1] == BillLine(999_600, 3460, 3_458_616_000, P1279, 8, 6)
    assert (bill.before_vat, bill.vat, bill.total) == (3_459_690_500, 276_775_240, 3_736_465_740)


# --- splits -----------------------------------------------------------------------------


def test_vat_change_mid_period(book: TariffBook) -> None:
    # 2023-06-16 .. 2023-07-15: T = 30, 15 days at 10% VAT and 15 from 2023-07-01 at 8%,
    # 1062 prices throughout. 135 x 15 / 30 = 67.5 rounds half up to 68; tiers 25/25/50.
    bill = book.compute(135, date(2023, 6, 16), date(2023, 7, 15))
    p1062 = date(2023, 5, 4)
    assert bill.lines == (
        BillLine(25, 1728, 43_200, p1062, 10, 1),
        BillLine(25, 1786, 44_650, p1062, 10, 2),
        BillLine(18, 2074, 37_332, p1062, 10, 3),
        BillLine(25, 1728, 43_200, p1062, 8, 1),
        BillLine(25, 1786, 44_650, p1062, 8, 2),
        BillLine(17, 2074, 35_258, p1062, 8, 3),
    )
    # VAT per rate: 125,182 x 10% = 12,518.2; 123,108 x 8% = 9,848.64
    assert bill.vat_lines == (VatLine(10, 125_182, 12_518), VatLine(8, 123_108, 9_849))
    assert (bill.before_vat, bill.vat, bill.total) == (248_290, 22_367, 270_657)


def test_period_spanning_several_changes_still_adds_up(book: TariffBook) -> None:
    # Unrealistic 7-month period crossing 1062 (2023-05-04), 8% VAT (2023-07-01), 2941.
    bill = book.compute(1234, date(2023, 4, 20), date(2023, 11, 20))
    assert sum(line.kwh for line in bill.lines) == 1234
    assert {line.tariff_from for line in bill.lines} == {
        date(2019, 3, 20),
        date(2023, 5, 4),
        date(2023, 11, 9),
    }
    assert [v.rate for v in bill.vat_lines] == [10, 8]
    assert bill.before_vat == sum(v.base for v in bill.vat_lines)
    assert bill.total == bill.before_vat + bill.vat


# --- business and production ------------------------------------------------------------


@pytest.mark.parametrize(
    ("group", "voltage", "price", "before_vat", "vat", "total"),
    [
        ("business", "below_6kv", 3152, 3_152_000, 252_160, 3_404_160),
        ("business", "6_22kv", 3108, 3_108_000, 248_640, 3_356_640),
        ("production", "below_6kv", 1987, 1_987_000, 158_960, 2_145_960),
        ("production", "6_22kv", 1899, 1_899_000, 151_920, 2_050_920),
    ],
)
def test_single_price_groups(
    book: TariffBook, group: str, voltage: str, price: int, before_vat: int, vat: int, total: int
) -> None:
    bill = _bill(book, 1000, group=group, voltage=voltage)
    assert bill.group == TariffGroup(group) and bill.voltage == VoltageLevel(voltage)
    assert bill.lines == (BillLine(1000, price, before_vat, P1279, 8, None),)
    assert (bill.before_vat, bill.vat, bill.total) == (before_vat, vat, total)


def test_business_split_at_1279(book: TariffBook) -> None:
    bill = book.compute(
        300,
        date(2025, 4, 26),
        date(2025, 5, 25),
        group=TariffGroup.BUSINESS,
        voltage=VoltageLevel.BELOW_6KV,
    )
    assert bill.lines == (
        BillLine(140, 3007, 420_980, P2699, 8, None),
        BillLine(160, 3152, 504_320, P1279, 8, None),
    )
    assert (bill.before_vat, bill.vat, bill.total) == (925_300, 74_024, 999_324)


def test_household_ignores_voltage(book: TariffBook) -> None:
    bill = _bill(book, 134, voltage="6_22kv")
    assert bill.voltage is None and bill.total == 305_230


# --- invalid input ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwh", "start", "end", "kwargs"),
    [
        (-1, *MONTH, {}),
        (100, date(2025, 10, 15), date(2025, 9, 16), {}),
        (100, *MONTH, {"households": 0}),
        (100, date(2019, 3, 19), date(2019, 4, 18), {}),  # a day before 648/QĐ-BCT
        (100, date(2023, 11, 8), date(2023, 12, 7), {"group": "business", "voltage": "6_22kv"}),
        (100, *MONTH, {"group": "business"}),  # no voltage level
        (100, *MONTH, {"group": "production", "voltage": "110kv"}),
        (100, *MONTH, {"group": "farm"}),
    ],
)
def test_invalid_input_is_rejected(
    book: TariffBook, kwh: int, start: date, end: date, kwargs: dict[str, Any]
) -> None:
    with pytest.raises(TariffError):
        book.compute(kwh, start, end, **kwargs)


# --- look-ups ---------------------------------------------------------------------------


def test_prices_on(book: TariffBook) -> None:
    assert book.prices_on(date(2025, 5, 10)) == (P1279, (1984, 2050, 2380, 2998, 3350, 3460))
    assert book.prices_on(date(2025, 5, 9)) == (P2699, (1893, 1956, 2271, 2860, 3197, 3302))
    assert book.prices_on(date(2030, 1, 1), "production", "below_6kv") == (P1279, (1987,))
    with pytest.raises(TariffError):
        book.prices_on(date(2019, 3, 19))


@pytest.mark.parametrize(
    ("day", "rate"),
    [
        (date(2022, 1, 31), 10),
        (date(2022, 2, 1), 8),
        (date(2022, 12, 31), 8),
        (date(2023, 1, 1), 10),
        (date(2023, 6, 30), 10),
        (date(2023, 7, 1), 8),
        (date(2026, 12, 31), 8),
        (date(2027, 1, 1), 10),
    ],
)
def test_vat_rate_on(book: TariffBook, day: date, rate: int) -> None:
    assert book.vat_rate_on(day) == rate


# --- the tariff file --------------------------------------------------------------------


def test_packaged_file_validates() -> None:
    assert TariffBook.from_mapping(_raw_yaml()).compute(134, *MONTH).total == 305_230


def test_rejects_wrong_number_of_tier_prices() -> None:
    data = _raw_yaml()
    data["household"][-1]["prices"] = data["household"][-1]["prices"][:-1]
    with pytest.raises(TariffError, match="6 tier prices"):
        TariffBook.from_mapping(data)


@pytest.mark.parametrize("section", ["household", "business", "vat"])
def test_rejects_dates_not_increasing(section: str) -> None:
    data = _raw_yaml()
    entries = copy.deepcopy(data[section])
    entries[1]["from"] = entries[0]["from"]
    data[section] = entries
    with pytest.raises(TariffError, match="later than"):
        TariffBook.from_mapping(data)
    data[section] = list(reversed(entries))
    with pytest.raises(TariffError):
        TariffBook.from_mapping(data)


def test_rejects_missing_voltage_price() -> None:
    data = _raw_yaml()
    del data["production"][0]["prices"]["6_22kv"]
    with pytest.raises(TariffError):
        TariffBook.from_mapping(data)


# --- properties -------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(
    kwh=st.integers(0, 100_000),
    extra=st.integers(0, 1_000),
    start=st.dates(date(2023, 1, 1), date(2026, 12, 31)),
    days=st.integers(1, 62),
    households=st.integers(1, 5),
)
def test_bill_adds_up_and_grows_with_kwh(
    kwh: int, extra: int, start: date, days: int, households: int
) -> None:
    book = default_tariffs()
    end = start + timedelta(days=days - 1)
    bill = book.compute(kwh, start, end, households=households)
    assert sum(line.kwh for line in bill.lines) == kwh
    assert all(line.kwh > 0 and line.amount == line.kwh * line.unit_price for line in bill.lines)
    assert sum(line.amount for line in bill.lines) == bill.before_vat
    assert bill.total == bill.before_vat + bill.vat
    for more in (kwh + 1, kwh + extra):
        assert book.compute(more, start, end, households=households).total >= bill.total
