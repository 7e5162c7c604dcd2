"""`cskh nlu train|parse|test`: the NLU model from the command line (issue 8).

bot/__main__.py calls `register` with its sub-command parser; each command is run as
`args.run(settings, args)` like the others, and keeps its model in <var dir>/nlu/.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from datetime import date
from functools import partial
from pathlib import Path
from typing import Any


def register(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    cache_dir_of: Callable[[Any], Path],
) -> None:
    """Add `nlu train`, `nlu parse` and `nlu test` to the `cskh` command; `cache_dir_of`
    gives the model cache directory from the settings each command is run with."""
    nlu = commands.add_parser("nlu", help="the language model: train, parse, test")
    sub = nlu.add_subparsers(title="nlu commands")
    cache = cache_dir_of

    train = sub.add_parser("train", help="train the intent classifier now and cache it")
    train.set_defaults(run=partial(_train, cache))

    parse = sub.add_parser("parse", help="print the intent and entities of a text as JSON")
    parse.add_argument("text", help="what a customer would type")
    parse.add_argument("--today", type=date.fromisoformat, help="resolve dates as on YYYY-MM-DD")
    parse.set_defaults(run=partial(_parse, cache))

    test = sub.add_parser("test", help="accuracy and F1 on a Rasa NLU YAML file")
    test.add_argument("file", type=Path, help="e.g. nlu/data/test.yml")
    test.add_argument("--json", action="store_true", help="print one JSON object")
    test.set_defaults(run=partial(_test, cache))


def _train(cache: Callable[[Any], Path], settings: Any, args: argparse.Namespace) -> int:
    from nlu.training import train

    model, summary = train()
    model.save(cache(settings))
    print(
        f"trained on {summary.examples} examples, {summary.intents} intents "
        f"in {summary.seconds:.1f} s; cached in {cache(settings)}"
    )
    return 0


def _parse(cache: Callable[[Any], Path], settings: Any, args: argparse.Namespace) -> int:
    from nlu.training import load_or_train

    parsed = load_or_train(cache(settings)).parse(args.text, today=args.today)
    print(json.dumps(parsed.as_dict(), ensure_ascii=False))
    return 0


def _test(cache: Callable[[Any], Path], settings: Any, args: argparse.Namespace) -> int:
    from nlu.training import DataError, evaluate, load_or_train, read_examples

    try:
        examples = read_examples(args.file)
    except OSError as error:
        print(f"cskh nlu test: {args.file}: {error.strerror or error}", file=sys.stderr)
        return 2
    except DataError as error:
        print(f"cskh nlu test: {error}", file=sys.stderr)
        return 2
    evaluation = evaluate(load_or_train(cache(settings)), examples)
    if args.json:
        print(json.dumps(evaluation.as_dict(), ensure_ascii=False))
        return 0
    print(
        f"accuracy {evaluation.accuracy:.4f}  macro F1 {evaluation.macro_f1:.4f}  "
        f"({len(examples)} examples, {len({e.intent for e in examples})} intents)"
    )
    print(f"\n{'intent':28} {'precision':>9} {'recall':>7} {'f1':>7} {'support':>8}")
    for intent, scores in evaluation.per_intent.items():
        print(
            f"{intent:28} {scores['precision']:9.3f} {scores['recall']:7.3f} "
            f"{scores['f1']:7.3f} {scores['support']:8}"
        )
    print("\nmost confused (intent -> predicted: count)")
    for intent, predicted, count in evaluation.confused_pairs or [("none", "none", 0)]:
        print(f"  {intent} -> {predicted}: {count}")
    return 0
