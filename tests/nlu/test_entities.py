"""extract_entities(): values and offsets in the text as the customer typed it (issue 8)."""

from __future__ import annotations

import unicodedata
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from nlu.entities import EVNCPC_PROVINCES, Entity, extract_entities

TODAY = date(2026, 11, 26)


def only(text: str, today: date = TODAY) -> Entity:
    entities = extract_entities(text, today=today)
    assert len(entities) == 1, entities
    return entities[0]


def found(text: str) -> list[tuple[str, Any, str]]:
    return [(e.entity, e.value, e.text) for e in extract_entities(text, today=TODAY)]


@pytest.mark.parametrize(
    ("text", "entity", "value", "span"),
    [
        ("mã PC05CC0123456 nhé", "customer_code", "PC05CC0123456", "PC05CC0123456"),
        ("ma kh pc05cc 0123456", "customer_code", "PC05CC0123456", "pc05cc 0123456"),
        ("PP01000123456", "customer_code", "PP01000123456", "PP01000123456"),
        ("mã PQ0200 012 3456", "customer_code", "PQ02000123456", "PQ0200 012 3456"),
        ("sđt 0905 123 456 nha", "phone", "+84905123456", "0905 123 456"),
        ("0905.123.456", "phone", "+84905123456", "0905.123.456"),
        ("gọi +84905123456", "phone", "+84905123456", "+84905123456"),
        ("so 0389-123-456", "phone", "+84389123456", "0389-123-456"),
        ("email An.Nguyen@Gmail.com nhé", "email", "an.nguyen@gmail.com", "An.Nguyen@Gmail.com"),
        ("tính tiền 250 số", "kwh", 250, "250 số"),
        ("250kwh", "kwh", 250, "250kwh"),
        ("dùng 250 kWh", "kwh", 250, "250 kWh"),
        ("250 ký", "kwh", 250, "250 ký"),
        ("250 kí", "kwh", 250, "250 kí"),
        ("250 so dien het bn", "kwh", 250, "250 so dien"),
        ("1.250 số", "kwh", 1250, "1.250 số"),
        ("300k", "money", 300_000, "300k"),
        ("nạp 300 nghìn", "money", 300_000, "300 nghìn"),
        ("1,2 triệu", "money", 1_200_000, "1,2 triệu"),
        ("1tr2", "money", 1_200_000, "1tr2"),
        ("1 triệu 250 nghìn", "money", 1_250_000, "1 triệu 250 nghìn"),
        ("305.230 đ", "money", 305_230, "305.230 đ"),
        ("305230 dong", "money", 305_230, "305230 dong"),
        ("đã trả 1.500.000 đồng", "money", 1_500_000, "1.500.000 đồng"),
    ],
)
def test_codes_contacts_and_amounts(text: str, entity: str, value: Any, span: str) -> None:
    result = only(text)
    assert (result.entity, result.value, result.text) == (entity, value, span)
    assert text[result.start : result.end] == span


@pytest.mark.parametrize(
    ("text", "entity", "value", "span"),
    [
        ("lịch cắt điện 1/10", "date", "2026-10-01", "1/10"),
        ("ngày 5/12 có cúp không", "date", "2026-12-05", "5/12"),  # the coming 5 December
        ("01/10/2026", "date", "2026-10-01", "01/10/2026"),
        ("1-10-2026", "date", "2026-10-01", "1-10-2026"),
        ("ngày 5 tháng 12", "date", "2026-12-05", "ngày 5 tháng 12"),
        ("hôm nay", "date", "2026-11-26", "hôm nay"),
        ("ngay mai", "date", "2026-11-27", "ngay mai"),
        ("tháng 10", "period", {"year": 2026, "month": 10, "term": None}, "tháng 10"),
        ("thang 10", "period", {"year": 2026, "month": 10, "term": None}, "thang 10"),
        ("hóa đơn tháng 12", "period", {"year": 2025, "month": 12, "term": None}, "tháng 12"),
        ("T10/2026", "period", {"year": 2026, "month": 10, "term": None}, "T10/2026"),
        ("10/2026", "period", {"year": 2026, "month": 10, "term": None}, "10/2026"),
        ("t9", "period", {"year": 2026, "month": 9, "term": None}, "t9"),
        (
            "kỳ 2 tháng 9 năm 2026",
            "period",
            {"year": 2026, "month": 9, "term": 2},
            "kỳ 2 tháng 9 năm 2026",
        ),
        ("ky 1 thang 3", "period", {"year": 2026, "month": 3, "term": 1}, "ky 1 thang 3"),
        ("tháng này", "period", {"year": 2026, "month": 11, "term": None}, "tháng này"),
        ("tháng trước", "period", {"year": 2026, "month": 10, "term": None}, "tháng trước"),
        (
            "thang 10 nam ngoai",
            "period",
            {"year": 2025, "month": 10, "term": None},
            "thang 10 nam ngoai",
        ),
    ],
)
def test_dates_and_periods(text: str, entity: str, value: Any, span: str) -> None:
    result = only(text)
    assert (result.entity, result.value, result.text) == (entity, value, span)


