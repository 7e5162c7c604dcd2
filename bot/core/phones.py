"""Vietnamese mobile numbers in E.164, for the layers that may not borrow a form's
parser: a channel normalising the phone of a shared contact."""

from __future__ import annotations

import re
import unicodedata

# Mobile prefixes after the 2018 renumbering (the digit after 0): 3, 5, 7, 8, 9.
# "+84 0905…" keeps the trunk 0 after the country code: a common slip, read as meant.
_MOBILE = re.compile(r"(?:\+?840?|0)([35789][0-9]{8})", re.ASCII)


def mobile_e164(text: str) -> str | None:
    """'0905 123 456' or '84905123456' -> '+84905123456'; None when it is no Vietnamese
    mobile number. Full-width digits ("０９０５") count (NFKC)."""
    digits = re.sub(r"[\s.\-()]", "", unicodedata.normalize("NFKC", text).strip())
    match = _MOBILE.fullmatch(digits)
    return "+84" + match.group(1) if match else None
