"""Customer text on a staff terminal (issue 12): shown, never obeyed."""

from __future__ import annotations

import json

import pytest

from bot.core.printable import CONTINUATION, printable, printable_json

VIETNAMESE = "Nguyễn Thị Ánh Tuyết — Phường Hội An, mất điện từ 7 giờ 🙏⚡ 👨\u200d👩\u200d👧"


def test_vietnamese_emoji_and_spaces_come_out_unchanged() -> None:
    assert printable(VIETNAMESE) == VIETNAMESE
    assert printable(VIETNAMESE, multiline=True) == VIETNAMESE
    assert printable_json({"tên": VIETNAMESE}) == '{"tên": "' + VIETNAMESE + '"}'


@pytest.mark.parametrize(
    ("hostile", "shown"),
    [
        ("\x1b[2JKhách", "\\x1b[2JKhách"),  # clear the screen
        ("\x1b]0;pwned\x07Lan", "\\x1b]0;pwned\\x07Lan"),  # retitle the window, BEL
        ("\x1b]8;;http://evil\x07link\x1b]8;;\x07", "\\x1b]8;;http://evil\\x07link\\x1b]8;;\\x07"),
        ("\x9b2J", "\\x9b2J"),  # a one-byte CSI (C1)
        ("a\x00b\x7fc\x85d", "a\\x00b\\x7fc\\x85d"),
        ("ok\rstaff", "ok\\rstaff"),  # back to the line's start
        ("cột\tđiện", "cột\\tđiện"),
        ("\u202egnp.exe", "\\u202egnp.exe"),  # right-to-left override
        ("a\u2066b\u2069c\u200fd\u061c", "a\\u2066b\\u2069c\\u200fd\\u061c"),
        ("a\u2028b", "a\\u2028b"),  # a line separator
    ],
)
def test_control_and_bidi_characters_are_shown_escaped(hostile: str, shown: str) -> None:
    assert printable(hostile) == shown
    assert printable(hostile).isprintable()


def test_a_newline_cannot_start_a_fake_line() -> None:
    reply = "ok\n    answered by staff:cli: đã xử lý"
    assert printable(reply) == "ok\\n    answered by staff:cli: đã xử lý"
    kept = printable(reply, multiline=True)
    assert kept.splitlines() == ["ok", f"{CONTINUATION}    answered by staff:cli: đã xử lý"]
    assert printable("a\n\x1b[2J\r", multiline=True) == f"a\n{CONTINUATION}\\x1b[2J\\r"


def test_json_keeps_the_data_and_escapes_what_a_terminal_would_obey() -> None:
    value = {"name": "\x1b[2J\x9bKhách\u202e", "text": "ok\nđã xử lý\u2029"}
    dumped = printable_json(value, indent=2)
    assert json.loads(dumped) == value
    assert "Khách" in dumped and "đã xử lý" in dumped
    assert all(c.isprintable() or c == "\n" for c in dumped)
    assert "\\u001b[2J\\u009bKhách\\u202e" in dumped and "\\u2029" in dumped
    assert [line for line in dumped.splitlines() if "đã" in line] == [
        '  "text": "ok\\nđã xử lý\\u2029"'
    ]
