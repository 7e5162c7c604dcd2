"""The NLU model as the bot uses it: intent, confidence, ranking and entities of a text.

Serving needs numpy only (issue 8): scikit-learn trains the classifier (nlu/training.py),
then its TF-IDF vocabularies, idf vectors and linear weights are exported to an .npz plus
a small JSON, and `NluModel` recomputes the same scores here from the same n-grams
(nlu/features.py). `nlu.training.load_or_train` keeps the cache.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from nlu.entities import Entity, extract_entities
from nlu.faq import FAQ_INTENT
from nlu.features import FeatureBlock

__all__ = ["CONFIDENT", "FORM_CONFIDENT", "Entity", "NluModel", "Parse", "extract_entities"]

# Below this top probability the bot should ask "Ý bạn là…?" with the ranking
# (chosen in bench/nlu_bench.py: see docs/BENCHMARKS.md, "NLU (issue 8)").
CONFIDENT = 0.55
# A service form opens from free text only at this probability, else "Ý Quý khách là…?"
# (issue 15; chosen in bench/nlu_bench.py on out-of-fold predictions: docs/BENCHMARKS.md).
FORM_CONFIDENT = 0.80
RANKING_SIZE = 3
_CACHE_NAME = "intent-model"


@dataclass(frozen=True)
class Parse:
    """The understanding of one message: top intent, its probability, ranking, entities."""

    text: str
    intent: str
    confidence: float
    ranking: tuple[tuple[str, float], ...]
    entities: tuple[Entity, ...]
    # The probability that the text is a question for the FAQ (issue 19): a class of the
    # classifier apart from the intents, never in `intent` or `ranking`.
    faq: float = 0.0

    def probability(self, intent: str) -> float:
        """The probability of `intent` when it is in the ranking, else 0 (below the top
        three: small)."""
        return dict(self.ranking).get(intent, 0.0)

    def as_dict(self) -> dict[str, Any]:
        """Rasa's parse shape (`intent`, `entities`, `intent_ranking`)."""
        return {
            "intent": {"name": self.intent, "confidence": round(self.confidence, 4)},
            "entities": [
                {"entity": e.entity, "value": e.value, "start": e.start, "end": e.end}
                for e in self.entities
            ],
            "intent_ranking": [
                {"name": name, "confidence": round(p, 4)} for name, p in self.ranking
            ],
        }


class NluModel:
    """A trained intent classifier (numpy arrays) plus the rule-based entity extractor."""

    def __init__(self, arrays: Mapping[str, np.ndarray], meta: Mapping[str, Any]) -> None:
        self.arrays = dict(arrays)
        self.meta = dict(meta)
        self.classes: tuple[str, ...] = tuple(meta["classes"])
        # The intents proper: every class but the FAQ's, which `parse` reports apart.
        self.intents = tuple(c for c in self.classes if c != FAQ_INTENT)
        self._intent_index = np.array(
            [i for i, c in enumerate(self.classes) if c != FAQ_INTENT], dtype=np.intp
        )
        self._faq_index = self.classes.index(FAQ_INTENT) if FAQ_INTENT in self.classes else None
        self.blocks = tuple(FeatureBlock(**block) for block in meta["blocks"])
        self._sublinear = bool(meta["sublinear_tf"])
        self._vocabularies: list[dict[str, int]] = []
        self._idf: list[np.ndarray] = []
        self._offsets: list[int] = []
        offset = 0
        for index in range(len(self.blocks)):
            terms = self.arrays[f"terms_{index}"].tolist()
            self._vocabularies.append({term: i for i, term in enumerate(terms)})
            self._idf.append(self.arrays[f"idf_{index}"])
            self._offsets.append(offset)
            offset += len(terms)
        self._weights = np.ascontiguousarray(self.arrays["coef"].T)  # features x classes
        self._intercept = self.arrays["intercept"]

    @property
    def key(self) -> str:
        return str(self.meta["key"])

    def probabilities(self, text: str) -> np.ndarray:
        """The probability of each class (in `classes` order), as the softmax of the scores."""
        scores = self._intercept.copy()
        for block, vocabulary, idf, offset in zip(
            self.blocks, self._vocabularies, self._idf, self._offsets, strict=True
        ):
            counts = Counter(t for t in block.terms(text) if t in vocabulary)
            if not counts:
                continue
            index = np.fromiter((vocabulary[t] for t in counts), dtype=np.intp, count=len(counts))
            tf = np.fromiter(counts.values(), dtype=np.float64, count=len(counts))
            if self._sublinear:
                tf = np.log(tf) + 1.0
            weight = tf * idf[index]
            weight /= math.sqrt(float(weight @ weight))
            scores += weight @ self._weights[index + offset]
        scores -= scores.max()
        exp = np.exp(scores)
        return np.asarray(exp / exp.sum())

    def rank(self, text: str, size: int = RANKING_SIZE) -> tuple[tuple[str, float], ...]:
        """The `size` most probable intents of `text`, most probable first (the FAQ's
        class is no intent: its share is left out, not spread over the others, so a
        question for the FAQ lowers every intent's confidence)."""
        return self._ranked(self.probabilities(text), size)

    def _ranked(self, probabilities: np.ndarray, size: int) -> tuple[tuple[str, float], ...]:
        intents = probabilities[self._intent_index]
        order = np.argsort(-intents, kind="stable")[:size]
        return tuple((self.intents[i], float(intents[i])) for i in order)

    def parse(self, text: str, *, today: date | None = None) -> Parse:
        """Intent, confidence, the top-3 ranking, the FAQ's probability and the entities."""
        probabilities = self.probabilities(text)
        ranking = self._ranked(probabilities, RANKING_SIZE)
        faq = float(probabilities[self._faq_index]) if self._faq_index is not None else 0.0
        return Parse(
            text=text,
            intent=ranking[0][0],
            confidence=ranking[0][1],
            ranking=ranking,
            entities=tuple(extract_entities(text, today=today)),
            faq=faq,
        )

    def save(self, cache_dir: Path) -> None:
        """Write the arrays and the JSON side by side; the JSON last, as it marks them valid."""
        cache_dir.mkdir(parents=True, exist_ok=True)
        arrays: dict[str, Any] = {**self.arrays, "key": np.array(self.key)}
        _atomic_write(cache_dir / f"{_CACHE_NAME}.npz", lambda f: np.savez(f, **arrays))
        text = json.dumps(self.meta, ensure_ascii=False, indent=1).encode()
        _atomic_write(cache_dir / f"{_CACHE_NAME}.json", lambda f: f.write(text))

    @classmethod
    def load(cls, cache_dir: Path, key: str) -> NluModel | None:
        """The cached model trained with `key`, or None when missing, stale or unreadable."""
        try:
            meta = json.loads((cache_dir / f"{_CACHE_NAME}.json").read_text("utf-8"))
            if meta.get("key") != key:
                return None
            with np.load(cache_dir / f"{_CACHE_NAME}.npz", allow_pickle=False) as npz:
                arrays = {name: npz[name] for name in npz.files}
        except (OSError, ValueError, KeyError):
            return None
        if str(arrays.pop("key", "")) != key:  # a concurrent training replaced one file
            return None
        return cls(arrays, meta)


def _atomic_write(path: Path, write: Callable[[BinaryIO], object]) -> None:
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "wb") as file:
            write(file)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
