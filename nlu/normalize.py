"""Text normalisation for matching what customers type.

Customers often type without diacritics ("huy" for "hủy"), in any case, with extra
spaces, emoji or punctuation. `fold` maps all of those to one comparable form.
"""

from __future__ import annotations

import re
import unicodedata

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
