"""The NLU model's figures for docs/BENCHMARKS.md (issue 8).

    python bench/nlu_bench.py [--folds 5]

Prints Markdown tables: stratified k-fold cross-validation on nlu/data/nlu.yml for
every candidate in nlu.training.CANDIDATES (folds keep sentences that normalise
alike together), held-out scores on nlu/data/test.yml (Vietnamese) and
nlu/data/test_en.yml (English, issue 15), training time, parse latency, the serving
path's start-up cost (with and without scikit-learn imported), the confidence
threshold the out-of-fold predictions recommend, and the higher one a service form
needs before it opens from free text (issue 15).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from pathlib import Path

from bot.dialogs.forms import default_forms
from nlu import features as nlu_features
from nlu.model import CONFIDENT, FORM_CONFIDENT, NluModel
from nlu.normalize import fold
from nlu.training import (
    CANDIDATES,
    CHOSEN,
    DEFAULT_DATA,
    Candidate,
    Example,
    evaluate,
    fit,
    load_or_train,
    out_of_fold,
    read_examples,
    score,
)

TEST_DATA = DEFAULT_DATA.parent / "test.yml"
TEST_EN_DATA = DEFAULT_DATA.parent / "test_en.yml"
TARGET_PRECISION = 0.97
# A form opened by mistake costs the customer a cancel and a restart: stricter (issue 15).
FORM_TARGET_PRECISION = 0.99
SERVE = """
import sys, time
started = time.perf_counter()
{preload}
from pathlib import Path
from nlu.training import load_or_train
model = load_or_train(Path({cache!r}))
model.parse("mất điện ở Hội An tháng này")
seconds = time.perf_counter() - started
# peak RSS of this process: ru_maxrss would carry the (larger) benchmark parent's over exec
status = open("/proc/self/status").read()
rss = int(status.split("VmHWM:")[1].split()[0]) / 1024
print(f"{{seconds:.3f}} {{rss:.0f}} {{'sklearn' in sys.modules}}")
"""


@contextmanager
def folded_only() -> Iterator[None]:
    """The ablation: features on fold() (no abbreviations, no squeezing) instead of normalize()."""
    saved = nlu_features.normalize
    nlu_features.normalize = fold
    try:
        yield
    finally:
        nlu_features.normalize = saved


def cross_validation(examples: Sequence[Example], folds: int) -> None:
    test, english = read_examples(TEST_DATA), read_examples(TEST_EN_DATA)
    truth = [e.intent for e in sorted(examples)]
    print(
        f"| candidate | {folds}-fold accuracy | {folds}-fold macro F1 | test.yml accuracy "
        "| test_en.yml accuracy |"
    )
    print("|---|---|---|---|---|")
    rows: list[tuple[str, Candidate, bool]] = [(c.name, c, False) for c in CANDIDATES]
    rows.append((f"{CHOSEN.name}, on fold() instead of normalize()", CHOSEN, True))
    for name, candidate, ablation in rows:
        with folded_only() if ablation else nullcontext():
            predicted = [intent for intent, _ in out_of_fold(examples, candidate, folds)]
            pipeline = fit(examples, candidate)
            held_out = pipeline.predict([e.text for e in test])
            held_out_en = pipeline.predict([e.text for e in english])
        cv = score(truth, predicted)
        accuracy = score([e.intent for e in test], list(held_out)).accuracy
        accuracy_en = score([e.intent for e in english], list(held_out_en)).accuracy
        mark = " **(chosen)**" if candidate == CHOSEN and not ablation else ""
        print(
            f"| {name}{mark} | {cv.accuracy:.3f} | {cv.macro_f1:.3f} | {accuracy:.3f} "
            f"| {accuracy_en:.3f} |"
        )


def threshold(examples: Sequence[Example], folds: int, model: NluModel) -> None:
    """The lowest confidence at which out-of-fold precision reaches the target, for every
    intent (CONFIDENT) and for the service forms' intents (FORM_CONFIDENT)."""
    ordered = sorted(examples)
    oof = [
        (e.intent, p, c)
        for e, (p, c) in zip(ordered, out_of_fold(ordered, CHOSEN, folds), strict=True)
    ]
    held = [(e.intent, *model.rank(e.text, 1)[0]) for e in read_examples(TEST_DATA)]
    held_en = [(e.intent, *model.rank(e.text, 1)[0]) for e in read_examples(TEST_EN_DATA)]
    print("| threshold | out-of-fold precision | coverage | test.yml precision | coverage |")
    print("|---|---|---|---|---|")
    chosen = None
    for step in range(2, 17):
        t = step / 20
        p1, c1 = precision([(i == p, c) for i, p, c in oof], t)
        p2, c2 = precision([(i == p, c) for i, p, c in held], t)
        if chosen is None and p1 >= TARGET_PRECISION:
            chosen = t
        print(f"| {t:.2f} | {p1:.3f} | {c1:.3f} | {p2:.3f} | {c2:.3f} |")
    print(f"\nrecommended CONFIDENT = {chosen} (nlu.model.CONFIDENT is {CONFIDENT})\n")

    forms = set(default_forms().intents())
    print(
        "| form threshold | out-of-fold: precision of forms opened | forms opened at once "
        "| wrong forms opened | test.yml: precision / opened at once "
        "| test_en.yml: precision / opened at once |"
    )
    print("|---|---|---|---|---|---|")
    chosen = None
    for step in range(11, 20):
        t = step / 20
        p1, r1, wrong = form_precision(oof, forms, t)
        p2, r2, _ = form_precision(held, forms, t)
        p3, r3, _ = form_precision(held_en, forms, t)
        if chosen is None and p1 >= FORM_TARGET_PRECISION:
            chosen = t
        print(
            f"| {t:.2f} | {p1:.3f} | {r1:.3f} | {wrong} | {p2:.3f} / {r2:.3f} "
            f"| {p3:.3f} / {r3:.3f} |"
        )
    print(f"\nrecommended FORM_CONFIDENT = {chosen} (nlu.model.FORM_CONFIDENT is {FORM_CONFIDENT})")


