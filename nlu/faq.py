"""Answers from the utility's FAQ, found by retrieval over normalised text (issue 19).

Each entry is a question, the other ways customers ask it, an answer, the public source
it rests on and the day it was last reviewed. `FaqIndex` scores a message against every
way an entry is asked with the language model's own features (nlu/features.py: the
normalised word 1–2-grams and the character 2–5-grams within words, TF-IDF weighted), so
"gio cao diem" finds "Giờ cao điểm…" and "ko" reads as "không". The score of an entry is
its best cosine similarity, averaged over the two blocks: 1.0 for the same words, near 0
for nothing in common.

The retrieval needs no training: an entry staff add or edit is found as soon as the
index is rebuilt (milliseconds for a hundred entries). The classifier learns the entries
of data/faq.yml when it is trained (nlu/training.py), so it knows the shape of a
question for the FAQ; an entry added later is found when its question has that shape.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from nlu.features import FeatureBlock
from nlu.normalize import strip_diacritics

__all__ = [
    "FAQ_INTENT",
    "FAQ_LIKELY",
    "FAQ_MARGIN",
    "FAQ_MATCH",
    "FAQ_OUTSIDE",
    "FAQ_SUGGEST",
    "FaqEntry",
    "FaqError",
    "FaqIndex",
    "FaqMatch",
    "answers",
    "read_faq",
    "training_texts",
]

DEFAULT_FAQ = Path(__file__).resolve().parent.parent / "data" / "faq.yml"
# Two steps decide (issue 19). The intent classifier learns the FAQ's questions as one
# more class, FAQ_INTENT, next to the intents of nlu.yml, so it weighs "sang tên hợp đồng
# cần giấy tờ gì" (a question) against "sang tên hợp đồng" (a request for the form) with
# everything it knows; the bot answers from the FAQ when that class is the likeliest,
# with at least FAQ_LIKELY, and the retrieval below finds an entry at FAQ_MATCH. Where
# either falls short but the entry scores FAQ_SUGGEST, the bot offers the question as a
# button next to staff instead of guessing. Chosen in bench/faq_bench.py
# (docs/BENCHMARKS.md, "FAQ").
FAQ_INTENT = "faq"
FAQ_LIKELY = 0.50  # and above every intent's probability
FAQ_MATCH = 0.35
FAQ_OUTSIDE = 0.15
FAQ_MARGIN = 0.05
FAQ_SUGGEST = 0.25
_BLOCKS = (FeatureBlock("word", 1, 2), FeatureBlock("char", 2, 5))
_ID = re.compile(r"[a-z0-9_]{2,60}")


class FaqError(ValueError):
    """An FAQ file or entry that lacks a question, answer, source or review date."""


@dataclass(frozen=True)
class FaqEntry:
    """One question and its answer, in Vietnamese and English, with its source."""

    id: str
    question: Mapping[str, str]
    answer: Mapping[str, str]
    source: str
    reviewed: date
    also: tuple[str, ...] = ()
    offer: str | None = None  # the payload of the form or lookup the answer offers

    def ways_asked(self) -> list[str]:
        """Every text that stands for the question: both languages and `also`."""
        return [self.question["vi"], self.question["en"], *self.also]

    def as_dict(self) -> dict[str, Any]:
        """The entry as data/faq.yml writes it (and the database keeps it)."""
        document: dict[str, Any] = {
            "id": self.id,
            "question": dict(self.question),
            "also": list(self.also),
            "answer": dict(self.answer),
            "source": self.source,
            "reviewed": self.reviewed.isoformat(),
        }
        if self.offer:
            document["offer"] = self.offer
        return document

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> FaqEntry:
        """An entry from its data, checked.

        Raises:
            FaqError: a missing or empty field, a bad id or date.
        """
        entry_id = str(raw.get("id", "")).strip()
        if not _ID.fullmatch(entry_id):
            raise FaqError(f"FAQ entry id {entry_id!r}: lower-case letters, digits and _")
        where = f"FAQ entry {entry_id}"
        question, answer = (
            _both(raw.get("question"), where, "question"),
            _both(raw.get("answer"), where, "answer"),
        )
        source = str(raw.get("source") or "").strip()
        if not source:
            raise FaqError(f"{where}: no source (a public EVN page or regulation, by title)")
        reviewed = raw.get("reviewed")
        if isinstance(reviewed, str):
            try:
                reviewed = date.fromisoformat(reviewed)
            except ValueError:
                raise FaqError(f"{where}: reviewed {reviewed!r} is not YYYY-MM-DD") from None
        if not isinstance(reviewed, date):
            raise FaqError(f"{where}: no review date (reviewed: YYYY-MM-DD)")
        also = raw.get("also") or []
        if not isinstance(also, list):
            raise FaqError(f"{where}: `also` must be a list of questions")
        offer = str(raw.get("offer") or "").strip() or None
        return cls(
            id=entry_id,
            question=question,
            answer=answer,
            source=source,
            reviewed=reviewed,
            also=tuple(str(a).strip() for a in also if str(a).strip()),
            offer=offer,
        )


def _both(value: object, where: str, what: str) -> dict[str, str]:
    if not isinstance(value, Mapping):
        raise FaqError(f"{where}: {what} needs `vi` and `en`")
    texts = {lang: str(value.get(lang) or "").strip() for lang in ("vi", "en")}
    if not all(texts.values()):
        raise FaqError(f"{where}: {what} needs both `vi` and `en`")
    return texts


def read_faq(path: Path = DEFAULT_FAQ) -> list[FaqEntry]:
    """The entries of an FAQ file, in file order.

    Raises:
        OSError: the file cannot be read.
        FaqError: it is not a list of valid entries, or an id is used twice.
    """
    try:
        document = yaml.safe_load(path.read_text("utf-8"))
    except yaml.YAMLError as error:
        raise FaqError(f"{path}: not valid YAML ({error.__class__.__name__})") from None
    if not isinstance(document, dict) or not isinstance(document.get("entries"), list):
        raise FaqError(f"{path}: expected a top-level `entries:` list")
    entries = [FaqEntry.from_dict(raw) for raw in document["entries"]]
    seen: set[str] = set()
    for entry in entries:
        if entry.id in seen:
            raise FaqError(f"{path}: FAQ entry id {entry.id} is used twice")
        seen.add(entry.id)
    return entries


@dataclass(frozen=True)
class FaqMatch:
    """The best entry for a message, its score and the runner-up's."""

    entry: FaqEntry | None
    score: float
    second: FaqEntry | None = None
    second_score: float = 0.0

    @property
    def confident(self) -> bool:
        """Close enough to answer (when the classifier reads the message as a question
        for the FAQ), and clearly closer than the runner-up: "hợp đồng điện" is as near
        to five entries about contracts, and answering one of them would be a guess."""
        return (
            self.entry is not None
            and self.score >= FAQ_MATCH
            and self.score - self.second_score >= FAQ_MARGIN
        )

    @property
    def worth_offering(self) -> bool:
        """Close enough to offer the question as a button."""
        return self.entry is not None and self.score >= FAQ_SUGGEST


