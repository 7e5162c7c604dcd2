"""The NLU model's figures for docs/BENCHMARKS.md (issue 8).

    python bench/nlu_bench.py [--folds 5]

Prints Markdown tables: stratified k-fold cross-validation on nlu/data/nlu.yml for
every candidate in nlu.training.CANDIDATES (folds keep sentences that normalise
alike together), held-out scores on nlu/data/test.yml, training time, parse latency,
the serving path's start-up cost (with and without scikit-learn imported) and the
confidence threshold the out-of-fold predictions recommend.
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

from nlu import features as nlu_features
from nlu.model import CONFIDENT, NluModel
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
TARGET_PRECISION = 0.97
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
    test = read_examples(TEST_DATA)
    truth = [e.intent for e in sorted(examples)]
    print(f"| candidate | {folds}-fold accuracy | {folds}-fold macro F1 | test.yml accuracy |")
    print("|---|---|---|---|")
    rows: list[tuple[str, Candidate, bool]] = [(c.name, c, False) for c in CANDIDATES]
    rows.append((f"{CHOSEN.name}, on fold() instead of normalize()", CHOSEN, True))
    for name, candidate, ablation in rows:
        with folded_only() if ablation else nullcontext():
            predicted = [intent for intent, _ in out_of_fold(examples, candidate, folds)]
            held_out = fit(examples, candidate).predict([e.text for e in test])
        cv = score(truth, predicted)
        accuracy = score([e.intent for e in test], list(held_out)).accuracy
        mark = " **(chosen)**" if candidate == CHOSEN and not ablation else ""
        print(f"| {name}{mark} | {cv.accuracy:.3f} | {cv.macro_f1:.3f} | {accuracy:.3f} |")


def threshold(examples: Sequence[Example], folds: int, model: NluModel) -> None:
    """The lowest confidence at which out-of-fold precision reaches the target."""
    ordered = sorted(examples)
    oof = [
        (e.intent == p, c)
        for e, (p, c) in zip(ordered, out_of_fold(ordered, CHOSEN, folds), strict=True)
    ]
    test = read_examples(TEST_DATA)
    held = [(e.intent == r[0][0], r[0][1]) for e in test for r in [model.rank(e.text, 1)]]
    print("| threshold | out-of-fold precision | coverage | test.yml precision | coverage |")
    print("|---|---|---|---|---|")
    chosen = None
    for step in range(2, 17):
        t = step / 20
        p1, c1 = precision(oof, t)
        p2, c2 = precision(held, t)
        if chosen is None and p1 >= TARGET_PRECISION:
            chosen = t
        print(f"| {t:.2f} | {p1:.3f} | {c1:.3f} | {p2:.3f} | {c2:.3f} |")
    print(f"\nrecommended CONFIDENT = {chosen} (nlu.model.CONFIDENT is {CONFIDENT})")


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
    test = read_examples(TEST_DATA)
    print(f"nlu.yml: {len(examples)} examples; test.yml: {len(test)} examples\n")
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
        evaluation = evaluate(model, test)
        print("\n| held-out (test.yml) | value |\n|---|---|")
        print(f"| accuracy | {evaluation.accuracy:.4f} |\n| macro F1 | {evaluation.macro_f1:.4f} |")
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
