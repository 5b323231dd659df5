"""Plan documents for the tests, built the way a client would send them."""

from __future__ import annotations

import json
from typing import Any


def task(
    tid: str,
    ttype: str,
    desc: str,
    deps: tuple[str, ...] = (),
    minutes: int = 15,
    caps: tuple[str, ...] = ("engineering",),
) -> dict[str, Any]:
    return {
        "task_id": tid,
        "task_type": ttype,
        "description": desc,
        "dependencies": list(deps),
        "estimated_duration_ms": minutes * 60_000,
        "required_capabilities": list(caps),
    }


def plan_doc(tasks: list[dict[str, Any]] | None = None, **overrides: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "plan_id": "plan-1",
        "version": "1.0",
        "intent_id": "intent-1",
        "correlation_id": "corr-1",
        "original_domain": "TECHNICAL",
        "original_priority": "normal",
        "original_security_level": "internal",
        "risk_score": 0.2,
        "complexity_score": 0.3,
        "tasks": tasks if tasks is not None else good_tasks(),
    }
    doc.update(overrides)
    return doc


def good_tasks() -> list[dict[str, Any]]:
    return [
        task("t1", "analyze", "Analyze the requirement and the metrics to move"),
        task("t2", "implement", "Implement the change in the service", ("t1",), 60),
        task("t3", "test", "Write tests to validate the change", ("t2",)),
        task("t4", "review", "Code review by a second engineer", ("t2",)),
        task("t5", "document", "Document the change in the runbook", ("t2",)),
        task("t6", "deploy", "Deploy with a canary and a rollback path", ("t3", "t4"), 10),
    ]


def chain_tasks(n: int, minutes: int = 15) -> list[dict[str, Any]]:
    return [
        task(f"t{i}", f"step{i}", f"Do step {i} of the work", (f"t{i - 1}",) if i else (), minutes)
        for i in range(n)
    ]


def as_bytes(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc).encode()
