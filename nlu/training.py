"""Training the intent classifier with scikit-learn, caching it, and measuring it (issue 8).

scikit-learn is imported inside the functions that need it: reading Rasa YAML and
scoring predictions (`read_examples`, `evaluate`) stay cheap for `cskh nlu test`.
The model was chosen by cross-validation among `CANDIDATES` (bench/nlu_bench.py,
figures in docs/BENCHMARKS.md); `CHOSEN` is the one `train` fits. The cache in the
directory the caller gives is keyed by a hash of the training YAML and of the code that
shapes the features, so editing either retrains on next load.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import yaml

from nlu.faq import DEFAULT_FAQ, FAQ_INTENT, read_faq, training_texts
from nlu.features import FeatureBlock, classifier_text
from nlu.model import NluModel

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline

# Rasa marks entities inside examples: "[PC05CC0123456](customer_code)" or "[x]{...}".
_ANNOTATION = re.compile(r"\[([^\]]+)\](?:\([^)]*\)|\{[^}]*\})")
RANDOM_STATE = 0
DEFAULT_DATA = Path(__file__).parent / "data" / "nlu.yml"
# Sources whose change alters the features or the training: part of the cache key.
_CODE_FILES = ("normalize.py", "features.py", "model.py", "training.py", "faq.py")

log = logging.getLogger(__name__)


class DataError(ValueError):
    """A training or test file that is not Rasa NLU YAML with intent examples."""


@dataclass(frozen=True, order=True)
class Example:
    """One labelled sentence."""

    intent: str
    text: str


@dataclass(frozen=True)
class Candidate:
    """Features and a linear model to compare by cross-validation."""

    name: str
    blocks: tuple[FeatureBlock, ...]
    estimator: str  # "logreg", "svm" or "sgd"
    c: float = 1.0


WORDS = FeatureBlock("word", 1, 2)
CHARS = FeatureBlock("char", 2, 5)
CANDIDATES: tuple[Candidate, ...] = (
    Candidate("word 1-2, logreg C=20", (WORDS,), "logreg", 20.0),
    Candidate("char 2-5, logreg C=20", (CHARS,), "logreg", 20.0),
    Candidate("word+char, logreg C=1", (WORDS, CHARS), "logreg", 1.0),
    Candidate("word+char, logreg C=5", (WORDS, CHARS), "logreg", 5.0),
    Candidate("word+char, logreg C=20", (WORDS, CHARS), "logreg", 20.0),
    Candidate("word+char, logreg C=100", (WORDS, CHARS), "logreg", 100.0),
    Candidate("word+char, linear SVM C=1", (WORDS, CHARS), "svm", 1.0),
    Candidate("word+char, SGD modified huber", (WORDS, CHARS), "sgd", 1e-4),
)
CHOSEN = CANDIDATES[4]


def read_examples(path: Path) -> list[Example]:
    """The intent examples of a Rasa NLU YAML file, sorted (training is deterministic).

    Raises:
        OSError: the file cannot be read.
        DataError: it is not YAML with an `nlu:` list of intents and examples.
    """
    try:
        document = yaml.safe_load(path.read_text("utf-8"))
    except UnicodeDecodeError:
        raise DataError(f"{path}: not UTF-8 text") from None
    except yaml.YAMLError as error:
        raise DataError(f"{path}: not valid YAML ({error.__class__.__name__})") from None
    if not isinstance(document, dict) or not isinstance(document.get("nlu"), list):
        raise DataError(f"{path}: no `nlu:` list")
    examples: list[Example] = []
    for item in document["nlu"]:
        if isinstance(item, dict) and "intent" in item:  # synonyms, regexes, lookups skipped
            examples.extend(Example(str(item["intent"]), t) for t in _texts(path, item))
    if not examples:
        raise DataError(f"{path}: no intent examples")
    return sorted(set(examples))


def _texts(path: Path, item: dict[str, Any]) -> list[str]:
    block = item.get("examples")
    if isinstance(block, str):
        lines = [line.strip() for line in block.splitlines() if line.strip()]
        if any(not line.startswith("-") for line in lines):
            raise DataError(f"{path}: intent {item['intent']}: examples must be `- ` lines")
        raw = [line[1:].strip() for line in lines]
    elif isinstance(block, list):
        raw = [str(entry["text"] if isinstance(entry, dict) else entry) for entry in block]
    else:
        raise DataError(f"{path}: intent {item['intent']} has no examples")
    return [_ANNOTATION.sub(r"\1", text).strip() for text in raw if text.strip()]


def build_pipeline(candidate: Candidate) -> Pipeline:
    """The scikit-learn pipeline of a candidate: one TF-IDF block per feature kind."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import FeatureUnion, Pipeline

    union = FeatureUnion(
        [
            (
                f"{block.kind}{index}",
                TfidfVectorizer(
                    analyzer=block.terms, sublinear_tf=True, lowercase=False, token_pattern=None
                ),
            )
            for index, block in enumerate(candidate.blocks)
        ]
    )
    return Pipeline([("features", union), ("classifier", _estimator(candidate))])


