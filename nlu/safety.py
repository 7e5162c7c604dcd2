"""Danger first: spot a message about a fallen wire, fire or electric shock.

Checked before anything else reads the text (router.py), so a customer in the middle
of a form who writes "dây điện đứt" gets safety advice at once. Matching is on folded
text (no diacritics, lower case), as customers often type without accents.
"""

from __future__ import annotations

import re

from nlu.normalize import fold

_DANGER_PHRASES = (
    # fallen or broken wire / pole
    "day dien dut",
    "dut day dien",
    "day dien roi",
    "roi day dien",
    "day dien bi dut",
    "day dien sa",
    "day dien vong",
    "cot dien nga",
    "nga cot dien",
    "do cot dien",
    "cot dien do",
    "cot dien bi nga",
    "cot dien nghieng",
    # fire, sparks, explosion
    "chap chay",
    "chap dien",
    "chay no",
    "no tram",
    "tram bien ap no",
    "no cong to",
    "chay cong to",
    "chay day dien",
    "day dien chay",
    "boc chay",
    "toe lua",
    "tia lua dien",
    "phat lua",
    # electric shock, leakage
    "dien giat",
    "bi giat",
    "giat dien",
    "ro dien",
    "ro ri dien",
    "dien ro",
    # English
    "fallen wire",
    "live wire",
    "power line down",
    "electric shock",
    "electrocuted",
    "sparking",
    "transformer fire",
    "transformer exploded",
)
_PATTERN = re.compile(r"\b(?:" + "|".join(re.escape(p) for p in _DANGER_PHRASES) + r")\b")


def is_danger(text: str) -> bool:
    """True when `text` reports a danger to life (fallen wire, fire, shock...)."""
    return bool(_PATTERN.search(fold(text)))
