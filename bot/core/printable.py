"""Customer-supplied text made safe to print on a staff terminal (issue 12, point 7).

A chat display name or a reply is typed by anyone. Printed raw, its ESC and C1 sequences
drive the staff's terminal (clear the screen, retitle the window, plant a hyperlink), a
newline plants a fake line such as "answered by staff:cli: ...", and a bidi override
makes a line read other than it is. Each such character is shown as a visible escape
(`\\x1b`, `\\u202e`) instead; Vietnamese, emoji and spaces come out unchanged.

Zero-width characters (U+200B-U+200D, U+2060, U+FEFF) are kept: they move no cursor and
reorder nothing, and the joiners hold emoji sequences and some scripts together. A
backslash is kept too, so a typed "\\x1b" looks like an escaped ESC: ambiguous, harmless.
"""

from __future__ import annotations

import json
import re
from typing import Any

# Control characters json.dumps already escapes (C0), then the rest: DEL and C1 (\x9b is a
# one-byte CSI), bidi marks, embeddings, overrides and isolates, the line and paragraph
# separators some viewers break lines on, and lone surrogates, which print() cannot encode.
_C0 = "\x00-\x1f"
_REST = "\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff"
_UNSAFE = re.compile(f"[{_C0}{_REST}]")
_UNSAFE_IN_JSON = re.compile(f"[{_REST}]")
_SHORT = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
CONTINUATION = "    | "  # starts a kept line of multiline text: never one of the CLI's own


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    code = ord(char)
    return _SHORT.get(char) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")


def printable(text: str, *, multiline: bool = False) -> str:
    """The text as one terminal line, every unsafe character shown as an escape.

    With `multiline`, newlines are kept and every line after the first starts with
    CONTINUATION, so none can pass for a line the command prints itself.
    """
    if not multiline:
        return _UNSAFE.sub(_escape, text)
    return f"\n{CONTINUATION}".join(_UNSAFE.sub(_escape, line) for line in text.split("\n"))


def printable_json(value: Any, *, indent: int | None = None) -> str:
    """`json.dumps(value, ensure_ascii=False)`, which escapes only C0 controls, with the
    other unsafe characters as `\\uXXXX` too: the same data, Vietnamese still readable."""
    dumped = json.dumps(value, ensure_ascii=False, indent=indent)
    return _UNSAFE_IN_JSON.sub(lambda match: f"\\u{ord(match.group()):04x}", dumped)