NO_MATCH = FaqMatch(None, 0.0)


@dataclass
class _Block:
    """The TF-IDF vectors of one feature block over every document."""

    block: FeatureBlock
    idf: dict[str, float] = field(default_factory=dict)
    # term -> [(document, weight)]: a message is scored through the terms it has.
    postings: dict[str, list[tuple[int, float]]] = field(default_factory=dict)

    def build(self, documents: Sequence[str]) -> None:
        counted = [Counter(self.block.terms(text)) for text in documents]
        df: Counter[str] = Counter()
        for counts in counted:
            df.update(counts.keys())
        n = len(documents)
        self.idf = {t: math.log((1 + n) / (1 + d)) + 1.0 for t, d in df.items()}
        postings: dict[str, list[tuple[int, float]]] = defaultdict(list)
        for index, counts in enumerate(counted):
            for term, weight in self._weights(counts).items():
                postings[term].append((index, weight))
        self.postings = dict(postings)

    def _weights(self, counts: Mapping[str, int]) -> dict[str, float]:
        raw = {t: (math.log(c) + 1.0) * self.idf[t] for t, c in counts.items() if t in self.idf}
        norm = math.sqrt(sum(w * w for w in raw.values()))
        return {t: w / norm for t, w in raw.items()} if norm else {}

    def similarities(self, text: str, size: int) -> list[float]:
        scores = [0.0] * size
        for term, weight in self._weights(Counter(self.block.terms(text))).items():
            for index, doc_weight in self.postings.get(term, ()):
                scores[index] += weight * doc_weight
        return scores


class FaqIndex:
    """The FAQ's entries, searchable by what a customer typed."""

    def __init__(self, entries: Iterable[FaqEntry]) -> None:
        self.entries: tuple[FaqEntry, ...] = tuple(entries)
        self.by_id = {entry.id: entry for entry in self.entries}
        self._owner: list[int] = []  # document -> entry
        documents: list[str] = []
        for position, entry in enumerate(self.entries):
            for text in entry.ways_asked():
                documents.append(text)
                self._owner.append(position)
        self._blocks = [_Block(block) for block in _BLOCKS]
        for block in self._blocks:
            block.build(documents)

    def __len__(self) -> int:
        return len(self.entries)

    def scores(self, text: str) -> list[float]:
        """Each entry's score for `text`, in entry order."""
        per_entry = [0.0] * len(self.entries)
        if not self.entries or not text.strip():
            return per_entry
        size = len(self._owner)
        blocks = [block.similarities(text, size) for block in self._blocks]
        for document, owner in enumerate(self._owner):
            score = sum(b[document] for b in blocks) / len(blocks)
            per_entry[owner] = max(per_entry[owner], score)
        return per_entry

    def match(self, text: str) -> FaqMatch:
        """The best entry for `text` and the runner-up."""
        scores = self.scores(text)
        order = sorted(range(len(scores)), key=lambda i: (-scores[i], i))
        if not order or scores[order[0]] <= 0.0:
            return NO_MATCH
        best, second = order[0], (order[1] if len(order) > 1 else None)
        return FaqMatch(
            entry=self.entries[best],
            score=scores[best],
            second=self.entries[second] if second is not None else None,
            second_score=scores[second] if second is not None else 0.0,
        )


def answers(
    faq_probability: float, top_intent: float, match: FaqMatch, outside: float = 0.0
) -> bool:
    """Whether the bot answers from the FAQ: the classifier's FAQ class is likelier than
    any intent and at least FAQ_LIKELY, the retrieval found an entry at FAQ_MATCH, and
    the message is not fairly likely out of scope (`outside`, the out_of_scope intent's
    probability, under FAQ_OUTSIDE): "hợp đồng thuê nhà cần những gì" is shaped like
    our questions but about another contract, so it is offered, not answered."""
    return (
        faq_probability >= FAQ_LIKELY
        and faq_probability > top_intent
        and outside < FAQ_OUTSIDE
        and match.confident
    )


def training_texts(entries: Iterable[FaqEntry]) -> list[str]:
    """The sentences the intent classifier learns as FAQ_INTENT: every way each entry is
    asked, and the Vietnamese ones again without diacritics, as customers type them."""
    texts: set[str] = set()
    for entry in entries:
        for text in entry.ways_asked():
            texts.add(text)
            texts.add(strip_diacritics(text))
    return sorted(texts)
