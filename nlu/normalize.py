"""Text normalisation for matching what customers type.

Customers often type without diacritics ("huy" for "hủy"), in any case, with extra
spaces, emoji or punctuation. `fold` maps all of those to one comparable form.

`normalize` goes further for the intent classifier (issue 8): it also squeezes
stretched letters ("quaaaa") and expands chat abbreviations ("ko dc" -> "khong duoc").
The abbreviations are tables below, not code: a word maps to one expansion, or, when
it is ambiguous ("hd" is "hóa đơn" or "hợp đồng"), to a default and the senses its
neighbouring words select.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

_NON_WORD = re.compile(r"[^\w]+", re.UNICODE)
# đ/Đ is a letter of its own in Unicode, not d plus a combining mark.
_SPECIAL = str.maketrans({"đ": "d", "Đ": "d"})


def strip_diacritics(text: str) -> str:
    """'Hủy bỏ' -> 'Huy bo'; 'Điện' -> 'dien' (keeps case elsewhere)."""
    decomposed = unicodedata.normalize("NFD", text.translate(_SPECIAL))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def fold(text: str) -> str:
    """Lower-case, without diacritics, punctuation or emoji, single-spaced.

    >>> fold("  ⬅ Quay LẠI!! ")
    'quay lai'
    """
    folded = strip_diacritics(unicodedata.normalize("NFC", text)).casefold()
    return " ".join(_NON_WORD.sub(" ", folded).replace("_", " ").split())


# --- normalisation for the classifier -------------------------------------------------

# Whole words (already folded) and what they stand for; "" drops the word.
ABBREVIATIONS: dict[str, str] = {
    # không
    "ko": "khong",
    "k": "khong",
    "kg": "khong",
    "khg": "khong",
    "khog": "khong",
    "hok": "khong",
    "hk": "khong",
    "khum": "khong",
    # được
    "dc": "duoc",
    "dk": "dang ky",
    "dky": "dang ky",
    # people and parties
    "ng": "nguoi",
    "e": "em",
    "mik": "minh",
    "mn": "moi nguoi",
    "mng": "moi nguoi",
    "nv": "nhan vien",
    "cty": "cong ty",
    # utility words
    "sdt": "so dien thoai",
    "stk": "so tai khoan",
    "td": "tien dien",
    "hddt": "hoa don dien tu",
    "mk": "mat khau",
    "cto": "cong to",
    "ktra": "kiem tra",
    "tp": "thanh pho",
    "hnay": "hom nay",
    "hqua": "hom qua",
    "trc": "truoc",
    "onl": "online",
    # question words
    "j": "gi",
    "ntn": "nhu the nao",
    "nhiu": "nhieu",
    "z": "vay",
    # chat words
    "r": "roi",
    "vs": "voi",
    "wa": "qua",
    "bik": "biet",
    "bit": "biet",
    "mun": "muon",
    "lm": "lam",
    "tks": "cam on",
    "thks": "cam on",
    "thanks": "cam on",
    "thank": "cam on",
    "thx": "cam on",
    "camon": "cam on",
    "ok": "ok",
    "oke": "ok",
    "okie": "ok",
    "oki": "ok",
    "okay": "ok",
    "oce": "ok",
    "okela": "ok",
    # polite particles (ạ, à, ạk) carry no intent: always dropped
    "a": "",
    "ah": "",
    "ak": "",
}

# Several words read as one ("thank you" -> "cam on"), matched on folded text.
PHRASES: dict[str, str] = {
    "thank you": "cam on",
    "thank u": "cam on",
    "thanks you": "cam on",
    "o ke": "ok",
}


@dataclass(frozen=True)
class Sense:
    """One reading of an ambiguous abbreviation and the neighbours that select it.

    Cues are folded phrases: `before` must end just before the word (compared with
    the already normalised words), `after` must start just after it.
    """

    expansion: str
    before: frozenset[str] = frozenset()
    after: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Ambiguous:
    """An abbreviation with a default reading and the senses its context can select."""

    default: str
    senses: tuple[Sense, ...]


AMBIGUOUS: dict[str, Ambiguous] = {
    # "hđ": a bill unless the words around it are about a contract.
    "hd": Ambiguous(
        "hoa don",
        (
            Sense(
                "hop dong",
                before=frozenset(
                    {
                        "ky",
                        "ki",
                        "cham dut",
                        "huy",
                        "gia han",
                        "thanh ly",
                        "doi chu",
                        "chu",
                        "sang ten",
                        "doi ten",
                        "chuyen ten",
                        "ket thuc",
                        "mau",
                        "thay doi chu the",
                        "chu the",
                        "ben mua",
                        "lam",
                    }
                ),
                after=frozenset({"mua ban", "mbd", "het han", "cung cap dien", "dung dien"}),
            ),
        ),
    ),
    # "bn": "bao nhiêu" as a question; "bạn" when spoken to ("bn ơi", "cảm ơn bn").
    "bn": Ambiguous(
        "bao nhieu",
        (
            Sense(
                "ban", before=frozenset({"cam on", "chao", "hi", "hello"}), after=frozenset({"oi"})
            ),
        ),
    ),
    # "tt": "thanh toán" (pay) unless it is the registered "thông tin".
    "tt": Ambiguous(
        "thanh toan",
        (
            Sense(
                "thong tin",
                before=frozenset({"doi", "thay doi", "cap nhat", "sua", "dieu chinh", "sai"}),
                after=frozenset({"ca nhan", "khach hang", "dang ky", "tai khoan", "lien he"}),
            ),
        ),
    ),
    # "đt": a phone, but "hđ đt" is an electronic bill.
    "dt": Ambiguous("dien thoai", (Sense("dien tu", before=frozenset({"hoa don"})),)),
    # "kh": "không", but "mã KH" is the customer code.
    "kh": Ambiguous(
        "khong", (Sense("khach hang", before=frozenset({"ma", "ten", "thong tin", "cham soc"})),)
    ),
    # "v": "vậy" only after a question word ("sao v"); alone it may be "vâng".
    "v": Ambiguous("v", (Sense("vay", before=frozenset({"sao", "gi", "the", "nao", "dau"})),)),
}

_LONGEST_CUE = 4  # words in the longest cue phrase above
# Stretched letters: 3+ of a letter is always one; 2 is one except u and o, which
# Vietnamese doubles ("cứu" -> "cuu", "xoong").
_STRETCHED = re.compile(r"([a-z])\1{2,}|([a-np-tv-z])\2")
_PHRASE = re.compile(r"\b(?:" + "|".join(re.escape(p) for p in PHRASES) + r")\b")


def normalize(text: str) -> str:
    """The form the intent classifier reads: folded, squeezed and abbreviations expanded.

    >>> normalize("Ko đóng đc tiền điện ạ!!")
    'khong dong duoc tien dien'
    >>> normalize("ký hđ mới"), normalize("hđ tháng 9")
    ('ky hop dong moi', 'hoa don thang 9')
    """
    words = [_squeeze(word) for word in fold(text).split()]
    words = _PHRASE.sub(lambda m: PHRASES[m.group(0)], " ".join(words)).split()
    out: list[str] = []
    for index, word in enumerate(words):
        if word in AMBIGUOUS:
            expansion = _resolve(AMBIGUOUS[word], out, words[index + 1 :])
        else:
            expansion = ABBREVIATIONS.get(word, word)
        if expansion:
            out.extend(expansion.split())
    return " ".join(out)


def _squeeze(word: str) -> str:
    """'quaaaa' -> 'qua', 'khongg' -> 'khong'; a listed abbreviation ("tt") is kept."""
    if word in ABBREVIATIONS or word in AMBIGUOUS:
        return word
    return _STRETCHED.sub(lambda m: m.group(1) or m.group(2), word)


def _resolve(ambiguous: Ambiguous, before: list[str], after: list[str]) -> str:
    for sense in ambiguous.senses:
        for size in range(1, _LONGEST_CUE + 1):
            if size <= len(before) and " ".join(before[-size:]) in sense.before:
                return sense.expansion
            if size <= len(after) and " ".join(after[:size]) in sense.after:
                return sense.expansion
    return ambiguous.default
