"""Which language a message is clearly written in, and the typed language switches
(issue 15): English words, Vietnamese marks and syllables; never a short word or a code."""

from __future__ import annotations

import pytest

from nlu.language import clear_language, switch_requests
from nlu.normalize import fold
from nlu.training import DEFAULT_DATA, read_examples


@pytest.mark.parametrize(
    "text",
    [
        "How much is my electricity bill?",
        "no electricity",
        "I want to pay my bill",
        "power outage in my area",
        "English please",
        "when will the power be back in Hoi An",
    ],
)
def test_clear_english(text: str) -> None:
    assert clear_language(text) == "en"


@pytest.mark.parametrize(
    "text",
    ["mat dien roi", "tien dien bao nhieu", "Mất điện rồi", "cho toi hoi", "hđ tháng 9"],
)
def test_clear_vietnamese(text: str) -> None:
    assert clear_language(text) == "vi"


@pytest.mark.parametrize(
    "text",
    [
        "ok",
        "menu",
        "hello",
        "thank you",
        "ok bye",
        "hi ad",
        "PC05CC0123456",
        "0914222333",
        "134 kWh",
        "Hoi An",
        "Da Nang",
        "asdkjh qwe",
        "bill tien dien thang nay",  # mixed: the Vietnamese words win, nothing switches
    ],
)
def test_short_words_codes_names_and_mixed_text_prove_nothing(text: str) -> None:
    assert clear_language(text) is None


def test_no_held_out_vietnamese_sentence_reads_as_english() -> None:
    held_out = read_examples(DEFAULT_DATA.parent / "test.yml")
    assert [e.text for e in held_out if clear_language(e.text) == "en"] == []


def test_no_held_out_english_sentence_reads_as_vietnamese() -> None:
    held_out = read_examples(DEFAULT_DATA.parent / "test_en.yml")
    english = [clear_language(e.text) for e in held_out]
    assert "vi" not in english
    assert english.count("en") >= 0.9 * len(english)


def test_switch_requests_are_folded_phrases_of_each_language() -> None:
    english, vietnamese = switch_requests("en"), switch_requests("vi")
    assert {"english please", "in english", "switch to english", "english"} <= set(english)
    assert {"tieng viet", "noi tieng viet", "vietnamese", "chuyen sang tieng viet"} <= set(
        vietnamese
    )
    assert not set(english) & set(vietnamese)
    assert all(fold(p) == p for p in (*english, *vietnamese))
