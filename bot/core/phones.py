"""Vietnamese phone numbers: read as customers type them, kept in E.164, shown back the
way they write them.

Google's libphonenumber (the `phonenumbers` package) knows the Vietnamese numbering plan:
which ranges are mobile networks since the 2018 renumbering, and the landline area codes
(0236 Đà Nẵng, 024 Hà Nội...). So a number an SMS must reach (a login code) is read with
`parse_mobile`, and a number someone answers (a form's contact number) with
`parse_contact`, which also takes a landline.
"""

from __future__ import annotations

import re
import unicodedata

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumber, PhoneNumberFormat, PhoneNumberType

REGION = "VN"
COUNTRY_CODE = 84
_SEPARATORS = re.compile(r"[\s.\-()]")
# A number as people write it, once the separators are gone: "0905...", "+84905...",
# "84905...", "0084905...". Only digits and one leading plus, so that letters, an
# extension or a second number are refused here instead of read leniently by the library.
_LAYOUT = re.compile(r"\+?[0-9]{8,15}", re.ASCII)
_MOBILE = frozenset({PhoneNumberType.MOBILE})
_CONTACT = frozenset(
    {PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE, PhoneNumberType.FIXED_LINE_OR_MOBILE}
)


class NotAPhone(ValueError):
    """The text is no Vietnamese phone number of the kind asked for."""


def parse_mobile(text: str) -> str:
    """A Vietnamese mobile number in E.164: '0905 123 456' -> '+84905123456'."""
    return _parse(text, _MOBILE)


def parse_contact(text: str) -> str:
    """A Vietnamese mobile or landline number in E.164: '0236 3123 456' -> '+842363123456'.
    Service numbers (1900..., 1800...) are refused: nobody answers them for the customer."""
    return _parse(text, _CONTACT)


def _parse(text: str, kinds: frozenset[int]) -> str:
    # NFKC: phone keyboards and IMEs may send full-width digits ("０９０５").
    compact = _SEPARATORS.sub("", unicodedata.normalize("NFKC", text))
    # Without its trunk 0 or a country code, nine digits are not how a number is written
    # here (and were refused before the library read numbers).
    if not _LAYOUT.fullmatch(compact) or not compact.startswith(("+", "0", "84")):
        raise NotAPhone(text)
    try:
        number = phonenumbers.parse(compact, REGION)
    except NumberParseException as error:
        raise NotAPhone(text) from error
    if (
        number.country_code != COUNTRY_CODE
        or not phonenumbers.is_valid_number(number)
        or phonenumbers.number_type(number) not in kinds
    ):
        raise NotAPhone(text)
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)


def shown(e164: str) -> str:
    """The number as customers write it: '+84905123456' -> '0905 123 456',
    '+842363123456' -> '0236 3123 456'; one from abroad in the international layout."""
    number = _read(e164)
    if number is None:
        return e164
    layout = (
        PhoneNumberFormat.NATIONAL
        if number.country_code == COUNTRY_CODE
        else PhoneNumberFormat.INTERNATIONAL
    )
    return phonenumbers.format_number(number, layout)


def masked(e164: str) -> str:
    """'+84905123456' -> '0905 *** 456': enough to recognise one's own number, never the
    whole number shown back (or written to the audit log)."""
    national = "0" + e164[3:] if e164.startswith(f"+{COUNTRY_CODE}") else e164
    return f"{national[:4]} *** {national[-3:]}" if len(national) >= 8 else "***"


def _read(e164: str) -> PhoneNumber | None:
    try:
        return phonenumbers.parse(e164, REGION)
    except NumberParseException:
        return None