def test_periods_resolve_against_today() -> None:
    assert only("tháng trước", today=date(2026, 1, 15)).value == {
        "year": 2025,
        "month": 12,
        "term": None,
    }
    assert only("tháng 10", today=date(2026, 9, 1)).value["year"] == 2025  # not in the future
    assert only("tháng 9", today=date(2026, 9, 1)).value["year"] == 2026


def test_today_defaults_to_the_date_in_vietnam() -> None:
    now = datetime.now(ZoneInfo("Asia/Ho_Chi_Minh"))
    assert extract_entities("hôm nay")[0].value == now.date().isoformat()


HOI_AN = {"code": 20410, "name": "Phường Hội An", "province_code": 48}
DA_NANG = {"code": 48, "name": "Thành phố Đà Nẵng"}


@pytest.mark.parametrize(
    ("text", "span"),
    [
        ("hoi an", "hoi an"),
        ("phuong hoi an", "phuong hoi an"),
        ("Phường Hội An", "Phường Hội An"),
        ("lịch cúp điện ở Hội An", "Hội An"),
        ("điểm thu P. Hội An", "P. Hội An"),
    ],
)
def test_a_ward_in_any_spelling(text: str, span: str) -> None:
    first = extract_entities(text, today=TODAY)[0]
    assert (first.entity, first.value, first.text) == ("ward", HOI_AN, span)


@pytest.mark.parametrize("text", ["da nang", "Đà Nẵng", "tp Đà Nẵng", "thành phố đà nẵng"])
def test_a_province_in_any_spelling(text: str) -> None:
    assert found(text) == [("province", DA_NANG, text)]


def test_longest_place_name_wins() -> None:
    assert found("lịch cắt điện Hội An Đông")[0][1]["name"] == "Phường Hội An Đông"


def test_names_with_double_spaces_in_the_package_match_single_spaced() -> None:
    assert found("phường Buôn Ma Thuột")[0][1]["name"] == "Phường Buôn Ma Thuột"


def test_a_ward_name_shared_by_provinces_lists_evncpc_first() -> None:
    candidates = [value for entity, value, _ in found("phường Tân An") if entity == "ward"]
    assert len(candidates) > 1
    assert candidates[0]["province_code"] in EVNCPC_PROVINCES


def test_a_province_named_nearby_ranks_its_ward_first() -> None:
    entities = found("phường Tân An, tỉnh Đắk Lắk")
    assert entities[0][1]["province_code"] == 66
    assert entities[-1] == ("province", {"code": 66, "name": "Đắk Lắk"}, "tỉnh Đắk Lắk")


def test_former_province_names_map_to_the_merged_province() -> None:
    assert found("quảng nam") == [("province", DA_NANG, "quảng nam")]


def test_offsets_are_in_the_original_even_when_decomposed() -> None:
    text = unicodedata.normalize("NFD", "điểm thu ở Hội An tháng này")
    for entity in extract_entities(text, today=TODAY):
        assert text[entity.start : entity.end] == entity.text
    assert [e.entity for e in extract_entities(text, today=TODAY)][-1] == "period"


def test_several_entities_in_one_message_in_order() -> None:
    text = "mã PC05CC0123456 tháng 10 dùng 250 số, sđt 0905123456"
    assert [(e.entity, e.text) for e in extract_entities(text, today=TODAY)] == [
        ("customer_code", "PC05CC0123456"),
        ("period", "tháng 10"),
        ("kwh", "250 số"),
        ("phone", "0905123456"),
    ]


@pytest.mark.parametrize(
    "text",
    [
        "tôi muốn hỏi",
        "tiền điện tăng vô lý",  # not Xã Tiên Điền
        "sử dụng điện an toàn",  # not Xã An Toàn
        "điện hỏng rồi",
        "nợ 2 kỳ rồi",  # two billing periods, not 2 kWh
        "no 2 ky",
        "thắng 2 trận",  # won, not February
        "thứ t2 nghỉ",  # Monday
        "tháng 9 đóng tiền",  # only the month; "9 đóng" is not 9 VND
        "ngày 31/02",
        "mình đổi số điện thoại",
        "đặt mã pin 1234",
    ],
)
def test_no_false_positives_on_plain_sentences(text: str) -> None:
    assert [e for e in extract_entities(text, today=TODAY) if e.entity != "period"] == []
    if "tháng" not in text:
        assert extract_entities(text, today=TODAY) == []
