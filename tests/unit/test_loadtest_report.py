"""Markdown report, plots, validation page and summary table of a load/chaos run."""

from __future__ import annotations

import math
import random
import re
from pathlib import Path
from typing import Any

from neural_hive.loadtest.report import (
    DASH,
    format_ms,
    format_rps,
    summary_table,
    write_report,
    write_validation_doc,
)

PNG = b"\x89PNG\r\n\x1a\n"
META = {
    "started_at": "2026-11-25T07:00:00+00:00",
    "cpus": 2,
    "python": "3.11.2",
    "host": "x86_64",
    "target": "podman",
    "gateway": "http://10.89.42.5:8000",
}


def percentile(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def step(rng: random.Random, offered: int, scale: float) -> dict[str, Any]:
    samples = [rng.lognormvariate(math.log(scale), 0.5) for _ in range(2000)]
    decisions = [30 * scale * rng.random() + 10 for _ in range(500)]
    ok = offered * 30 - 7
    return {
        "name": f"rate {offered}/s",
        "offered_rps": offered,
        "seconds": 30,
        "sent": offered * 30,
        "achieved_rps": round(offered * (1 - rng.random() / 100), 2),
        "status": {"202": ok, "503": 7, "error": 0},
        "latency_ms": {
            "p50": percentile(samples, 50),
            "p95": percentile(samples, 95),
            "p99": percentile(samples, 99),
            "max": max(samples),
        },
        "decision_ms": {
            "p50": percentile(decisions, 50),
            "p95": percentile(decisions, 95),
            "p99": percentile(decisions, 99),
            "decided": ok,
            "missing": 0,
        },
        "voice": None,
        "histogram_ms": samples,
    }


def full_results() -> dict[str, Any]:
    rng = random.Random(1)
    steps = [step(rng, rate, scale) for rate, scale in ((100, 4.0), (250, 6.5), (500, 21.0))]
    steps[0]["voice"] = {
        "sent": 3,
        "status": {"202": 3},
        "latency_ms": {"p50": 800.0, "p95": 900.0, "p99": 950.0, "max": 950.0},
    }
    base = [step(rng, rate, 1.5) for rate in (100, 500)]
    for b in base:
        del b["decision_ms"], b["voice"]
        b["name"] = f"baseline {b['offered_rps']}/s"
    timeline = [
        {"t": float(t), "ok": 95 - (30 if 10 <= t < 20 else 0), "err": 5 if 10 <= t < 20 else 0}
        for t in range(30)
    ]
    return {
        "meta": META,
        "steps": steps,
        "baseline": {"name": "empty FastAPI route, same Podman network", "steps": base},
        "chaos": [
            {
                "case": "kill 1 specialist",
                "fault": "podman kill specialist-business-pod-0-specialist",
                "fault_at_s": 10.0,
                "fault_end_s": 20.0,
                "status": {"202": 1900, "503": 40},
                "acked": 1900,
                "acked_not_in_kafka": 0,
                "decided": 1900,
                "reduced_quorum": 300,
                "review_required": 20,
                "recovery_s": 1.2,
                "timeline": timeline,
                "notes": "quorum 4 of 5 | no data loss",
            },
            {"case": "restart Redis", "fault": "podman restart redis", "timeline": timeline},
        ],
        "fuzz": {
            "gateway": {
                "cases": 80,
                "by_status": {"2xx": 10, "4xx": 70, "5xx": 0},
                "server_errors": [],
            },
            "specialists": {
                "specialist-business": {
                    "cases": 50,
                    "by_code": {"INVALID_ARGUMENT": 50},
                    "unexpected_count": 0,
                    "serving_after": True,
                }
            },
        },
        "targets": [
            {
                "measure": "sustained 500 intents/s for 60 s, gateway P99",
                "result": f"{format_ms(steps[2]['latency_ms']['p99'])} ms",
                "target": "< 100 ms",
                "met": True,
            },
            {
                "measure": "decision P99 at 500 intents/s",
                "result": f"{format_ms(steps[2]['decision_ms']['p99'])} ms",
                "target": "< 10 ms",
                "met": False,
            },
        ],
    }


def table_row(text: str, first_cell: str) -> list[str]:
    """The cells of the Markdown table row whose first cell is first_cell."""
    for line in text.splitlines():
        if line.startswith(f"| {first_cell} |"):
            return [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]
    raise AssertionError(f"no row {first_cell!r}")


def image_links(text: str) -> list[str]:
    return re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)


def test_report_rows_show_offered_rate_and_p99_of_each_step(tmp_path: Path) -> None:
    results = full_results()
    text = write_report(results, tmp_path).read_text(encoding="utf-8")
    for s in results["steps"]:
        cells = table_row(text, s["name"])
        # step, offered, seconds, sent, achieved, P50, P95, P99, ...
        assert cells[1] == format_rps(s["offered_rps"])
        assert cells[7] == format_ms(s["latency_ms"]["p99"])
        assert cells[13] == format_ms(s["decision_ms"]["p99"])
    assert format_ms(results["steps"][0]["latency_ms"]["p99"]) not in {"", DASH}


