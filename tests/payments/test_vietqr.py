"""VietQR payloads, payment references and their recovery from bank statements."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
import zxingcpp
from PIL import Image

from bot.payments import vietqr
from bot.payments.vietqr import (
    crc16,
    find_reference,
    find_references,
    is_reference,
    payload,
    qr_png,
    reference,
    transfer_text,
)

# A copy of shared/reference/vietqr-samples.txt, kept byte for byte.
SAMPLES = Path(__file__).with_name("vietqr-samples.txt")

# The parts of each sample, in the file's order (its descriptions say the same in words).
SAMPLE_PARTS = [
    ("970415", "113366668888", 79000, "Ung Ho Quy Vac Xin"),
    ("970415", "113366668888", 305230, "PC05CC0123456 T06 2025"),
    ("970436", "0011001234567", None, None),
]

REF = "TT7K3M9Q2XD"  # a valid reference: Crockford's check of 7K3M9Q2X is 13, "D"
WRONG_CHECK = "TT7K3M9Q2XA"
REF_WITH_0 = "TT0RD3R5AB3"
REF_WITH_1 = "TT4QZ8M1XRQ"
CODE = "PC05CC0123456"


def _samples() -> list[tuple[str, str]]:
    lines = SAMPLES.read_text(encoding="utf-8").splitlines()
    return [tuple(line.split("\t")) for line in lines if "\t" in line]  # type: ignore[misc]


def test_the_reference_file_holds_every_sample() -> None:
    samples = _samples()
    assert len(samples) == len(SAMPLE_PARTS)
    # The parts above are those the file describes.
    for (description, _), (bank_bin, account, amount, purpose) in zip(
        samples, SAMPLE_PARTS, strict=True
    ):
        assert "same account" in description or (bank_bin in description and account in description)
        assert (amount is None) == ("no amount" in description)
        if amount is not None:
            assert f"{amount:,} VND" in description
        if purpose is not None:
            assert f'purpose "{purpose}"' in description


@pytest.mark.parametrize("index", range(len(SAMPLE_PARTS)))
def test_payload_equals_the_published_sample_byte_for_byte(index: int) -> None:
    _, expected = _samples()[index]
    assert payload(*SAMPLE_PARTS[index]) == expected


@pytest.mark.parametrize("index", range(len(SAMPLE_PARTS)))
def test_crc_of_each_sample_body_is_its_last_four_characters(index: int) -> None:
    _, sample = _samples()[index]
    assert crc16(sample[:-4]) == sample[-4:]


def test_crc16_is_ccitt_false() -> None:
    assert crc16("123456789") == "29B1"  # the catalogue's check value of CRC-16/CCITT-FALSE


def test_static_payload_has_no_amount_and_dynamic_has_one() -> None:
    static = payload("970436", "0011001234567", None, None)
    dynamic = payload("970436", "0011001234567", 50000, None)
    assert static.startswith("000201010211") and "5405" not in static
    assert dynamic.startswith("000201010212") and "540550000" in dynamic


@pytest.mark.parametrize(
    ("args", "complaint"),
    [
        (("97041", "113366668888", 1000, None), "BIN"),
        (("97041A", "113366668888", 1000, None), "BIN"),
        (("970415", "", 1000, None), "account"),
        (("970415", "1" * 20, 1000, None), "account"),
        (("970415", "1133-6666", 1000, None), "account"),
        (("970415", "113366668888", 0, None), "amount"),
        (("970415", "113366668888", -5, None), "amount"),
        (("970415", "113366668888", 10**13, None), "amount"),
        (("970415", "113366668888", 1000.5, None), "amount"),
        (("970415", "113366668888", True, None), "amount"),
        (("970415", "113366668888", 1000, "x" * 26), "purpose"),
        (("970415", "113366668888", 1000, "Tiền điện"), "purpose"),
        (("970415", "113366668888", 1000, ""), "purpose"),
    ],
)
def test_payload_refuses_bad_parts_saying_which(args: tuple, complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint):
        payload(*args)


def test_largest_amount_and_longest_purpose_fit() -> None:
    text = payload("970415", "1" * 19, 10**13 - 1, "x" * 25)
    assert "5413" + "9" * 13 in text and "62290825" + "x" * 25 in text
    assert crc16(text[:-4]) == text[-4:]


def test_references_are_well_formed_and_distinct() -> None:
    refs = [reference() for _ in range(2000)]
    assert len(set(refs)) == len(refs)
    for ref in refs:
        assert re.fullmatch(r"TT[0-9A-HJKMNP-TV-Z]{9}", ref)
        assert is_reference(ref)
        assert find_reference(ref) == ref


def test_is_reference_catches_one_wrong_character_and_a_swap() -> None:
    assert is_reference(REF)
    body = REF[2:]
    for i, char in enumerate(body):
        for other in vietqr.ALPHABET:
            if other != char:
                assert not is_reference("TT" + body[:i] + other + body[i + 1 :])
    for i in range(len(body) - 1):
        if body[i] != body[i + 1]:
            swapped = body[:i] + body[i + 1] + body[i] + body[i + 2 :]
            assert not is_reference("TT" + swapped)


def test_transfer_text_is_reference_space_customer_code() -> None:
    assert transfer_text(REF, CODE) == "TT7K3M9Q2XD PC05CC0123456"
    with pytest.raises(ValueError, match="25"):
        transfer_text(REF, CODE + "X")


@pytest.mark.parametrize(
    ("description", "expected"),
    [
        # Vietcombank: bank code, trace number, the text lower-cased, a tail of its own.
        ("MBVCB.3312345.tt7k3m9q2xd pc05cc0123456.CT tu 0011001234567 NGUYEN VAN AN", REF),
        # Written in groups by a customer who typed it off the screen.
        ("TT 7K3M 9Q2XD", REF),
        ("Thanh toan tien dien TT-7K3M-9Q2X-D PC05CC0123456", REF),
        # Techcombank / NAPAS IBFT: the space between reference and code dropped.
        ("IBFT TT7K3M9Q2XDPC05CC0123456", REF),
        # MB: a prefix glued on and a FT number after.
        ("MB 0901234567-TT7K3M9Q2XD PC05CC0123456- Ma GD ACSP/ FT25157123456789", REF),
        # ACB: upper case, its own suffix.
        ("NGUYEN VAN AN CHUYEN TIEN TT7K3M9Q2XD PC05CC0123456 GD 123456-060525 10:23:11", REF),
        # Confusions: O for 0, l and I for 1.
        ("tt ord3r5ab3 pc05cc0123456", REF_WITH_0),
        ("TT4QZ8MLXRQ", REF_WITH_1),
        ("tt4qz8mIxrq PC05CC0123456", REF_WITH_1),
    ],
)
def test_reference_is_found_in_bank_descriptions(description: str, expected: str) -> None:
    assert find_reference(description) == expected


@pytest.mark.parametrize(
    "description",
    [
        "",
        "CHUYEN TIEN DIEN THANG 6 PC05CC0123456",
        "Thanh toan tien dien",
        f"MBVCB.3312345.{WRONG_CHECK} PC05CC0123456",  # check character wrong
        "TT7K3M9Q2X PC05CC0123456",  # check character missing
        "TT7K3M9Q2",  # cut short
        "TTUK3M9Q2XD",  # U is not a Crockford character
    ],
)
def test_no_reference_is_found_where_there_is_none(description: str) -> None:
    assert find_reference(description) is None
    assert find_references(description) == []


def test_a_reference_in_one_piece_comes_before_a_chance_match_across_words() -> None:
    # Without its spaces "TT TIEN THANG 5" reads "TTTIENTHANG5", and "TT1ENTHANG5" (I as 1)
    # happens to have a valid check character; the reference written whole goes first.
    found = find_references(f"TT TIEN THANG 5 {REF} PC05CC0123456")
    assert found == [REF, "TT1ENTHANG5"]
    assert find_reference(f"TT TIEN THANG 5 {REF}") == REF


@pytest.mark.parametrize("index", range(len(SAMPLE_PARTS)))
def test_qr_png_decodes_to_the_payload(index: int) -> None:
    _, sample = _samples()[index]
    png = qr_png(sample)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    image = Image.open(io.BytesIO(png))
    decoded = zxingcpp.read_barcodes(image)
    assert [code.text for code in decoded] == [sample]
    assert decoded[0].format == zxingcpp.BarcodeFormat.QRCode


def test_qr_png_scale_and_quiet_zone() -> None:
    sample = _samples()[0][1]
    small = Image.open(io.BytesIO(qr_png(sample, scale=2))).convert("L")
    large = Image.open(io.BytesIO(qr_png(sample, scale=8)))
    assert large.size == (4 * small.size[0], 4 * small.size[1])
    # 4 blank modules (8 pixels at scale 2) on every side, dark modules inside.
    width, height = small.size
    quiet = [
        small.getpixel((x, y))
        for x in range(width)
        for y in range(height)
        if min(x, y, width - 1 - x, height - 1 - y) < 8
    ]
    assert set(quiet) == {255}
    assert small.getpixel((8, 8)) == 0  # the finder pattern's corner
    with pytest.raises(ValueError):
        qr_png(sample, scale=0)
