"""Filters that turn the verify role's registered module results into check records."""

from __future__ import annotations

from typing import Any


def check_entry(
    result: dict[str, Any], check: str, kind: str, workload: str = "", detail: str = ""
) -> dict[str, Any]:
    """One check record from a probe module's registered result.

    The project's probe modules report ``passed`` on success and failure alike (the verify
    role registers them with ``failed_when: false`` so that one failure does not hide the
    other checks); a result without it (a skipped task, a module that never ran) failed.
    """
    if result.get("skipped"):
        outcome = "skipped"
    else:
        outcome = "passed" if result.get("passed") is True else "failed"
    return {
        "check": check,
        "kind": kind,
        "workload": workload,
        "result": outcome,
        "time_ms": round(float(result.get("elapsed_ms") or 0), 1),
        "detail": detail or str(result.get("msg", "")),
    }


def intent_entry(result: dict[str, Any], expect_opinions: int = 5) -> dict[str, Any]:
    """The record of one language's intent probe: classification, decision, opinions."""
    lang = (result.get("item") or {}).get("lang", result.get("language", "?"))
    if result.get("passed"):
        detail = (
            f"{result.get('domain')}/{result.get('classification')} "
            f"conf {float(result.get('confidence') or 0):.2f}, decision "
            f"{result.get('decision') or '?'} with "
            f"{result.get('opinions')}/{expect_opinions} opinions in "
            f"{float(result.get('intent_to_decision_ms') or 0):.0f} ms"
        )
    else:
        detail = str(result.get("msg", ""))
    return check_entry(
        result, f"intent in {lang} reaches a decision", "functional", "gateway-intencoes", detail
    )


#: Order of the kinds after the 18 phase-3 checks.
_KIND_ORDER = {"ready": 0, "service": 1, "grpc": 2, "gateway": 3, "backing": 4, "functional": 5}


def number_checks(results: list[dict[str, Any]], phase3: list[str]) -> list[dict[str, Any]]:
    """Number the checks: the phase-3 ones (1-18 for the gateway and five specialists)
    first in their historic order, then every other one."""

    def key(r: dict[str, Any]) -> tuple[int, int, int]:
        in_phase3 = r["kind"] in ("ready", "service", "grpc", "gateway") and r["workload"] in phase3
        where = phase3.index(r["workload"]) if r["workload"] in phase3 else len(phase3)
        return (0 if in_phase3 else 1, _KIND_ORDER.get(r["kind"], 9), where)

    ordered = sorted(results, key=key)  # stable: same-key checks keep their run order
    return [{"id": i, **r} for i, r in enumerate(ordered, start=1)]


def check_line(r: dict[str, Any]) -> str:
    """The one line a check prints."""
    mark = {"passed": "PASS", "failed": "FAIL", "skipped": "SKIP"}[r["result"]]
    return f"[{mark}] {r['id']:>2} {r['check']} ({r['time_ms']:.0f} ms): {r['detail']}"


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {
            "check_entry": check_entry,
            "intent_entry": intent_entry,
            "number_checks": number_checks,
            "check_line": check_line,
        }