def _estimator(candidate: Candidate) -> Any:
    from sklearn.linear_model import LogisticRegression, SGDClassifier
    from sklearn.svm import LinearSVC

    if candidate.estimator == "logreg":
        return LogisticRegression(C=candidate.c, max_iter=5000, random_state=RANDOM_STATE)
    if candidate.estimator == "svm":
        return LinearSVC(C=candidate.c, random_state=RANDOM_STATE)
    return SGDClassifier(
        loss="modified_huber", alpha=candidate.c, max_iter=1000, random_state=RANDOM_STATE
    )


def fit(examples: Sequence[Example], candidate: Candidate = CHOSEN) -> Pipeline:
    """Fit a candidate's pipeline on the examples (sorted first)."""
    ordered = sorted(examples)
    pipeline = build_pipeline(candidate)
    pipeline.fit([e.text for e in ordered], [e.intent for e in ordered])
    return pipeline


def export(pipeline: Pipeline, candidate: Candidate = CHOSEN) -> tuple[dict[str, Any], dict]:
    """Plain numpy arrays and JSON-able settings from a fitted logistic-regression pipeline."""
    import sklearn

    if candidate.estimator != "logreg":
        raise ValueError("only logistic regression has probabilities to export")
    arrays: dict[str, Any] = {}
    for index, (_, vectorizer) in enumerate(pipeline.named_steps["features"].transformer_list):
        vocabulary: dict[str, int] = vectorizer.vocabulary_
        terms = sorted(vocabulary, key=vocabulary.__getitem__)
        arrays[f"terms_{index}"] = np.array(terms, dtype=str)
        arrays[f"idf_{index}"] = np.asarray(vectorizer.idf_, dtype=np.float64)
    classifier = pipeline.named_steps["classifier"]
    coef = np.asarray(classifier.coef_, dtype=np.float64)
    intercept = np.asarray(classifier.intercept_, dtype=np.float64)
    if len(classifier.classes_) == 2:  # one sigmoid score s: softmax(-s/2, s/2) is sigmoid(s)
        coef, intercept = (
            np.vstack([-coef / 2, coef / 2]),
            np.hstack([-intercept / 2, intercept / 2]),
        )
    arrays["coef"], arrays["intercept"] = coef, intercept
    meta = {
        "classes": [str(c) for c in classifier.classes_],
        "blocks": [{"kind": b.kind, "low": b.low, "high": b.high} for b in candidate.blocks],
        "sublinear_tf": True,
        "model": candidate.name,
        "sklearn": sklearn.__version__,
    }
    return arrays, meta


def fit_and_export(examples: Sequence[Example]) -> tuple[dict[str, Any], dict]:
    """Train the chosen candidate and export it for `NluModel`."""
    return export(fit(examples))


def folds(examples: Sequence[Example], n_splits: int = 5) -> list[tuple[np.ndarray, np.ndarray]]:
    """Stratified folds that keep sentences normalising alike ("hóa đơn"/"hoa don") together,
    so a fold never tests on a sentence it trained on."""
    from sklearn.model_selection import StratifiedGroupKFold

    splitter = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=RANDOM_STATE)
    groups = [classifier_text(e.text) for e in examples]
    labels = [e.intent for e in examples]
    return list(splitter.split(np.zeros(len(examples)), labels, groups))


def out_of_fold(
    examples: Sequence[Example], candidate: Candidate, n_splits: int = 5
) -> list[tuple[str, float]]:
    """For each example, the intent and confidence of a model that never saw it."""
    ordered = sorted(examples)
    predictions: list[tuple[str, float]] = [("", 0.0)] * len(ordered)
    for train_index, test_index in folds(ordered, n_splits):
        pipeline = fit([ordered[i] for i in train_index], candidate)
        texts = [ordered[i].text for i in test_index]
        if hasattr(pipeline, "predict_proba"):
            probabilities = pipeline.predict_proba(texts)
            classes = pipeline.classes_
            for i, row in zip(test_index, probabilities, strict=True):
                predictions[i] = (str(classes[row.argmax()]), float(row.max()))
        else:
            for i, intent in zip(test_index, pipeline.predict(texts), strict=True):
                predictions[i] = (str(intent), 1.0)
    return predictions


@dataclass(frozen=True)
class Evaluation:
    """Accuracy, macro F1, per-intent scores and the most confused pairs."""

    accuracy: float
    macro_f1: float
    per_intent: dict[str, dict[str, float]]
    confused_pairs: list[tuple[str, str, int]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "accuracy": round(self.accuracy, 4),
            "macro_f1": round(self.macro_f1, 4),
            "per_intent": self.per_intent,
            "confused_pairs": [
                {"intent": t, "predicted": p, "count": n} for t, p, n in self.confused_pairs
            ],
        }


