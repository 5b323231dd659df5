"""The cognitive plan: the document the consensus engine builds and the specialists evaluate.

One schema serves both sides, so a plan the engine emits always passes the specialists'
validation, and a malformed plan is rejected with the name of the offending field.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

Priority = Literal["low", "normal", "high", "critical"]
SecurityLevel = Literal["public", "internal", "confidential", "restricted"]

MAX_TASKS = 2000
# A task longer than 30 days is not a plan step; the bound also keeps durations finite.
MAX_TASK_DURATION_MS = 30 * 24 * 3600 * 1000
SUPPORTED_PLAN_VERSIONS = ("1.0",)


class PlanError(ValueError):
    """A cognitive plan that cannot be evaluated; `field` names what is wrong."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class Task(BaseModel):
    model_config = ConfigDict(extra="ignore")

    task_id: str = Field(min_length=1, max_length=128)
    task_type: str = Field(min_length=1, max_length=64)
    description: str = Field(default="", max_length=4000)
    dependencies: list[str] = Field(default_factory=list)
    estimated_duration_ms: int = Field(default=0, ge=0, le=MAX_TASK_DURATION_MS)
    required_capabilities: list[str] = Field(default_factory=list)


class CognitivePlan(BaseModel):
    model_config = ConfigDict(extra="ignore")

    plan_id: str = Field(min_length=1, max_length=128)
    version: str = Field(default="1.0", max_length=16)
    intent_id: str = Field(min_length=1, max_length=128)
    correlation_id: str | None = None
    tasks: list[Task] = Field(min_length=1, max_length=MAX_TASKS)
    execution_order: list[str] = Field(default_factory=list)
    risk_score: float = Field(default=0.0, ge=0.0, le=1.0)
    complexity_score: float = Field(default=0.0, ge=0.0, le=1.0)
    original_domain: str = Field(min_length=1, max_length=64)
    original_priority: Priority = "normal"
    original_security_level: SecurityLevel = "internal"
    created_at: datetime | None = None

    @model_validator(mode="after")
    def _check_graph(self) -> CognitivePlan:
        ids = [t.task_id for t in self.tasks]
        known = set(ids)
        if len(known) != len(ids):
            dup = next(i for i in ids if ids.count(i) > 1)
            raise ValueError(f"tasks: duplicate task_id {dup!r}")
        for t in self.tasks:
            for dep in t.dependencies:
                if dep not in known:
                    raise ValueError(f"tasks: task {t.task_id!r} depends on unknown task {dep!r}")
                if dep == t.task_id:
                    raise ValueError(f"tasks: task {t.task_id!r} depends on itself")
        for tid in self.execution_order:
            if tid not in known:
                raise ValueError(f"execution_order: unknown task {tid!r}")
        if len(topological_order(self.tasks)) != len(self.tasks):
            raise ValueError("tasks: dependencies form a cycle")
        return self

    def to_json_bytes(self) -> bytes:
        return self.model_dump_json(exclude_none=True).encode()


def topological_order(tasks: list[Task]) -> list[str]:
    """Kahn's algorithm; shorter than `tasks` when the dependencies hold a cycle."""
    indegree = {t.task_id: len(set(t.dependencies)) for t in tasks}
    dependents: dict[str, list[str]] = {t.task_id: [] for t in tasks}
    for t in tasks:
        for dep in set(t.dependencies):
            dependents.setdefault(dep, []).append(t.task_id)
    ready = [tid for tid, n in indegree.items() if n == 0]
    order: list[str] = []
    while ready:
        tid = ready.pop()
        order.append(tid)
        for nxt in dependents.get(tid, ()):
            indegree[nxt] -= 1
            if indegree[nxt] == 0:
                ready.append(nxt)
    return order


def parse_plan(raw: bytes) -> CognitivePlan:
    """Decode and validate a plan; raise PlanError naming the first offending field."""
    if not raw:
        raise PlanError("cognitive_plan", "is empty")
    try:
        doc = json.loads(raw)
    except RecursionError:
        raise PlanError("cognitive_plan", "is nested too deeply") from None
    except ValueError as exc:  # not UTF-8, not JSON, an integer of over 4300 digits
        raise PlanError("cognitive_plan", f"is not valid JSON ({str(exc)[:200]})") from None
    if not isinstance(doc, dict):
        raise PlanError("cognitive_plan", "must be a JSON object")
    try:
        return CognitivePlan.model_validate(doc)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"]) or _field_from_message(err["msg"])
        raise PlanError(loc, err["msg"].removeprefix("Value error, ")) from None


def _field_from_message(msg: str) -> str:
    head = msg.removeprefix("Value error, ").split(":", 1)[0]
    return head if head.isidentifier() else "cognitive_plan"
