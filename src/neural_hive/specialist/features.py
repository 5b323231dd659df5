"""Structural and textual features of a cognitive plan, computed once per evaluation.

Every scoring factor reads these instead of walking the plan again, so the five
specialists agree on what a plan looks like and an evaluation stays linear in its size.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from neural_hive.common.plan import CognitivePlan, Task, topological_order

_WORD = re.compile(r"[a-z0-9_]+")

# Keyword groups matched against each task's type and description (lower-cased words).
KEYWORDS: dict[str, frozenset[str]] = {
    "test": frozenset({"test", "tests", "testing", "validate", "validation", "verify", "qa"}),
    "review": frozenset({"review", "approve", "approval", "sign_off", "signoff", "audit"}),
    "security": frozenset(
        {
            "security",
            "secure",
            "auth",
            "authentication",
            "authorization",
            "encrypt",
            "encryption",
            "threat",
            "vulnerability",
            "scan",
            "compliance",
            "audit",
            "access",
        }
    ),
    "docs": frozenset({"document", "documentation", "docs", "runbook", "communicate"}),
    "measure": frozenset(
        {
            "report",
            "metric",
            "metrics",
            "kpi",
            "measure",
            "dashboard",
            "revenue",
            "analyze",
            "analysis",
            "forecast",
            "baseline",
            "monitor",
            "monitoring",
        }
    ),
    "rollback": frozenset({"rollback", "backup", "restore", "canary", "fallback"}),
    "human": frozenset(
        {
            "approval",
            "approve",
            "manual",
            "sign_off",
            "signoff",
            "meeting",
            "interview",
            "stakeholder",
        }
    ),
}


@dataclass(frozen=True, slots=True)
class PlanFeatures:
    n_tasks: int
    n_edges: int
    depth: int  # tasks on the longest dependency chain
    critical_path_ms: int
    total_ms: int
    longest_task_ms: int
    roots: int
    sinks: int
    max_fan_in: int
    components: int
    distinct_task_types: int
    distinct_capabilities: int
    single_responsibility: float  # share of tasks needing at most two capabilities
    described: float  # share of tasks with a description of 3..60 words
    keyword_share: dict[str, float]  # share of tasks hitting each keyword group
    risk: float
    complexity: float
    priority: str
    security_level: str
    domain: str

    @property
    def parallelism(self) -> float:
        return self.n_tasks / self.depth

    @property
    def sequential_ratio(self) -> float:
        """Critical path over total work: 1.0 when every task waits for the previous one."""
        return self.critical_path_ms / self.total_ms if self.total_ms else 1.0

    @property
    def edge_density(self) -> float:
        """Edges per task beyond a simple chain (0 for a chain or a fan, grows with coupling)."""
        return max(0.0, (self.n_edges - (self.n_tasks - 1)) / self.n_tasks)

    def has(self, group: str) -> bool:
        return self.keyword_share[group] > 0


def extract(plan: CognitivePlan) -> PlanFeatures:
    tasks = plan.tasks
    by_id = {t.task_id: t for t in tasks}
    order = topological_order(tasks)
    finish: dict[str, int] = {}
    chain: dict[str, int] = {}
    fan_out: dict[str, int] = dict.fromkeys(by_id, 0)
    for tid in order:
        t = by_id[tid]
        deps = set(t.dependencies)
        for d in deps:
            fan_out[d] += 1
        finish[tid] = t.estimated_duration_ms + max((finish[d] for d in deps), default=0)
        chain[tid] = 1 + max((chain[d] for d in deps), default=0)

    words = [
        set(_WORD.findall(f"{t.task_type} {t.description}".lower().replace("-", "_")))
        for t in tasks
    ]
    n = len(tasks)
    share = {g: sum(1 for w in words if w & kw) / n for g, kw in KEYWORDS.items()}
    desc_words = [len(t.description.split()) for t in tasks]

    return PlanFeatures(
        n_tasks=n,
        n_edges=sum(len(set(t.dependencies)) for t in tasks),
        depth=max(chain.values()),
        critical_path_ms=max(finish.values()),
        total_ms=sum(t.estimated_duration_ms for t in tasks),
        longest_task_ms=max(t.estimated_duration_ms for t in tasks),
        roots=sum(1 for t in tasks if not t.dependencies),
        sinks=sum(1 for v in fan_out.values() if v == 0),
        max_fan_in=max(len(set(t.dependencies)) for t in tasks),
        components=_components(tasks),
        distinct_task_types=len({t.task_type for t in tasks}),
        distinct_capabilities=len({c for t in tasks for c in t.required_capabilities}),
        single_responsibility=sum(1 for t in tasks if len(t.required_capabilities) <= 2) / n,
        described=sum(1 for w in desc_words if 3 <= w <= 60) / n,
        keyword_share=share,
        risk=plan.risk_score,
        complexity=plan.complexity_score,
        priority=plan.original_priority,
        security_level=plan.original_security_level,
        domain=plan.original_domain.upper(),
    )


def _components(tasks: list[Task]) -> int:
    parent = {t.task_id: t.task_id for t in tasks}

    def find(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for t in tasks:
        for d in t.dependencies:
            parent[find(d)] = find(t.task_id)
    return len({find(t.task_id) for t in tasks})
