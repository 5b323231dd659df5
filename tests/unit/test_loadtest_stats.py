"""How load and chaos samples become figures: percentiles, loss, recovery and the targets."""

from __future__ import annotations

from neural_hive.loadtest.chaos import Case, recovery, summarize_case, timeline
from neural_hive.loadtest.stats import latency, percentile, step_summary
from neural_hive.loadtest.tap import Decision, DecisionTap
from neural_hive.loadtest.targets import judge
from neural_hive.loadtest.traffic import Sample

T0 = 1_000_000.0


def sample(t: float, status: str = "202", ident: str | None = None, ms: float = 5.0) -> Sample:
    return Sample(T0 + t, ms, status, "text", ident, "intentions.business" if ident else None)


def tap_with(decided: dict[str, int], seen: set[str] | None = None) -> DecisionTap:
    tap = DecisionTap(["unused"])
    tap.reached_kafka = set(decided) | (seen or set())
    tap.decisions = {
        i: Decision(T0 + 100, "approve" if n == 5 else "review_required", n)
        for i, n in decided.items()
    }
    return tap


def test_percentiles_are_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50
    assert percentile(values, 99) == 99
    assert percentile([7.0], 99) == 7
    assert percentile([], 50) is None
    assert latency([1.0, 2.0, 3.0])["max"] == 3


def test_an_acknowledged_intent_the_tap_never_saw_is_counted_lost() -> None:
    samples = [sample(0, ident="a"), sample(0.1, ident="b"), sample(0.2, "503")]
    tap = tap_with({"a": 5})
    step = step_summary("s", 10, 1, samples, tap)
    assert step["acked"] == 2
    assert step["acked_not_in_kafka"] == 1
    assert step["status"] == {"202": 2, "503": 1}
    assert step["decision_ms"]["decided"] == 1
    assert step["decision_ms"]["missing"] == 1


def test_recovery_starts_at_the_first_window_without_errors_or_reduced_quorum() -> None:
    fault_end = T0 + 10
    samples = [sample(10 + i / 10, ident=f"i{i}") for i in range(60)]  # 10.0 .. 15.9 s
    decided = {f"i{i}": 5 for i in range(60)}
    decided.update({"i3": 3, "i12": 4})  # reduced quorum until 11.2 s
    samples[20] = sample(12.0, "503")  # an error at 12.0 s
    tap = tap_with(decided)
    assert recovery(samples, tap, fault_end, window_s=2.0) == 2.0  # from 12.001 s on
    assert recovery(samples, tap, fault_end, window_s=5.0) is None  # never 5 clean seconds
    healthy = [sample(10 + i / 10, ident=f"h{i}") for i in range(30)]
    assert recovery(healthy, tap_with({f"h{i}": 5 for i in range(30)}), fault_end, 2.0) == 0


def test_a_chaos_case_reports_loss_quorum_review_and_a_timeline() -> None:
    samples = [sample(0.5, ident="a"), sample(1.5, ident="b"), sample(1.6, "503")]
    tap = tap_with({"a": 5, "b": 3}, seen=set())
    out = summarize_case(Case("x", "f", "kill", ("w",)), samples, tap, T0, T0 + 1, T0 + 1.2)
    assert out["by_class"] == {"2xx": 2, "5xx": 1}
    assert out["acked_not_in_kafka"] == 0
    assert (out["reduced_quorum"], out["review_required"]) == (1, 1)
    assert timeline(samples, T0) == [
        {"t": 0, "ok": 1, "err": 0, "p99_ms": 5.0},
        {"t": 1, "ok": 1, "err": 1, "p99_ms": 5.0},
    ]


def test_targets_are_judged_from_the_results() -> None:
    step = {
        "offered_rps": 500,
        "seconds": 60,
        "sent": 30_000,
        "ok_rps": 499.9,
        "status": {"202": 30_000},
        "latency_ms": {"p99": 80.0},
        "decision_ms": {"p99": 310.0, "missing": 0},
    }
    chaos = [{"case": "kill", "acked_not_in_kafka": 0, "recovery_s": None}]
    met = {t["measure"]: t["met"] for t in judge({"steps": [step], "chaos": chaos})}
    assert met["sustained 500 intents/s for 60 s: answered 2xx"] is True
    assert met["gateway P99 at 500/s (baseline P99: - ms)"] is True
    assert met["intent-to-decision P99 at 500/s"] is False  # 310 ms >= 300 ms
    assert met["kill: acknowledged intents lost"] is True
    assert met["kill: recovery after the fault ended"] is False
    assert judge({})[0]["met"] is None  # not run is not met
