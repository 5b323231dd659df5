"""Turn a plan into one specialist's opinion: factors, confidence, risk, recommendation."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from neural_hive.common.plan import CognitivePlan
from neural_hive.specialist.features import PlanFeatures, extract
from neural_hive.specialist.scorers import FACTORS, MITIGATIONS, SpecialistType, clamp

MODEL_VERSION = "rules-1.0"
MITIGATION_THRESHOLD = 0.6
PRIORITY_RISK = {"low": -0.05, "normal": 0.0, "high": 0.08, "critical": 0.15}
SECURITY_RISK = {"public": 0.0, "internal": 0.0, "confidential": 0.05, "restricted": 0.1}


class Recommendation(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"
    REVIEW_REQUIRED = "review_required"
    CONDITIONAL = "conditional"


@dataclass(frozen=True, slots=True)
class FactorScore:
    name: str
    weight: float
    score: float
    description: str


@dataclass(frozen=True, slots=True)
class Mitigation:
    mitigation_id: str
    description: str
    priority: str
    estimated_impact: float
    required_actions: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Opinion:
    specialist_type: SpecialistType
    confidence_score: float
    risk_score: float
    recommendation: Recommendation
    reasoning_summary: str
    factors: tuple[FactorScore, ...]
    mitigations: tuple[Mitigation, ...]
    metadata: dict[str, str] = field(default_factory=dict)


def recommend(confidence: float, risk: float) -> Recommendation:
    """The original system's rule, in its order of precedence."""
    if confidence >= 0.8 and risk < 0.3:
        return Recommendation.APPROVE
    if confidence < 0.5 or risk > 0.7:
        return Recommendation.REJECT
    if risk > 0.5:
        return Recommendation.REVIEW_REQUIRED
    return Recommendation.CONDITIONAL


def risk_of(f: PlanFeatures, confidence: float) -> float:
    """Half the plan's own risk, a third of what this specialist doubts, plus context."""
    return clamp(
        0.5 * f.risk
        + 0.35 * (1 - confidence)
        + PRIORITY_RISK[f.priority]
        + SECURITY_RISK[f.security_level]
    )


def evaluate(kind: SpecialistType, plan: CognitivePlan) -> Opinion:
    f = extract(plan)
    factors = tuple(FactorScore(fac.name, fac.weight, *fac.rule(f)) for fac in FACTORS[kind])
    confidence = clamp(sum(x.weight * x.score for x in factors))
    risk = risk_of(f, confidence)
    rec = recommend(confidence, risk)
    weakest = min(factors, key=lambda x: x.score)
    mitigations = tuple(
        Mitigation(
            mitigation_id=f"{kind.value}.{x.name}",
            description=MITIGATIONS[x.name][0],
            priority="high" if x.score < 0.3 else "medium",
            estimated_impact=round(x.weight * (MITIGATION_THRESHOLD - x.score), 4),
            required_actions=MITIGATIONS[x.name][1],
        )
        for x in factors
        if x.score < MITIGATION_THRESHOLD
    )
    summary = (
        f"{kind.value} view: {rec.value} with confidence {confidence:.2f} and risk {risk:.2f}; "
        f"weakest factor {weakest.name} ({weakest.score:.2f}: {weakest.description})"
    )
    return Opinion(
        specialist_type=kind,
        confidence_score=confidence,
        risk_score=risk,
        recommendation=rec,
        reasoning_summary=summary,
        factors=factors,
        mitigations=mitigations,
        metadata={"tasks": str(f.n_tasks), "domain": f.domain, "priority": f.priority},
    )
