"""Shared pieces of the benchmark scripts: percentiles, process memory, report files."""

from __future__ import annotations

import json
import platform
import statistics
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results"


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    idx = min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))
    return ordered[idx]


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def rss_mb(pid: int) -> dict[str, float]:
    """Current and peak resident memory of a process, from /proc."""
    fields: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(rest.split()[0]) / 1024
    return {"rss_mb": round(fields["VmRSS"], 1), "peak_rss_mb": round(fields["VmHWM"], 1)}


def write_report(name: str, data: dict[str, Any], table: list[tuple[str, str, str]]) -> Path:
    """Write results/<name>.json and results/<name>.md; return the Markdown path."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    meta = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {platform.python_version()}",
        "cpus": len(__import__("os").sched_getaffinity(0)),
    }
    (RESULTS / f"{name}.json").write_text(json.dumps({**meta, **data}, indent=2))
    lines = [
        f"# {name}",
        "",
        f"{meta['when']}, {meta['cpus']} CPUs, Python {meta['machine']}",
        "",
        "| measure | value | target |",
        "|---|---|---|",
    ]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in table]
    md = RESULTS / f"{name}.md"
    md.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return md