def test_error_share_counts_every_non_2xx_answer(tmp_path: Path) -> None:
    results = {"meta": META, "steps": [full_results()["steps"][0]]}
    results["steps"][0]["status"] = {"202": 985, "200": 5, "503": 7, "error": 3}
    text = write_report(results, tmp_path).read_text(encoding="utf-8")
    assert table_row(text, "rate 100/s")[9] == "1.00"


def test_every_linked_png_exists_and_is_a_png(tmp_path: Path) -> None:
    report = write_report(full_results(), tmp_path / "run")
    links = image_links(report.read_text(encoding="utf-8"))
    assert sorted(links) == [
        "chaos_timeline.png",
        "latency_distribution.png",
        "latency_over_rate.png",
    ]
    for link in links:
        assert (report.parent / link).read_bytes().startswith(PNG)


def test_no_chaos_plot_without_a_timeline(tmp_path: Path) -> None:
    results = full_results()
    for case in results["chaos"]:
        del case["timeline"]
    report = write_report(results, tmp_path)
    assert "chaos_timeline.png" not in image_links(report.read_text(encoding="utf-8"))
    assert not (tmp_path / "chaos_timeline.png").exists()


def test_meta_only_renders_dashes(tmp_path: Path) -> None:
    results: dict[str, Any] = {"meta": {"started_at": META["started_at"]}}
    text = write_report(results, tmp_path).read_text(encoding="utf-8")
    assert META["started_at"] in text
    assert f"\n## Load steps\n\n{DASH}\n" in text
    assert f"\n## Chaos cases\n\n{DASH}\n" in text
    assert f"{DASH} CPUs" in text
    for link in image_links(text):
        assert (tmp_path / link).read_bytes().startswith(PNG)
    table = summary_table(results).splitlines()
    assert len(table) == 2
    assert table[1].split() == [DASH] * 7


def test_missing_values_in_a_step_render_as_dashes(tmp_path: Path) -> None:
    results = {"meta": META, "steps": [{"name": "rate 50/s", "offered_rps": 50}]}
    cells = table_row(write_report(results, tmp_path).read_text(encoding="utf-8"), "rate 50/s")
    assert cells[1] == "50"
    assert cells[2:] == [DASH] * (len(cells) - 2)


def test_targets_mark_met_and_unmet(tmp_path: Path) -> None:
    text = write_report(full_results(), tmp_path).read_text(encoding="utf-8")
    assert table_row(text, "decision P99 at 500 intents/s")[3] == "\u274c"
    assert table_row(text, "sustained 500 intents/s for 60 s, gateway P99")[3] == "\u2705"


def test_pipe_in_free_text_does_not_split_a_table_cell(tmp_path: Path) -> None:
    text = write_report(full_results(), tmp_path).read_text(encoding="utf-8")
    header = table_row(text, "case")
    assert len(table_row(text, "kill 1 specialist")) == len(header)
    assert len(table_row(text, "restart Redis")) == len(header)


def test_validation_doc_links_resolve_and_numbers_come_from_results(tmp_path: Path) -> None:
    results = full_results()
    report_dir = tmp_path / "run"
    write_report(results, report_dir)
    doc = write_validation_doc(results, report_dir, tmp_path / "docs" / "validation-report.md")
    text = doc.read_text(encoding="utf-8")
    assert "generated by `neural-hive-loadtest report`" in text
    assert "must not be edited by hand" in text
    assert META["gateway"] in text
    links = image_links(text)
    assert len(links) == 3
    for link in links:
        assert link.startswith("validation/")
        target = doc.parent / link
        assert target.read_bytes() == (report_dir / Path(link).name).read_bytes()
    assert table_row(text, "decision P99 at 500 intents/s")[3] == "\u274c"
    last = results["steps"][-1]
    assert table_row(text, last["name"])[7] == format_ms(last["latency_ms"]["p99"])


def test_validation_doc_draws_plots_missing_from_the_report_dir(tmp_path: Path) -> None:
    doc = write_validation_doc(full_results(), tmp_path / "empty", tmp_path / "docs" / "v.md")
    for link in image_links(doc.read_text(encoding="utf-8")):
        assert (doc.parent / link).read_bytes().startswith(PNG)


def test_summary_table_is_fixed_width_with_one_row_per_step() -> None:
    results = full_results()
    lines = summary_table(results).splitlines()
    assert len(lines) == 1 + len(results["steps"])
    assert len({len(line) for line in lines}) == 1
    for line, s in zip(lines[1:], results["steps"], strict=True):
        cells = line.split()
        assert cells[0] == format_rps(s["offered_rps"])
        assert cells[4] == format_ms(s["latency_ms"]["p99"])
        assert cells[6] == format_ms(s["decision_ms"]["p99"])


def test_restarts_during_the_load_are_named_or_said_to_be_none(tmp_path: Path) -> None:
    results = full_results()
    results["meta"]["restarts"] = {"kafka": 1, "redis": 2}
    text = write_report(results, tmp_path).read_text(encoding="utf-8")
    assert "(a crash or an OOM kill): kafka 1 times, redis 2 times." in text
    results["meta"]["restarts"] = {}
    text = write_report(results, tmp_path).read_text(encoding="utf-8")
    assert "(a crash or an OOM kill): none." in text
    del results["meta"]["restarts"]
    text = write_report(results, tmp_path).read_text(encoding="utf-8")
    assert f"(a crash or an OOM kill): {DASH}." in text
