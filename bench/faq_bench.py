"""The FAQ's figures and the out-of-scope confusion for docs/BENCHMARKS.md (issue 19).

    python bench/faq_bench.py [--folds 5]

Prints Markdown: for the FAQ, the hit rate on the held-out paraphrases of
nlu/data/faq_test.yml (as written and without diacritics), how often the FAQ would
answer an example of a domain intent (nlu/data/test.yml and test_en.yml, held out; and
nlu/data/nlu.yml out of fold, when --folds is given), over a grid of the two thresholds;
the retrieval's latency. For out_of_scope: the confusion of the held-out out-of-scope
sentences, near-misses among them (nlu/data/test.yml), and how many a domain intent took
confidently (it would have opened a flow).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.handlers.freetext import intent_flows, opens_at_once  # noqa: E402
from nlu import faq as nlu_faq  # noqa: E402
from nlu.faq import FaqIndex, FaqMatch, read_faq  # noqa: E402
from nlu.model import NluModel, Parse  # noqa: E402
from nlu.normalize import strip_diacritics  # noqa: E402
from nlu.training import (  # noqa: E402
    DEFAULT_DATA,
    faq_examples,
    fit,
    folds,
    load_or_train,
    read_examples,
)

CACHE = Path("/tmp/cskh-bench-nlu-faq")
PARAPHRASES = ROOT / "nlu" / "data" / "faq_test.yml"
HELD_OUT = [ROOT / "nlu" / "data" / "test.yml", ROOT / "nlu" / "data" / "test_en.yml"]
GRID_LIKELY = (0.25, 0.35, 0.5, 0.65)
GRID_MATCH = (0.25, 0.35, 0.45)


def paraphrases() -> list[tuple[str, str]]:
    document = yaml.safe_load(PARAPHRASES.read_text("utf-8"))["paraphrases"]
    pairs: list[tuple[str, str]] = []
    for entry_id, texts in document.items():
        for text in texts:
            pairs.append((entry_id, text))
            pairs.append((entry_id, strip_diacritics(text)))
    return pairs


def decides(parse: Parse, match: FaqMatch, likely: float, least: float) -> bool:
    return (
        parse.faq >= likely
        and parse.faq > parse.confidence
        and parse.probability("out_of_scope") < nlu_faq.FAQ_OUTSIDE
        and match.entry is not None
        and match.score >= least
        and match.score - match.second_score >= nlu_faq.FAQ_MARGIN
    )


def faq_section(model: NluModel, index: FaqIndex) -> None:
    pairs = paraphrases()
    parsed = [(eid, model.parse(t), index.match(t), t) for eid, t in pairs]
    domain = [
        e
        for path in HELD_OUT
        for e in read_examples(path)
        if e.intent in intent_flows() or e.intent in {"help", "talk_to_human"}
    ]
    held = [(e, model.parse(e.text), index.match(e.text)) for e in domain]
    top1 = sum(m.entry is not None and m.entry.id == eid for eid, _, m, _ in parsed)
    print("## FAQ (issue 19)\n")
    print(
        f"{len(index)} entries; {len(pairs)} held-out paraphrases "
        f"({len(pairs) // 2} as written, the same without diacritics); "
        f"{len(held)} held-out examples of domain intents (test.yml, test_en.yml).\n"
    )
    print(f"Retrieval alone, top-1 entry right: {top1}/{len(pairs)} ({top1 / len(pairs):.1%}).\n")
    print(
        "| FAQ_LIKELY | FAQ_MATCH | paraphrases answered right | answered wrong "
        "| domain examples the FAQ took |"
    )
    print("|---|---|---|---|---|")
    for likely in GRID_LIKELY:
        for least in GRID_MATCH:
            right = wrong = 0
            for eid, parse, match, _ in parsed:
                if decides(parse, match, likely, least):
                    right += match.entry is not None and match.entry.id == eid
                    wrong += match.entry is not None and match.entry.id != eid
            stolen = sum(decides(p, m, likely, least) for _, p, m in held)
            chosen = (likely, least) == (nlu_faq.FAQ_LIKELY, nlu_faq.FAQ_MATCH)
            mark = " **(chosen)**" if chosen else ""
            print(
                f"| {likely}{mark} | {least} | {right}/{len(pairs)} ({right / len(pairs):.1%}) | "
                f"{wrong} | {stolen}/{len(held)} ({stolen / len(held):.1%}) |"
            )
    print()
    answered = [
        (eid, m, t)
        for eid, p, m, t in parsed
        if decides(p, m, nlu_faq.FAQ_LIKELY, nlu_faq.FAQ_MATCH)
    ]
    missed = [(eid, t) for eid, p, m, t in parsed if not any(t == a[2] for a in answered)]
    print(f"Paraphrases not answered at the chosen thresholds ({len(missed)}):\n")
    for eid, text in missed[:40]:
        print(f"- {eid}: {text}")
    taken = [
        (e.intent, e.text, m.entry.id if m.entry else "")
        for e, p, m in held
        if decides(p, m, nlu_faq.FAQ_LIKELY, nlu_faq.FAQ_MATCH)
    ]
    print(f"\nDomain examples the FAQ answered at the chosen thresholds ({len(taken)}):\n")
    for intent, text, entry_id in taken:
        print(f"- {intent}: {text} → {entry_id}")
    started = time.perf_counter()
    for _, text in pairs:
        index.match(text)
    per = (time.perf_counter() - started) / len(pairs) * 1000
    built = time.perf_counter()
    FaqIndex(read_faq())
    print(
        f"\nRetrieval: {per:.1f} ms a message; building the index "
        f"{(time.perf_counter() - built) * 1000:.0f} ms.\n"
    )


def out_of_fold_section(n_splits: int) -> None:
    """nlu.yml's domain examples, each judged by a model that never saw it (with the FAQ
    learned in every fold)."""
    examples = read_examples(DEFAULT_DATA)
    faq = faq_examples()
    index = FaqIndex(read_faq())
    stolen = total = 0
    started = time.perf_counter()
    for train_index, test_index in folds(examples, n_splits):
        pipeline = fit([*(examples[i] for i in train_index), *faq])
        classes = list(pipeline.classes_)
        faq_column = classes.index(nlu_faq.FAQ_INTENT)
        texts = [examples[i] for i in test_index]
        for example, row in zip(
            texts, pipeline.predict_proba([e.text for e in texts]), strict=True
        ):
            if example.intent not in intent_flows():
                continue
            total += 1
            top = max(p for c, p in zip(classes, row, strict=True) if c != nlu_faq.FAQ_INTENT)
            outside = float(row[classes.index("out_of_scope")])
            stolen += nlu_faq.answers(
                float(row[faq_column]), top, index.match(example.text), outside
            )
    print(
        f"nlu.yml out of fold ({n_splits} folds, {time.perf_counter() - started:.0f} s): the FAQ "
        f"answered {stolen}/{total} ({stolen / total:.1%}) examples of intents that open a flow.\n"
    )


def out_of_scope_section(model: NluModel) -> None:
    examples = [e for e in read_examples(HELD_OUT[0]) if e.intent == "out_of_scope"]
    examples += [e for e in read_examples(HELD_OUT[1]) if e.intent == "out_of_scope"]
    parses = [(e, model.parse(e.text)) for e in examples]
    predicted = Counter(p.intent for _, p in parses)
    flow_confident = [(e, p) for e, p in parses if p.intent in intent_flows() and opens_at_once(p)]
    print("## Out of scope (issue 19)\n")
    print(
        f"{len(examples)} held-out out-of-scope sentences (nlu/data/test.yml and test_en.yml, "
        "near-misses that share words with our services among them). Where the model put them:\n"
    )
    print("| predicted | count | opened a flow (confident) |")
    print("|---|---|---|")
    confident = Counter(p.intent for _, p in flow_confident)
    for intent, count in predicted.most_common():
        print(f"| {intent} | {count} | {confident.get(intent, 0)} |")
    recall = predicted.get("out_of_scope", 0) / len(examples)
    wrongly_in = [e for path in HELD_OUT for e in read_examples(path) if e.intent != "out_of_scope"]
    into = sum(model.rank(e.text, 1)[0][0] == "out_of_scope" for e in wrongly_in)
    print(
        f"\nout_of_scope recall {recall:.1%}; domain sentences read as out_of_scope: "
        f"{into}/{len(wrongly_in)}; out-of-scope sentences that would open a flow: "
        f"{len(flow_confident)}.\n"
    )
    for e, p in flow_confident:
        print(f"- {e.text} → {p.intent} {p.confidence:.2f}")
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--folds", type=int, default=0, help="also nlu.yml out of fold")
    args = parser.parse_args()
    started = time.perf_counter()
    model = load_or_train(CACHE)
    print(f"model ready in {time.perf_counter() - started:.1f} s ({CACHE})\n")
    index = FaqIndex(read_faq())
    faq_section(model, index)
    if args.folds:
        out_of_fold_section(args.folds)
    out_of_scope_section(model)


if __name__ == "__main__":
    main()
