"""Aggregate specialist opinions into one decision, then apply the guardrails.

Order: quorum first (without it nothing is decided automatically), then a weighted
plurality vote (ties go to the more cautious recommendation), then guardrails that can
only make the decision more cautious, each recorded with its reason. Low aggregate
confidence is the one guardrail that also overrides a reject: it hands the decision
to a person.
"""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass, field

from neural_hive.specialist.evaluator import Recommendation

# Most cautious first: ties in the vote resolve to the earliest of these.
CAUTION = (
    Recommendation.REJECT,
    Recommendation.REVIEW_REQUIRED,
    Recommendation.CONDITIONAL,
    Recommendation.APPROVE,
)


@dataclass(frozen=True, slots=True)
class Vote:
    specialist_type: str
    recommendation: Recommendation
    confidence: float
    risk: float


@dataclass(frozen=True, slots=True)
class Policy:
    quorum: int = 3
    total: int = 5
    weights: dict[str, float] = field(default_factory=dict)  # missing types weigh 1.0
    min_confidence: float = 0.6  # below: human review
    critical_risk: float = 0.7  # at or above: approve only if every specialist approves
    confident_reject: float = 0.8  # a reject this confident blocks approve
    max_divergence: float = 0.6  # share of votes against the winner above which: review


@dataclass(frozen=True, slots=True)
class Outcome:
    decision: Recommendation
    aggregated_confidence: float
    aggregated_risk: float
    votes: dict[str, int]
    divergence: float
    confidence_stdev: float
    quorum_met: bool
    guardrails: tuple[str, ...]
    reasons: tuple[str, ...]


def aggregate(votes: list[Vote], policy: Policy) -> Outcome:
    n = len(votes)
    counts = Counter(v.recommendation for v in votes)
    tally = {r.value: counts.get(r, 0) for r in CAUTION}
    if n < policy.quorum:
        return Outcome(
            decision=Recommendation.REVIEW_REQUIRED,
            aggregated_confidence=0.0,
            aggregated_risk=1.0,
            votes=tally,
            divergence=1.0,
            confidence_stdev=0.0,
            quorum_met=False,
            guardrails=("quorum",),
            reasons=(
                f"quorum not met: {n} of {policy.total} specialists answered, "
                f"{policy.quorum} required",
            ),
        )
    w = {v.specialist_type: policy.weights.get(v.specialist_type, 1.0) for v in votes}
    total_w = sum(w.values()) or 1.0
    confidence = round(sum(w[v.specialist_type] * v.confidence for v in votes) / total_w, 4)
    risk = round(sum(w[v.specialist_type] * v.risk for v in votes) / total_w, 4)
    weighted: dict[Recommendation, float] = dict.fromkeys(CAUTION, 0.0)
    for v in votes:
        weighted[v.recommendation] += w[v.specialist_type]
    decision = max(CAUTION, key=lambda r: (weighted[r], -CAUTION.index(r)))
    divergence = round(1 - weighted[decision] / total_w, 4)
    stdev = round(statistics.pstdev(v.confidence for v in votes), 4)
    reasons = [f"{weighted[decision]:g} of {total_w:g} weighted votes for {decision.value}"]
    guards: list[str] = []

    def escalate(to: Recommendation, guard: str, why: str) -> None:
        nonlocal decision
        if CAUTION.index(to) < CAUTION.index(decision):
            decision = to
            guards.append(guard)
            reasons.append(why)

    if (
        risk >= policy.critical_risk
        and decision is Recommendation.APPROVE
        and (n < policy.total or counts[Recommendation.APPROVE] < n)
    ):
        escalate(
            Recommendation.REVIEW_REQUIRED,
            "critical_risk_unanimity",
            f"risk {risk:.2f} is critical and approval was not unanimous "
            f"({counts[Recommendation.APPROVE]} of {policy.total})",
        )
    confident_rejects = [
        v.specialist_type
        for v in votes
        if v.recommendation is Recommendation.REJECT and v.confidence >= policy.confident_reject
    ]
    if confident_rejects and decision is Recommendation.APPROVE:
        escalate(
            Recommendation.REVIEW_REQUIRED,
            "confident_reject",
            f"confident reject from {', '.join(confident_rejects)} blocks approval",
        )
    if confidence < policy.min_confidence and decision is not Recommendation.REVIEW_REQUIRED:
        # Too unsure to act automatically either way, a reject included: a person decides.
        decision = Recommendation.REVIEW_REQUIRED
        guards.append("low_confidence")
        reasons.append(
            f"aggregated confidence {confidence:.2f} is below "
            f"{policy.min_confidence}: routed to human review"
        )
    if divergence > policy.max_divergence:
        escalate(
            Recommendation.REVIEW_REQUIRED,
            "divergence",
            f"specialists diverge: {divergence:.0%} of the weight voted otherwise",
        )
    return Outcome(
        decision=decision,
        aggregated_confidence=confidence,
        aggregated_risk=risk,
        votes=tally,
        divergence=divergence,
        confidence_stdev=stdev,
        quorum_met=True,
        guardrails=tuple(guards),
        reasons=tuple(reasons),
    )
