"""The five specialists' factors: name, weight (from the original system) and rule.

Each rule maps PlanFeatures to a score in [0, 1] and a sentence that says why. The rules
are deterministic: the same plan always gets the same factors.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from neural_hive.specialist.features import PlanFeatures

HOUR_MS = 3_600_000
# Work a plan may take before it stops being cost-effective, by priority.
WORK_BUDGET_MS = {
    "low": 8 * HOUR_MS,
    "normal": 4 * HOUR_MS,
    "high": 2 * HOUR_MS,
    "critical": HOUR_MS,
}
# Time to outcome users accept, by priority.
RESPONSE_TARGET_MS = {
    "low": 8 * HOUR_MS,
    "normal": 2 * HOUR_MS,
    "high": HOUR_MS // 2,
    "critical": 5 * 60_000,
}
AUDIENCE = {"public": 1.0, "internal": 0.85, "confidential": 0.65, "restricted": 0.5}


class SpecialistType(StrEnum):
    BUSINESS = "business"
    TECHNICAL = "technical"
    BEHAVIOR = "behavior"
    EVOLUTION = "evolution"
    ARCHITECTURE = "architecture"


Rule = Callable[[PlanFeatures], tuple[float, str]]


@dataclass(frozen=True, slots=True)
class Factor:
    name: str
    weight: float
    rule: Rule


def clamp(x: float) -> float:
    return round(min(1.0, max(0.0, x)), 4)


def _pct(x: float) -> str:
    return f"{x:.0%}"


# ---- shared rules ---------------------------------------------------------------------


def workflow_efficiency(f: PlanFeatures) -> tuple[float, str]:
    handoffs = max(0, f.n_tasks - 8)
    chain_weight = (min(f.n_tasks, 6) - 1) / 5
    score = clamp(1 - 0.5 * f.sequential_ratio * chain_weight - 0.04 * handoffs)
    return score, (
        f"{f.n_tasks} tasks; the critical path is {_pct(f.sequential_ratio)} of the total work"
        + (f"; {handoffs} hand-offs beyond 8 tasks" if handoffs else "")
    )


def kpi_alignment(f: PlanFeatures) -> tuple[float, str]:
    share = f.keyword_share["measure"]
    bonus = 0.1 if f.domain == "BUSINESS" else 0.0
    score = clamp(0.3 + 0.7 * min(1.0, 2 * share) + bonus)
    return score, f"{_pct(share)} of tasks produce or check a measurable outcome"


def cost_effectiveness(f: PlanFeatures) -> tuple[float, str]:
    budget = WORK_BUDGET_MS[f.priority]
    extra_caps = max(0, f.distinct_capabilities - 5)
    score = clamp(1 - 0.5 * f.total_ms / budget - 0.03 * extra_caps)
    return score, (
        f"{f.total_ms / 60_000:.0f} min of work against a {budget // 60_000} min budget "
        f"for {f.priority} priority; {f.distinct_capabilities} distinct capabilities"
    )


def security_analysis(f: PlanFeatures) -> tuple[float, str]:
    sensitive = f.security_level in ("confidential", "restricted") or f.domain == "SECURITY"
    sec, test = f.has("security"), f.has("test")
    score = 0.5 + 0.3 * sec + 0.2 * test - 0.2 * f.risk
    if sensitive and not sec:
        score -= 0.3
    why = [
        f"security step {'present' if sec else 'absent'}",
        f"validation step {'present' if test else 'absent'}",
        f"{f.security_level} data" + (" (needs a security step)" if sensitive else ""),
    ]
    return clamp(score), "; ".join(why)


def architecture_patterns(f: PlanFeatures) -> tuple[float, str]:
    score = 1 - 0.15 * max(0, f.roots - 1) - 0.15 * max(0, f.sinks - 1) - 0.3 * f.edge_density
    return clamp(score), (
        f"{f.roots} entry and {f.sinks} exit tasks; "
        f"{f.edge_density:.2f} extra dependencies per task"
    )


def performance_optimization(f: PlanFeatures) -> tuple[float, str]:
    dominant = f.n_tasks > 1 and f.longest_task_ms > 0.5 * f.total_ms
    score = 0.4 + 0.6 * (1 - f.sequential_ratio) + (0.3 if f.n_tasks == 1 else 0.0)
    score -= 0.2 if dominant else 0.0
    return clamp(score), (
        f"{_pct(1 - f.sequential_ratio)} of the work can run in parallel"
        + ("; one task holds most of the work" if dominant else "")
    )


def code_quality(f: PlanFeatures) -> tuple[float, str]:
    test, review = f.has("test"), f.has("review")
    score = 0.4 * test + 0.3 * review + 0.3 * f.described
    return clamp(score), (
        f"tests {'planned' if test else 'missing'}; review {'planned' if review else 'missing'}; "
        f"{_pct(f.described)} of tasks clearly described"
    )


def usability(f: PlanFeatures) -> tuple[float, str]:
    score = 0.4 + 0.6 * f.described - 0.03 * max(0, f.n_tasks - 10)
    return clamp(score), f"{_pct(f.described)} of the {f.n_tasks} steps are clearly described"


def accessibility(f: PlanFeatures) -> tuple[float, str]:
    docs = f.has("docs")
    score = AUDIENCE[f.security_level] * (0.8 + 0.2 * docs)
    return clamp(score), (
        f"{f.security_level} audience; documentation step {'present' if docs else 'absent'}"
    )


def response_time(f: PlanFeatures) -> tuple[float, str]:
    target = RESPONSE_TARGET_MS[f.priority]
    score = 1.1 - 0.6 * f.critical_path_ms / target
    return clamp(score), (
        f"outcome after {f.critical_path_ms / 60_000:.1f} min against a "
        f"{target // 60_000} min target for {f.priority} priority"
    )


def interaction_cost(f: PlanFeatures) -> tuple[float, str]:
    share = f.keyword_share["human"]
    score = 1 - 0.8 * share
    return clamp(score), f"{_pct(share)} of steps wait on a person"


def maintainability(f: PlanFeatures) -> tuple[float, str]:
    test, docs = f.has("test"), f.has("docs")
    score = 0.3 * test + 0.3 * docs + 0.4 * f.described
    return clamp(score), (
        f"tests {'planned' if test else 'missing'}; documentation "
        f"{'planned' if docs else 'missing'}; {_pct(f.described)} of tasks described"
    )


def scalability(f: PlanFeatures) -> tuple[float, str]:
    fan_in = f.max_fan_in / f.n_tasks
    score = 0.4 + 0.3 * min(1.0, f.parallelism - 1) + 0.3 * (1 - fan_in)
    return clamp(score), (
        f"parallelism {f.parallelism:.2f} tasks per level; widest join waits on "
        f"{f.max_fan_in} tasks"
    )


def extensibility(f: PlanFeatures) -> tuple[float, str]:
    score = 0.5 + 0.5 * f.single_responsibility - (0.2 if f.complexity > 0.7 else 0.0)
    return clamp(score), (
        f"{_pct(f.single_responsibility)} of tasks need at most two capabilities; "
        f"complexity {f.complexity:.2f}"
    )


def modularity(f: PlanFeatures) -> tuple[float, str]:
    score = 1 - 0.6 * f.edge_density - 0.1 * max(0, f.max_fan_in - 2)
    return clamp(score), (
        f"{f.n_edges} dependencies among {f.n_tasks} tasks; widest join {f.max_fan_in}"
    )


def tech_debt_prevention(f: PlanFeatures) -> tuple[float, str]:
    test, review, rollback = f.has("test"), f.has("review"), f.has("rollback")
    score = 0.2 + 0.3 * test + 0.25 * review + 0.25 * rollback - 0.2 * f.risk
    return clamp(score), (
        f"tests {'yes' if test else 'no'}, review {'yes' if review else 'no'}, "
        f"rollback {'yes' if rollback else 'no'}; plan risk {f.risk:.2f}"
    )


def design_patterns(f: PlanFeatures) -> tuple[float, str]:
    stages = sum(f.has(g) for g in ("test", "review", "measure", "rollback"))
    score = 0.4 + 0.15 * stages
    return clamp(score), f"{stages} of 4 standard stages (validate, review, measure, rollback)"


def solid_principles(f: PlanFeatures) -> tuple[float, str]:
    score = f.single_responsibility
    return clamp(score), (
        f"{_pct(f.single_responsibility)} of tasks keep to a single responsibility"
    )


def coupling_cohesion(f: PlanFeatures) -> tuple[float, str]:
    isolated = max(0, f.components - 1)
    score = 1 - 0.5 * f.edge_density - 0.15 * isolated
    return clamp(score), (
        f"{f.edge_density:.2f} extra dependencies per task; {isolated} unconnected groups"
    )


def separation_of_concerns(f: PlanFeatures) -> tuple[float, str]:
    share = f.distinct_task_types / f.n_tasks
    score = 0.3 + 0.7 * share if f.n_tasks > 1 else 0.7
    return clamp(score), f"{f.distinct_task_types} distinct task types among {f.n_tasks} tasks"


FACTORS: dict[SpecialistType, tuple[Factor, ...]] = {
    SpecialistType.BUSINESS: (
        Factor("workflow_efficiency", 0.4, workflow_efficiency),
        Factor("kpi_alignment", 0.3, kpi_alignment),
        Factor("cost_effectiveness", 0.3, cost_effectiveness),
    ),
    SpecialistType.TECHNICAL: (
        Factor("security_analysis", 0.3, security_analysis),
        Factor("architecture_patterns", 0.3, architecture_patterns),
        Factor("performance_optimization", 0.2, performance_optimization),
        Factor("code_quality", 0.2, code_quality),
    ),
    SpecialistType.BEHAVIOR: (
        Factor("usability", 0.35, usability),
        Factor("accessibility", 0.25, accessibility),
        Factor("response_time", 0.25, response_time),
        Factor("interaction_cost", 0.15, interaction_cost),
    ),
    SpecialistType.EVOLUTION: (
        Factor("maintainability", 0.25, maintainability),
        Factor("scalability", 0.25, scalability),
        Factor("extensibility", 0.2, extensibility),
        Factor("modularity", 0.15, modularity),
        Factor("tech_debt_prevention", 0.15, tech_debt_prevention),
    ),
    SpecialistType.ARCHITECTURE: (
        Factor("design_patterns", 0.25, design_patterns),
        Factor("solid_principles", 0.25, solid_principles),
        Factor("coupling_cohesion", 0.2, coupling_cohesion),
        Factor("separation_of_concerns", 0.15, separation_of_concerns),
        Factor("modularity", 0.15, modularity),
    ),
}

# What to do about a factor that scored below the mitigation threshold.
MITIGATIONS: dict[str, tuple[str, tuple[str, ...]]] = {
    "workflow_efficiency": (
        "Run independent steps in parallel and merge hand-offs",
        ("identify independent tasks", "remove serial hand-offs"),
    ),
    "kpi_alignment": (
        "Tie the plan to a measurable outcome",
        ("define the KPI", "add a measurement or report step"),
    ),
    "cost_effectiveness": (
        "Cut the work or split the plan into phases",
        ("trim optional tasks", "reuse existing capabilities"),
    ),
    "security_analysis": (
        "Add a security review before the change ships",
        ("add a threat-model or scan step", "add validation"),
    ),
    "architecture_patterns": (
        "Give the plan one entry and one exit and fewer cross-links",
        ("merge entry tasks", "add a final integration step"),
    ),
    "performance_optimization": (
        "Parallelise the work and split the dominant task",
        ("split the longest task", "run independent tasks together"),
    ),
    "code_quality": ("Plan tests and a review", ("add a test task", "add a review task")),
    "usability": (
        "Describe each step clearly (3 to 60 words)",
        ("rewrite vague step descriptions",),
    ),
    "accessibility": (
        "Document the outcome for everyone who must use it",
        ("add a documentation step", "review the audience restrictions"),
    ),
    "response_time": (
        "Shorten the critical path to meet the priority's target",
        ("reorder for early results", "raise capacity on the critical path"),
    ),
    "interaction_cost": (
        "Automate or batch the manual steps",
        ("replace manual approvals with policy checks",),
    ),
    "maintainability": (
        "Plan tests and documentation",
        ("add a test task", "add a documentation task"),
    ),
    "scalability": (
        "Reduce wide joins and serial chains",
        ("split the widest join", "parallelise independent tasks"),
    ),
    "extensibility": ("Split multi-capability tasks", ("give each task one responsibility",)),
    "modularity": (
        "Reduce dependencies between tasks",
        ("remove redundant dependencies", "group related tasks"),
    ),
    "tech_debt_prevention": (
        "Add tests, review and a rollback path",
        ("add a test task", "add a rollback or backup step"),
    ),
    "design_patterns": (
        "Follow the validate, review, measure, rollback stages",
        ("add the missing stages",),
    ),
    "solid_principles": (
        "Give each task a single responsibility",
        ("split tasks that need more than two capabilities",),
    ),
    "coupling_cohesion": (
        "Connect the isolated groups or split the plan",
        ("remove cross-links", "split unrelated work into its own plan"),
    ),
    "separation_of_concerns": (
        "Separate concerns into distinct task types",
        ("split mixed tasks by concern",),
    ),
}
