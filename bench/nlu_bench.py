"""Benchmark the NLU model as the gateway uses it: load time, memory, per-call latency.

Each round starts a fresh Python process that loads all three languages with
``IntentClassifier.load`` (torch blocked, as in the gateway) and reports the load time,
its resident memory after load, whether torch got imported, and the median latency of
``classify`` over held-out texts.

    python bench/nlu_bench.py --model models/nlu [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from common import median, rss_mb, write_report

REPO = Path(__file__).resolve().parents[1]

_CHILD = """
import json, os, sys, time
started = time.perf_counter()
from neural_hive.nlu.classifier import IntentClassifier
clf = IntentClassifier.load(sys.argv[1])
load_s = time.perf_counter() - started
sys.path.insert(0, sys.argv[2])
from common import rss_mb
mem = rss_mb(os.getpid())
texts = json.loads(sys.stdin.read())
for text, lang in texts[:20]:
    clf.classify(text, lang)
calls = []
for text, lang in texts:
    t = time.perf_counter()
    clf.classify(text, lang)
    calls.append((time.perf_counter() - t) * 1000)
calls.sort()
print(json.dumps({
    "load_s": load_s,
    "rss_mb": mem["rss_mb"],
    "torch_imported": "torch" in sys.modules,
    "classify_ms_median": calls[len(calls) // 2],
    "classify_ms_p95": calls[int(len(calls) * 0.95)],
}))
"""


def _texts() -> list[tuple[str, str]]:
    sys.path.insert(0, str(REPO / "src"))
    from neural_hive.nlu.data import read_examples

    return [(e.text, e.lang) for e in read_examples(REPO / "data" / "nlu", "heldout")]


def run_once(model: Path, texts: list[tuple[str, str]]) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, str(model), str(Path(__file__).parent)],
        input=json.dumps(texts),
        capture_output=True,
        text=True,
        env=env,
        check=True,
        timeout=300,
    )
    result: dict[str, Any] = json.loads(proc.stdout)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", type=Path, default=REPO / "models" / "nlu")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    texts = _texts()
    runs = [run_once(args.model, texts) for _ in range(args.rounds)]
    load_s = median([r["load_s"] for r in runs])
    rss = median([r["rss_mb"] for r in runs])
    call_ms = median([r["classify_ms_median"] for r in runs])
    p95_ms = median([r["classify_ms_p95"] for r in runs])
    torch_imported = any(r["torch_imported"] for r in runs)
    data = {
        "rounds": runs,
        "load_s": load_s,
        "rss_mb": rss,
        "classify_ms": call_ms,
        "classify_ms_p95": p95_ms,
        "torch_imported": torch_imported,
        "bench_process": rss_mb(os.getpid()),
    }
    write_report(
        "nlu",
        data,
        [
            ("load, 3 languages, fresh process (median)", f"{load_s:.2f} s", "< 1.5 s"),
            ("RSS after load", f"{rss:.0f} MB", "< 250 MB"),
            ("classify per call (median)", f"{call_ms:.2f} ms", "< 3 ms"),
            ("classify per call (p95)", f"{p95_ms:.2f} ms", ""),
            ("torch imported", str(torch_imported), "False"),
        ],
    )


if __name__ == "__main__":
    main()
