"""What the intent classifier sees of a text: the same n-grams at training and serving."""

from __future__ import annotations

import re
from dataclasses import dataclass

from nlu.normalize import normalize

_DIGIT = re.compile(r"\d")


def classifier_text(text: str) -> str:
    """What the features are computed on: `normalize`d, every digit read as 0."""
    return _DIGIT.sub("0", normalize(text))


@dataclass(frozen=True)
class FeatureBlock:
    """One TF-IDF block: word n-grams or character n-grams within each padded word."""

    kind: str  # "word" or "char"
    low: int
    high: int

    def terms(self, text: str) -> list[str]:
        """The n-grams of a raw text (training and serving both call this)."""
        words = classifier_text(text).split()
        if self.kind == "word":
            return [
                " ".join(words[i : i + n])
                for n in range(self.low, self.high + 1)
                for i in range(len(words) - n + 1)
            ]
        grams: list[str] = []
        for word in words:
            padded = f" {word} "
            for n in range(self.low, self.high + 1):
                grams.extend(padded[i : i + n] for i in range(len(padded) - n + 1))
        return grams
