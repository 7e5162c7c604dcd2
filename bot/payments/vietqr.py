"""VietQR: the NAPAS 247 transfer QR a customer scans with any banking app (issue 16).

The payload is EMVCo's merchant-presented QR as NAPAS profiles it for VietQR; the
transfer text carries our payment reference, which reconciliation later finds again in
the utility's bank statement (`find_references`), however the banks mangled it.

Payment references are "TT" + 8 random Crockford base-32 characters + 1 check
character. The check is Crockford's own: the 8 characters read as a base-32 number,
modulo 37 (which catches every single wrong character and every swap of two neighbours).
Crockford writes the check values 32–36 with the symbols ``*~$=U``, which banks strip or
refuse in a transfer text, so `reference` only issues references whose check value is
0–31 and the check character is always one of the 32 ordinary characters (it redraws
about one draw in seven; 2^40 · 32/37 references remain).
"""

from __future__ import annotations

import binascii
import io
import re
import secrets

import segno

# Crockford base 32: no I, L, O (read as 1, 1, 0) and no U.
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_VALUE = {char: value for value, char in enumerate(ALPHABET)}
_CONFUSIONS = str.maketrans({"O": "0", "I": "1", "L": "1"})
_PREFIX = "TT"
_BODY = 8
REFERENCE_LENGTH = len(_PREFIX) + _BODY + 1
# NAPAS's limit on the purpose of a transfer (field 62-08) and our transfer text.
TEXT_MAX = 25

_GUID = "A000000727"  # NAPAS's application identifier
_SERVICE = "QRIBFTTA"  # transfer to an account (QRIBFTTC would be to a card)
_CURRENCY_VND = "704"  # ISO 4217
_COUNTRY = "VN"
_BIN = re.compile(r"[0-9]{6}")
_ACCOUNT = re.compile(r"[0-9A-Za-z]{1,19}")
_PRINTABLE = re.compile(r"[\x20-\x7e]*")
_NON_ALNUM = re.compile(r"[^0-9A-Z]+")
_ALNUM_RUN = re.compile(r"[0-9A-Z]+")


def crc16(data: str) -> str:
    """CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF) of ASCII text, as 4 upper-case hex
    digits: the checksum EMVCo puts in field 63."""
    return f"{binascii.crc_hqx(data.encode('ascii'), 0xFFFF):04X}"


def _field(tag: str, value: str) -> str:
    if len(value) > 99:
        raise ValueError(f"EMVCo field {tag} is longer than 99 characters")
    return f"{tag}{len(value):02d}{value}"


def payload(bank_bin: str, account: str, amount: int | None, purpose: str | None) -> str:
    """The VietQR payload for a transfer of `amount` VND to `account` at the bank whose
    NAPAS BIN is `bank_bin`; without an amount the QR is static (the payer types it)."""
    if not _BIN.fullmatch(bank_bin):
        raise ValueError(f"bank BIN must be 6 digits, got {bank_bin!r}")
    if not _ACCOUNT.fullmatch(account):
        raise ValueError(f"account must be 1–19 letters or digits, got {account!r}")
    if amount is not None and (
        isinstance(amount, bool) or not isinstance(amount, int) or not 0 < amount < 10**13
    ):
        raise ValueError(
            f"amount must be a positive whole number of VND (≤ 13 digits), got {amount!r}"
        )
    if purpose is not None and not (0 < len(purpose) <= TEXT_MAX and _PRINTABLE.fullmatch(purpose)):
        raise ValueError(
            f"purpose must be 1–{TEXT_MAX} printable ASCII characters (no diacritics), "
            f"got {purpose!r}"
        )
    beneficiary = _field("00", bank_bin) + _field("01", account)
    merchant = _field("00", _GUID) + _field("01", beneficiary) + _field("02", _SERVICE)
    parts = [
        _field("00", "01"),
        _field("01", "11" if amount is None else "12"),
        _field("38", merchant),
        _field("53", _CURRENCY_VND),
    ]
    if amount is not None:
        parts.append(_field("54", str(amount)))
    parts.append(_field("58", _COUNTRY))
    if purpose is not None:
        parts.append(_field("62", _field("08", purpose)))
    body = "".join(parts) + "6304"
    return body + crc16(body)


def _check(body: str) -> int:
    """Crockford's check value (0–36) of base-32 characters."""
    number = 0
    for char in body:
        number = number * 32 + _VALUE[char]
    return number % 37


def reference() -> str:
    """A new random payment reference, e.g. "TT7K3M9Q2XA" (11 characters)."""
    while True:
        body = "".join(secrets.choice(ALPHABET) for _ in range(_BODY))
        check = _check(body)
        if check < len(ALPHABET):  # Crockford's extra symbols *~$=U would not survive a bank
            return _PREFIX + body + ALPHABET[check]


def is_reference(text: str) -> bool:
    """Whether `text` is a well-formed reference exactly as `reference` writes it."""
    return (
        len(text) == REFERENCE_LENGTH
        and text.startswith(_PREFIX)
        and _valid_window(text[len(_PREFIX) :])
    )


def _valid_window(window: str) -> bool:
    """Whether 9 canonical characters are a body and its check character."""
    if len(window) != _BODY + 1 or any(char not in _VALUE for char in window):
        return False
    return _check(window[:_BODY]) == _VALUE[window[_BODY]]


def transfer_text(ref: str, customer_code: str) -> str:
    """The transfer text (purpose) of a payment: the reference, a space, the customer
    code, e.g. "TT7K3M9Q2XA PC05CC0123456"."""
    text = f"{ref} {customer_code}"
    if len(text) > TEXT_MAX or not _PRINTABLE.fullmatch(text):
        raise ValueError(
            f"transfer text must be at most {TEXT_MAX} printable ASCII characters, got {text!r}"
        )
    return text


def find_references(description: str) -> list[str]:
    """Every reference with a valid check character in a bank statement's description,
    canonical and most likely first.

    Banks change case, drop or add spaces and punctuation, glue the customer code on, and
    readers confuse O/0 and I/L/1. References written in one piece come first; then
    those found only once separators are removed ("TT 7K3M 9Q2XA"). One description in
    37 or so holds a chance match, so reconciliation should try each until one is ours.
    """
    upper = description.upper()
    found: list[str] = []
    for run in [*_ALNUM_RUN.findall(upper), _NON_ALNUM.sub("", upper)]:
        for ref in _scan(run):
            if ref not in found:
                found.append(ref)
    return found


def find_reference(description: str) -> str | None:
    """The most likely reference in a bank statement's description (see
    `find_references`), or None."""
    found = find_references(description)
    return found[0] if found else None


def _scan(text: str) -> list[str]:
    refs = []
    start = text.find(_PREFIX)
    while start != -1:
        window_at = start + len(_PREFIX)
        # Confusions are mapped only here: elsewhere an O or an L is just a letter.
        window = text[window_at : window_at + _BODY + 1].translate(_CONFUSIONS)
        if _valid_window(window):
            refs.append(_PREFIX + window)
        start = text.find(_PREFIX, start + 1)
    return refs


def qr_png(payload: str, scale: int = 8) -> bytes:
    """The QR code of `payload` as PNG bytes: error correction M and the 4-module quiet
    zone the QR standard asks for, `scale` pixels per module."""
    if scale < 1:
        raise ValueError(f"scale must be at least 1, got {scale}")
    code = segno.make_qr(payload, error="m", boost_error=False)
    out = io.BytesIO()
    code.save(out, kind="png", scale=scale, border=4)
    return out.getvalue()
