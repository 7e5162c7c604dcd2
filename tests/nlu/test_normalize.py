"""normalize(): what the intent classifier reads (issue 8); fold() stays as it was."""

from __future__ import annotations

import unicodedata

import pytest

from nlu.normalize import fold, normalize, strip_diacritics


@pytest.mark.parametrize(
    ("typed", "normalized"),
    [
        ("Mất điện rồi!!", "mat dien roi"),
        ("ko dong dc tien dien", "khong dong duoc tien dien"),
        ("Không đóng được tiền điện ạ", "khong dong duoc tien dien"),
        ("hok đc", "khong duoc"),
        ("k biết", "khong biet"),
        ("kh dc", "khong duoc"),
        ("đẹp quaaaa", "dep qua"),
        ("khongg", "khong"),
        ("ĐIỆN LỰC", "dien luc"),
        ("sđt của e", "so dien thoai cua em"),
        ("sdt", "so dien thoai"),
        ("td tháng này", "tien dien thang nay"),
        ("quên mk", "quen mat khau"),
        ("gặp ng thật", "gap nguoi that"),
        ("j vậy", "gi vay"),
        ("hết bn tiền", "het bao nhieu tien"),
        ("cảm ơn bn", "cam on ban"),
        ("làm ntn", "lam nhu the nao"),
        ("cty tôi", "cong ty toi"),
        ("đổi đt", "doi dien thoai"),
        ("tks", "cam on"),
        ("thanks", "cam on"),
        ("Thank you", "cam on"),
        ("cám ơn", "cam on"),
        ("oke", "ok"),
        ("oki", "ok"),
        ("đi vs tôi", "di voi toi"),
        ("mất điện r", "mat dien roi"),
        ("sao z", "sao vay"),
        ("sao v", "sao vay"),
        ("mã kh", "ma khach hang"),
        ("thay đổi tt cá nhân", "thay doi thong tin ca nhan"),
        ("tt tiền điện", "thanh toan tien dien"),
    ],
)
def test_normalize_expands_chat_writing(typed: str, normalized: str) -> None:
    assert normalize(typed) == normalized


@pytest.mark.parametrize(
    ("typed", "normalized"),
    [
        ("hd thang 9", "hoa don thang 9"),
        ("hđ điện tử", "hoa don dien tu"),
        ("hd dien tu", "hoa don dien tu"),
        ("hđ đt", "hoa don dien tu"),
        ("xem hd kỳ 2", "xem hoa don ky 2"),
        ("ky hd", "ky hop dong"),
        ("ký hđ mua bán điện", "ky hop dong mua ban dien"),
        ("cham dut hd", "cham dut hop dong"),
        ("gia han hd", "gia han hop dong"),
        ("doi chu hd", "doi chu hop dong"),
        ("hd het han roi", "hop dong het han roi"),
    ],
)
def test_hd_is_a_bill_unless_the_context_says_contract(typed: str, normalized: str) -> None:
    assert normalize(typed) == normalized


def test_particles_are_dropped_everywhere() -> None:
    assert normalize("dạ em cảm ơn ạ") == normalize("dạ em cảm ơn") == "da em cam on"
    assert normalize("mất điện à") == "mat dien"


def test_r_and_v_only_expand_as_whole_words() -> None:
    assert normalize("trưa rồi") == "trua roi"  # the r inside a word stays
    assert normalize("v ạ") == "v"  # alone, "v" may be "vâng": left as is


def test_vietnamese_double_vowels_survive_squeezing() -> None:
    assert normalize("cứu tôi") == "cuu toi"
    assert normalize("xoong") == "xoong"


def test_decomposed_input_normalizes_like_composed() -> None:
    text = "Hóa đơn tháng này"
    assert normalize(unicodedata.normalize("NFD", text)) == normalize(text) == "hoa don thang nay"


def test_fold_is_unchanged() -> None:
    assert fold("  ⬅ Quay LẠI!! ") == "quay lai"
    assert fold("hđ   ko dc") == "hd ko dc"  # no abbreviation expansion in fold
    assert fold("quaaaa") == "quaaaa"
    assert strip_diacritics("Hủy bỏ") == "Huy bo"
    assert strip_diacritics("Điện") == "dien"
