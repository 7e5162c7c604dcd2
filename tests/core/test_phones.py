"""Phone numbers as the core reads them (a channel normalising a shared contact)."""

from __future__ import annotations

import pytest

from bot.core.phones import mobile_e164
from bot.dialogs.fields import FieldError, parse_phone


@pytest.mark.parametrize(
    "typed",
    [
        "0905 123 456",
        "84905123456",
        "+84 0905.123.456",
        "０９０５１２３４５６",  # full-width digits from a phone keyboard
        "(090) 512-3456",
        "0241 234 5678",  # a landline: no mobile number
        "905123456",
        "",
    ],
)
def test_the_core_reads_a_phone_as_forms_do(typed: str) -> None:
    try:
        expected: str | None = parse_phone(typed)
    except FieldError:
        expected = None
    assert mobile_e164(typed) == expected
