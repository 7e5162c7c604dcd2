"""Which language a message is written in, when that is clear, and the typed requests
to switch language ("English please", "tiếng Việt") (issue 15).

The bot answers in the customer's chosen language; a message clearly written in the
other one switches it. "Clearly" is strict on purpose: Vietnamese customers use
English words ("ok", "menu", "hello", "thank you"), type Vietnamese without
diacritics ("mat dien roi", "tien dien bao nhieu"), and send codes and numbers, and
none of those may flip the language. A word is read as:

- Vietnamese when it carries a Vietnamese letter or tone mark, or is a chat
  abbreviation of normalize.py ("ko", "dc"), or has the shape of a Vietnamese
  syllable without being a common English word ("dien", "roi", "bao");
- English when it is a known English word that cannot be a Vietnamese syllable
  ("electricity", "bill", "when");
- neither when it is an English word with a Vietnamese shape ("my", "to", "pay"), an
  English word Vietnamese chat uses ("ok", "hello", "please"), an unknown word
  (a name, a typo, gibberish) or holds a digit.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

from nlu.normalize import ABBREVIATIONS, AMBIGUOUS, fold

# Onset, vowels (with the semivowels i/y/o/u of rhymes such as "oai", "uyen"), final.
_SYLLABLE = re.compile(
    r"(?:ngh|ng|nh|ch|gh|gi|kh|ph|qu|th|tr|[bcdghklmnprstvx])?[aeiouy]{1,3}(?:ch|nh|ng|[cmnpt])?"
)
_LETTERS = re.compile(r"[^\W\d_]+")

# English words (nlu/data/english_words.txt): only a listed word counts as English, so
# gibberish ("asdkjh qwe") and names proves nothing. A listed word that also spells a
# Vietnamese syllable ("my" is "mỹ", "to" is "to"/"tô") proves neither language.
_ENGLISH = frozenset(
    line.strip()
    for line in (Path(__file__).parent / "data" / "english_words.txt")
    .read_text("utf-8")
    .splitlines()
    if line.strip() and not line.startswith("#")
)

# English words Vietnamese chat borrows: they say nothing about the writer's language.
# fmt: off
_BORROWED = frozenset((
    "ok", "okay", "oke", "alo", "hello", "helo", "hi", "hey", "bye", "thanks", "thank", "thx",
    "tks", "please", "pls", "sorry", "menu", "help", "app", "bot", "chatbot", "admin", "ad",
    "online", "email", "mail", "sms", "pin", "otp", "code", "shop", "wifi", "web", "link", "qr",
    "login", "hotline", "evn", "atm", "visa", "momo", "zalo", "zalopay", "vnpay", "cafe",
    "homestay", "led", "aptomat",
))
# fmt: on


def word_language(word: str) -> str | None:
    """ "vi", "en" or None (either, or neither) for one word as typed."""
    if any(ch.isdigit() for ch in word):
        return None
    if _has_vietnamese_marks(word):
        return "vi"
    folded = fold(word)
    if not folded or folded in _BORROWED:
        return None
    if folded in ABBREVIATIONS or folded in AMBIGUOUS:
        return "vi"
    if _SYLLABLE.fullmatch(folded):
        return None if folded in _ENGLISH else "vi"
    return "en" if folded in _ENGLISH else None


def clear_language(text: str) -> str | None:
    """ "en" or "vi" when `text` is clearly written in that language, else None.

    Clearly English: at least two words, one of them English, and at least twice as
    many English words as Vietnamese ones. Clearly Vietnamese: at least two words, none
    English, and either a Vietnamese mark or three Vietnamese words.

    >>> clear_language("How much is my electricity bill?"), clear_language("mat dien roi")
    ('en', 'vi')
    >>> clear_language("ok"), clear_language("thank you"), clear_language("PC05CC0123456")
    (None, None, None)
    """
    words = _LETTERS.findall(unicodedata.normalize("NFC", text))
    if len(words) < 2:
        return None
    languages = [word_language(w) for w in words]
    english, vietnamese = languages.count("en"), languages.count("vi")
    if english >= 1 and english >= 2 * vietnamese:
        return "en"
    if english == 0 and (vietnamese >= 3 or any(_has_vietnamese_marks(w) for w in words)):
        return "vi" if vietnamese >= 1 else None
    return None


def _has_vietnamese_marks(word: str) -> bool:
    """A letter only Vietnamese writes: đ, or a vowel with a diacritic."""
    lowered = word.lower()
    if "đ" in lowered:
        return True
    decomposed = unicodedata.normalize("NFD", lowered)
    return any(unicodedata.combining(ch) for ch in decomposed)


# --- typed requests to switch ----------------------------------------------------------

_TO_ENGLISH = ("english", "tieng anh", "in english", "speak english", "english please")
_TO_VIETNAMESE = ("tieng viet", "vietnamese", "in vietnamese", "noi tieng viet")
_BEFORE = (
    "",
    "please ",
    "pls ",
    "can you ",
    "can you speak ",
    "switch to ",
    "change to ",
    "chuyen sang ",
    "doi sang ",
    "dung ",
    "noi ",
    "cho toi ",
    "cho minh ",
)
_AFTER = ("", " please", " pls", " di", " nhe", " duoc khong", " duoc ko", " language")


def switch_requests(language: str) -> tuple[str, ...]:
    """The folded phrases that ask for `language` ("en" or "vi"), as the router's words:
    "English please", "in English", "switch to English", "nói tiếng Việt đi"..."""
    cores = _TO_ENGLISH if language == "en" else _TO_VIETNAMESE
    phrases = {
        " ".join(f"{before}{core}{after}".split())
        for core in cores
        for before in _BEFORE
        for after in _AFTER
    }
    return tuple(sorted(phrases))
