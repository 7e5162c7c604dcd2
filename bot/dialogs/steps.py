"""The step counter of a form ("Bước 3/7"): which question this is, and how many the
form will ask given the answers so far.

A question asked only for some answers of an earlier one (`when:`) is counted before
that answer is known by the fewest questions any answer leads to: the outage report's
"where" leads to exactly one of three questions whatever the answer, so it counts one
from the start and its total never moves; an answer that adds questions (ticking three
changes) makes the total grow, and the engine says so (issue 15).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from bot.dialogs.spec import FieldSpec, FormSpec

# The answers a field may be given, for counting the questions that depend on it.
Candidates = Callable[[FieldSpec], Iterable[Any]]


def position(form: FormSpec, answers: Mapping[str, Any], index: int) -> int:
    """The number of the question at `index` among those asked (1 for the first)."""
    return 1 + sum(1 for f in form.fields[: max(index, 0)] if f.shown(answers))


def expected_total(
    form: FormSpec, answers: Mapping[str, Any], index: int, candidates: Candidates
) -> int:
    """How many questions the form asks: exactly, for questions whose condition is
    decided (its field answered, or passed by); for the others, the fewest that any
    answer still to come leads to."""
    passed = {f.name for f in form.fields[: max(index, 0)]}
    by_name = {f.name: f for f in form.fields}
    pending: dict[str, list[FieldSpec]] = {}
    count = 0
    for field in form.fields:
        source = str(field.when["field"]) if field.when else None
        if source is None or source in answers or source in passed:
            count += field.shown(answers)
        else:
            pending.setdefault(source, []).append(field)
    for source, dependants in pending.items():
        values = list(candidates(by_name[source]))
        if by_name[source].optional:
            values.append(None)  # skipped: none of its questions is asked
        count += min(
            (sum(d.shown({**answers, source: value}) for d in dependants) for value in values),
            default=0,
        )
    return count