def form_precision(
    rows: list[tuple[str, str, float]], forms: set[str], t: float
) -> tuple[float, float, int]:
    """Of the predictions of a form's intent at confidence >= t: the share right, the
    share of the form sentences opened at once, and how many opened the wrong form."""
    opened = [(truth, predicted) for truth, predicted, c in rows if predicted in forms and c >= t]
    right = sum(1 for truth, predicted in opened if truth == predicted)
    asked = [row for row in rows if row[0] in forms]
    at_once = sum(1 for truth, predicted, c in asked if truth == predicted and c >= t)
    return (right / len(opened) if opened else 1.0), at_once / len(asked), len(opened) - right


def precision(pairs: list[tuple[bool, float]], t: float) -> tuple[float, float]:
    kept = [ok for ok, confidence in pairs if confidence >= t]
    return (sum(kept) / len(kept) if kept else 1.0), len(kept) / len(pairs)


def serving(cache: Path) -> None:
    print("| serving process: load cached model + 1 parse | seconds | peak RSS MB | sklearn |")
    print("|---|---|---|---|")
    for label, preload in (
        ("numpy only", ""),
        ("after `import sklearn`", "import sklearn.linear_model"),
    ):
        runs = []
        for _ in range(5):
            code = SERVE.format(preload=preload, cache=str(cache))
            out = subprocess.run(
                [sys.executable, "-c", code], capture_output=True, text=True, check=True
            )
            runs.append(out.stdout.split())
        seconds = statistics.median(float(r[0]) for r in runs)
        print(f"| {label}, median of 5 | {seconds:.3f} | {runs[-1][1]} | {runs[-1][2]} |")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--folds", type=int, default=5)
    args = parser.parse_args()
    examples = read_examples(DEFAULT_DATA)
    test, english = read_examples(TEST_DATA), read_examples(TEST_EN_DATA)
    print(
        f"nlu.yml: {len(examples)} examples; test.yml: {len(test)} examples; "
        f"test_en.yml: {len(english)} examples\n"
    )
    cross_validation(examples, args.folds)

    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp)
        cold = subprocess.run(
            [
                sys.executable,
                "-c",
                "import time; t = time.perf_counter(); from nlu.training import train; "
                "train(); print(time.perf_counter() - t)",
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        started = time.perf_counter()
        model = load_or_train(cache)
        warm = time.perf_counter() - started
        evaluation, evaluation_en = evaluate(model, test), evaluate(model, english)
        print("\n| held-out | value |\n|---|---|")
        print(
            f"| test.yml accuracy / macro F1 | {evaluation.accuracy:.4f} "
            f"/ {evaluation.macro_f1:.4f} |"
        )
        print(
            f"| test_en.yml accuracy / macro F1 | {evaluation_en.accuracy:.4f} "
            f"/ {evaluation_en.macro_f1:.4f} |"
        )
        print(f"| training, new process (imports scikit-learn) | {float(cold.stdout):.2f} s |")
        print(f"| training, scikit-learn already imported | {warm:.2f} s |")

        for e in test:  # warm-up: place index, regex caches
            model.parse(e.text)
        latencies = []
        for _ in range(5):
            for e in test:
                started = time.perf_counter()
                model.parse(e.text)
                latencies.append((time.perf_counter() - started) * 1000)
        latencies.sort()
        p99 = latencies[int(len(latencies) * 0.99)]
        print(
            f"| parse median / p99 over {len(latencies)} parses | "
            f"{statistics.median(latencies):.3f} / {p99:.3f} ms |\n"
        )
        serving(cache)
        print()
        threshold(examples, args.folds, model)


if __name__ == "__main__":
    main()
