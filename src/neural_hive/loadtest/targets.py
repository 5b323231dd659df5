"""The phase-4 targets, judged from a run's results (never from hand-written figures)."""

from __future__ import annotations

from typing import Any

SUSTAINED_RPS = 500
SUSTAINED_S = 60
GATEWAY_P99_MS = 100
DECISION_P99_MS = 300
RECOVERY_S = 10


def _target(measure: str, result: str, target: str, met: bool | None) -> dict[str, Any]:
    return {"measure": measure, "result": result, "target": target, "met": met}


def sustained(results: dict[str, Any]) -> list[dict[str, Any]]:
    steps = [
        s
        for s in results.get("steps", [])
        if s.get("offered_rps", 0) >= SUSTAINED_RPS and s.get("seconds", 0) >= SUSTAINED_S
    ]
    label = f"{SUSTAINED_RPS} intents/s for {SUSTAINED_S} s"
    if not steps:
        return [_target(f"sustained {label}", "not run", "run", None)]
    step = steps[-1]
    sent = step.get("sent") or 0
    ok = sum(v for k, v in step.get("status", {}).items() if k.startswith("2"))
    achieved = step.get("ok_rps") or 0
    p99 = step.get("latency_ms", {}).get("p99")
    decision = step.get("decision_ms", {})
    d99 = decision.get("p99")
    baseline = [
        b
        for b in results.get("baseline", {}).get("steps", [])
        if b.get("offered_rps") == step["offered_rps"]
    ]
    b99 = baseline[-1].get("latency_ms", {}).get("p99") if baseline else "-"
    return [
        _target(
            f"sustained {label}: answered 2xx",
            f"{ok} of {sent} ({achieved} /s)",
            f"all, >= {SUSTAINED_RPS * 0.99:g} /s",
            sent > 0 and ok == sent and achieved >= SUSTAINED_RPS * 0.99,
        ),
        _target(
            f"gateway P99 at {SUSTAINED_RPS}/s (baseline P99: {b99} ms)",
            f"{p99} ms",
            f"< {GATEWAY_P99_MS} ms",
            p99 is not None and p99 < GATEWAY_P99_MS,
        ),
        _target(
            f"intent-to-decision P99 at {SUSTAINED_RPS}/s",
            f"{d99} ms ({decision.get('missing', '-')} undecided)",
            f"< {DECISION_P99_MS} ms, none undecided",
            d99 is not None and d99 < DECISION_P99_MS and decision.get("missing") == 0,
        ),
    ]


def chaos(results: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for case in results.get("chaos", []):
        lost = case.get("acked_not_in_kafka")
        out.append(_target(f"{case['case']}: acknowledged intents lost", str(lost), "0", lost == 0))
        rec = case.get("recovery_s")
        out.append(
            _target(
                f"{case['case']}: recovery after the fault ended",
                "not recovered" if rec is None else f"{rec} s",
                f"< {RECOVERY_S} s",
                rec is not None and rec < RECOVERY_S,
            )
        )
    return out


def fuzz(results: dict[str, Any]) -> list[dict[str, Any]]:
    found = results.get("fuzz", {})
    out = []
    gateway = found.get("gateway")
    if gateway:
        failures = gateway.get("failures")
        out.append(
            _target(
                "schemathesis on the gateway's OpenAPI: 5xx or no answer",
                f"{failures} in {gateway.get('cases')} cases"
                f" ({gateway.get('not_installed', 0)} documented 503: feature not installed)",
                "0",
                failures == 0,
            )
        )
    for name, spec in sorted(found.get("specialists", {}).items()):
        out.append(
            _target(
                f"{name}: random bytes and malformed plans",
                f"{spec.get('by_code')}, serving after: {spec.get('serving_after')}",
                "INVALID_ARGUMENT, no crash",
                spec.get("unexpected_count") == 0 and bool(spec.get("serving_after")),
            )
        )
    return out


def judge(results: dict[str, Any]) -> list[dict[str, Any]]:
    return sustained(results) + chaos(results) + fuzz(results)
