"""How fast a bank statement is read (issue 16: 100,000 lines well under 5 s).

    python bench/statement_parse.py [--lines 100000]

Builds a statement as a bank exports it — quoted descriptions with commas, amounts with
thousands separators, dates with times, a reference on most lines, a debit or a bad line
now and then — and times `parse_statement` on it, best of three.
"""

from __future__ import annotations

import argparse
import random
import time

from bot.payments.statement import parse_statement
from bot.payments.vietqr import reference, transfer_text

_STYLES = (
    "MBVCB.{trace}.{text}.CT tu 0011001234567 NGUYEN VAN AN",
    "IBFT {glued}",
    "MB {phone}-{text}- Ma GD ACSP/ FT25157{trace}",
    "NGUYEN THI BICH, CHUYEN TIEN {text} GD {trace}-060525",
    "Thanh toan tien dien thang 6 {code}",
)


def statement(lines: int, seed: int = 16) -> str:
    """A CSV statement of `lines` transfers (plus the header)."""
    rng = random.Random(seed)
    out = ["Ngày giao dịch,Số tiền,Nội dung,Số tham chiếu,Số dư"]
    for n in range(lines):
        code = f"PC05CC{rng.randrange(10**7):07d}"
        text = transfer_text(reference(), code)
        description = rng.choice(_STYLES).format(
            trace=rng.randrange(10**7),
            text=text.lower() if n % 3 else text,
            glued=text.replace(" ", ""),
            phone=f"09{rng.randrange(10**8):08d}",
            code=code,
        )
        amount = rng.randrange(20, 5000) * 1000 + rng.choice((0, 230, 500))
        if n % 500 == 0:
            amount = -amount  # a debit, reported as an error
        shown = f'"{amount:,}"' if n % 2 else f"{amount:,}".replace(",", ".") + " VND"
        day = f"{rng.randrange(1, 29):02d}/06/2025 {rng.randrange(24):02d}:{rng.randrange(60):02d}"
        ref = f"FT25{n:09d}" if n % 10 else ""
        out.append(f'{day},{shown},"{description}",{ref},"{rng.randrange(10**9):,}"')
    return "\n".join(out) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=100_000)
    lines = parser.parse_args().lines
    text = statement(lines)
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        parse = parse_statement(text)
        best = min(best, time.perf_counter() - started)
    print(
        f"{lines:,} lines ({len(text) / 1e6:.1f} MB): {best:.2f} s, "
        f"{len(parse.rows):,} rows, {len(parse.errors):,} errors"
    )


if __name__ == "__main__":
    main()