def score(truth: Sequence[str], predicted: Sequence[str], top_pairs: int = 10) -> Evaluation:
    """Scores as scikit-learn computes them (macro over true and predicted labels)."""
    pairs = list(zip(truth, predicted, strict=True))
    per_intent: dict[str, dict[str, float]] = {}
    for label in sorted(set(truth) | set(predicted)):
        hits = sum(1 for t, p in pairs if t == label == p)
        support = sum(1 for t, _ in pairs if t == label)
        chosen = sum(1 for _, p in pairs if p == label)
        precision = hits / chosen if chosen else 0.0
        recall = hits / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if hits else 0.0
        per_intent[label] = {
            "precision": round(precision, 4),
            "recall": round(recall, 4),
            "f1": round(f1, 4),
            "support": support,
        }
    accuracy = sum(1 for t, p in pairs if t == p) / len(pairs) if pairs else 0.0
    f1s = [_f1(pairs, label) for label in per_intent]
    confused = Counter((t, p) for t, p in pairs if t != p).most_common(top_pairs)
    return Evaluation(
        accuracy=accuracy,
        macro_f1=sum(f1s) / len(f1s) if f1s else 0.0,
        per_intent=per_intent,
        confused_pairs=[(t, p, n) for (t, p), n in confused],
    )


def _f1(pairs: Iterable[tuple[str, str]], label: str) -> float:
    pairs = list(pairs)
    hits = sum(1 for t, p in pairs if t == label == p)
    support = sum(1 for t, _ in pairs if t == label)
    chosen = sum(1 for _, p in pairs if p == label)
    return 2 * hits / (support + chosen) if hits else 0.0


def evaluate(model: NluModel, examples: Sequence[Example]) -> Evaluation:
    """How the model does on labelled examples it may never have seen."""
    predicted = [model.rank(e.text, 1)[0][0] for e in examples]
    return score([e.intent for e in examples], predicted)


@dataclass(frozen=True)
class TrainingSummary:
    """What a training run did."""

    examples: int
    intents: int
    seconds: float


def faq_examples(faq_path: Path = DEFAULT_FAQ) -> list[Example]:
    """The FAQ's questions as examples of FAQ_INTENT (issue 19), minus any sentence that
    reads like an example of nlu.yml (that one stays the request it is labelled as)."""
    taken = {classifier_text(e.text) for e in read_examples(DEFAULT_DATA)}
    return sorted(
        Example(FAQ_INTENT, text)
        for text in training_texts(read_faq(faq_path))
        if classifier_text(text) not in taken
    )


def cache_key(data_path: Path, faq_path: Path | None = None) -> str:
    """Hash of the training YAML, the FAQ learned with it and the code that turns them
    into a model."""
    digest = hashlib.sha256(data_path.read_bytes())
    if faq_path is not None:
        digest.update(faq_path.read_bytes())
    here = Path(__file__).parent
    for name in _CODE_FILES:
        digest.update((here / name).read_bytes())
    return digest.hexdigest()[:16]


def train(data_path: Path | None = None) -> tuple[NluModel, TrainingSummary]:
    """Train from a Rasa NLU YAML file (imports scikit-learn); nothing is written. The
    default data (nlu/data/nlu.yml) is learned with the FAQ's questions (data/faq.yml)
    as FAQ_INTENT; another file is learned alone."""
    path = data_path or DEFAULT_DATA
    faq_path = DEFAULT_FAQ if data_path is None else None
    started = time.perf_counter()
    examples = read_examples(path)
    faq = faq_examples(faq_path) if faq_path is not None else []
    arrays, meta = fit_and_export([*examples, *faq])
    seconds = time.perf_counter() - started
    meta.update(
        key=cache_key(path, faq_path),
        examples=len(examples) + len(faq),
        train_seconds=round(seconds, 2),
    )
    model = NluModel(arrays, meta)
    return model, TrainingSummary(len(examples) + len(faq), len(model.intents), seconds)


def load_or_train(cache_dir: Path, data_path: Path | None = None) -> NluModel:
    """The cached model, trained (and cached) first if missing or stale."""
    path = data_path or DEFAULT_DATA
    model = NluModel.load(cache_dir, cache_key(path, DEFAULT_FAQ if data_path is None else None))
    if model is not None:
        return model
    log.info("training the NLU model from %s", path)
    model, summary = train(data_path)
    try:
        model.save(cache_dir)
    except OSError as error:  # a read-only directory costs a retraining per start, not a crash
        log.warning("cannot cache the NLU model in %s: %s", cache_dir, error)
    log.info(
        "NLU model: %d examples, %d intents, %.1f s, cached in %s",
        summary.examples,
        summary.intents,
        summary.seconds,
        cache_dir,
    )
    return model
