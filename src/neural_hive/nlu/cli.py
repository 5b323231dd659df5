"""``neural-hive-nlu``: train, predict and evaluate the intent NLU model."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from neural_hive.nlu.data import DataError, read_examples
from neural_hive.nlu.pipeline import TrainConfig as TrainDefaults
from neural_hive.nlu.types import DOMAINS, LANGUAGES

DEFAULT_MODEL = Path("models/nlu")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="neural-hive-nlu", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    train = sub.add_parser("train", help="train the model (deterministic)")
    train.add_argument(
        "--data",
        type=Path,
        default=Path("data/nlu"),
        help='data set directory; only the "split": "train" lines of <data>/*.jsonl are read',
    )
    train.add_argument("--output", type=Path, default=DEFAULT_MODEL)
    train.add_argument("--seed", type=int, default=7)
    train.add_argument("--epochs", type=int, default=TrainDefaults().epochs)
    train.add_argument(
        "--no-calibrate", action="store_true", help="skip the temperature fit (faster)"
    )
    train.add_argument(
        "--lang",
        action="append",
        choices=LANGUAGES,
        help="train only these languages (repeatable; default: all)",
    )

    predict = sub.add_parser("predict", help="classify JSON lines from stdin")
    predict.add_argument("--model", type=Path, default=DEFAULT_MODEL)

    evaluate = sub.add_parser("evaluate", help="score a labelled .jsonl file or directory")
    evaluate.add_argument("file", type=Path, help="a .jsonl file or a directory of them")
    evaluate.add_argument(
        "--split",
        choices=("heldout", "train", "all"),
        default="heldout",
        help="lines of this split (default heldout); lines without a split always count",
    )
    evaluate.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    evaluate.add_argument("--json", action="store_true", help="print the scores as JSON")
    evaluate.add_argument(
        "--min-macro-f1",
        type=float,
        default=None,
        help="exit 1 when any language scores below this",
    )
    return parser


def _train(args: argparse.Namespace) -> int:
    from neural_hive.nlu.classifier import torch_blocked
    from neural_hive.nlu.pipeline import TrainConfig, train

    cfg = TrainConfig(
        seed=args.seed, epochs=args.epochs, languages=tuple(args.lang) if args.lang else LANGUAGES
    )
    with torch_blocked():
        report = train(args.data, args.output, cfg, calibrate=not args.no_calibrate)
    counts = ", ".join(f"{k}={v}" for k, v in report.counts.items())
    print(
        f"trained {counts} in {report.seconds:.1f}s (temperature {report.temperature})"
        f" -> {args.output}"
    )
    return 0


def _predict(args: argparse.Namespace, stdin: TextIO, stdout: TextIO) -> int:
    from neural_hive.nlu.classifier import IntentClassifier

    clf = IntentClassifier.load(args.model)
    status = 0
    for number, line in enumerate(stdin, start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
            if not isinstance(obj, dict) or not isinstance(obj.get("text"), str):
                raise ValueError("expected an object with a string 'text'")
            lang = obj.get("lang")
            if lang is not None and not isinstance(lang, str):
                raise ValueError("'lang' must be a string")
        except ValueError as exc:
            stdout.write(json.dumps({"error": f"line {number}: {exc}"}) + "\n")
            status = 1
            continue
        result = clf.classify(obj["text"], lang)
        stdout.write(result.model_dump_json() + "\n")
        stdout.flush()
    return status


def _evaluate(args: argparse.Namespace) -> int:
    from neural_hive.nlu.classifier import IntentClassifier
    from neural_hive.nlu.metrics import score

    examples = read_examples(args.file, None if args.split == "all" else args.split)
    clf = IntentClassifier.load(args.model)
    started = time.perf_counter()
    results = {}
    for lang in LANGUAGES:
        subset = [e for e in examples if e.lang == lang]
        if not subset:
            continue
        preds = [clf.classify(e.text, e.lang) for e in subset]
        results[lang] = score(
            [e.domain for e in subset],
            [p.domain for p in preds],
            [e.classification for e in subset],
            [p.classification for p in preds],
            DOMAINS,
        )
    per_call_ms = (time.perf_counter() - started) * 1000 / len(examples)
    if args.json:
        print(
            json.dumps(
                {
                    "per_call_ms": round(per_call_ms, 3),
                    "languages": {
                        lang: {
                            "n": s.n,
                            "accuracy": round(s.accuracy, 4),
                            "macro_f1": round(s.macro_f1, 4),
                            "classification_accuracy": round(s.classification_accuracy, 4),
                        }
                        for lang, s in results.items()
                    },
                }
            )
        )
    else:
        print(f"{'lang':<5}{'n':>6}{'accuracy':>10}{'macro_f1':>10}{'class_acc':>11}")
        for lang, s in results.items():
            print(
                f"{lang:<5}{s.n:>6}{s.accuracy:>10.3f}{s.macro_f1:>10.3f}"
                f"{s.classification_accuracy:>11.3f}"
            )
        print(f"mean latency {per_call_ms:.2f} ms/text")
    if args.min_macro_f1 is not None:
        low = [lang for lang, s in results.items() if s.macro_f1 < args.min_macro_f1]
        if low:
            print(f"macro-F1 below {args.min_macro_f1} for: {', '.join(low)}", file=sys.stderr)
            return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from neural_hive.nlu.classifier import ModelError

    try:
        if args.command == "train":
            return _train(args)
        if args.command == "predict":
            return _predict(args, sys.stdin, sys.stdout)
        return _evaluate(args)
    except (DataError, ModelError) as exc:
        print(f"neural-hive-nlu: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
