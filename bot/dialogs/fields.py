"""Typed values customers give us, parsed and normalised.

Phone numbers are stored in E.164 (+84...), whatever way they were typed.
"""

from __future__ import annotations

import re

# Mobile prefixes after the 2018 renumbering (the digit after 0): 3, 5, 7, 8, 9.
_MOBILE = re.compile(r"^(?:\+?84|0)([35789]\d{8})$")


class FieldError(ValueError):
    """The value cannot be accepted; the message says why, for the customer."""


def parse_phone(text: str) -> str:
    """A Vietnamese mobile number in E.164: '0905 123 456' -> '+84905123456'.

    Raises:
        FieldError: the text is not a Vietnamese mobile number.
    """
    digits = re.sub(r"[\s.\-()]", "", text)
    match = _MOBILE.match(digits)
    if not match:
        raise FieldError("not a Vietnamese mobile number (10 digits such as 0905 123 456)")
    return "+84" + match.group(1)
