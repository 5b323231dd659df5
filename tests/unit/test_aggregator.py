"""Quorum, weighted vote and guardrails of the consensus step."""

from __future__ import annotations

from neural_hive.consensus.aggregator import Policy, Vote, aggregate
from neural_hive.specialist.evaluator import Recommendation as R

TYPES = ("business", "technical", "behavior", "evolution", "architecture")


def votes(*recs: tuple[R, float, float]) -> list[Vote]:
    return [Vote(t, r, c, k) for t, (r, c, k) in zip(TYPES, recs, strict=False)]


def test_unanimous_approval_is_approved() -> None:
    out = aggregate(votes(*[(R.APPROVE, 0.9, 0.2)] * 5), Policy())
    assert out.decision is R.APPROVE
    assert out.aggregated_confidence == 0.9
    assert out.votes["approve"] == 5
    assert out.divergence == 0.0
    assert out.guardrails == ()


def test_below_quorum_goes_to_review_with_the_reason() -> None:
    out = aggregate(votes((R.APPROVE, 0.9, 0.1), (R.APPROVE, 0.9, 0.1)), Policy())
    assert out.decision is R.REVIEW_REQUIRED
    assert not out.quorum_met
    assert "quorum not met: 2 of 5" in out.reasons[0]


def test_three_of_five_is_enough() -> None:
    out = aggregate(votes(*[(R.APPROVE, 0.9, 0.2)] * 3), Policy())
    assert out.quorum_met
    assert out.decision is R.APPROVE


def test_ties_resolve_to_the_more_cautious_recommendation() -> None:
    out = aggregate(
        votes(
            (R.APPROVE, 0.9, 0.2),
            (R.APPROVE, 0.9, 0.2),
            (R.CONDITIONAL, 0.7, 0.3),
            (R.CONDITIONAL, 0.7, 0.3),
        ),
        Policy(),
    )
    assert out.decision is R.CONDITIONAL


def test_weights_change_the_vote_and_the_averages() -> None:
    v = votes((R.APPROVE, 0.9, 0.1), (R.CONDITIONAL, 0.7, 0.3), (R.CONDITIONAL, 0.7, 0.3))
    assert aggregate(v, Policy()).decision is R.CONDITIONAL
    heavy = aggregate(v, Policy(weights={"business": 3.0}))
    assert heavy.decision is R.APPROVE
    assert heavy.aggregated_confidence == round((3 * 0.9 + 0.7 + 0.7) / 5, 4)


def test_critical_risk_needs_every_specialist_to_approve() -> None:
    four = votes(*[(R.APPROVE, 0.9, 0.75)] * 4, (R.CONDITIONAL, 0.7, 0.75))
    out = aggregate(four, Policy())
    assert out.decision is R.REVIEW_REQUIRED
    assert "critical_risk_unanimity" in out.guardrails
    five = aggregate(votes(*[(R.APPROVE, 0.9, 0.75)] * 5), Policy())
    assert five.decision is R.APPROVE


def test_critical_risk_with_a_missing_specialist_is_not_unanimous() -> None:
    out = aggregate(votes(*[(R.APPROVE, 0.9, 0.8)] * 4), Policy())
    assert out.decision is R.REVIEW_REQUIRED
    assert "critical_risk_unanimity" in out.guardrails


def test_a_confident_reject_blocks_approval() -> None:
    out = aggregate(votes(*[(R.APPROVE, 0.9, 0.1)] * 4, (R.REJECT, 0.85, 0.2)), Policy())
    assert out.decision is R.REVIEW_REQUIRED
    assert "confident_reject" in out.guardrails
    assert any("architecture" in r for r in out.reasons)
    unsure = aggregate(votes(*[(R.APPROVE, 0.9, 0.1)] * 4, (R.REJECT, 0.4, 0.2)), Policy())
    assert unsure.decision is R.APPROVE


def test_low_aggregate_confidence_routes_to_human_review_even_a_reject() -> None:
    out = aggregate(votes(*[(R.REJECT, 0.45, 0.4)] * 5), Policy())
    assert out.decision is R.REVIEW_REQUIRED
    assert out.guardrails == ("low_confidence",)


def test_divergent_opinions_go_to_review() -> None:
    out = aggregate(
        votes(
            (R.APPROVE, 0.9, 0.1),
            (R.CONDITIONAL, 0.7, 0.3),
            (R.REVIEW_REQUIRED, 0.7, 0.55),
            (R.APPROVE, 0.9, 0.1),
            (R.CONDITIONAL, 0.7, 0.3),
        ),
        Policy(max_divergence=0.5),
    )
    assert out.divergence == 0.6
    assert out.decision is R.REVIEW_REQUIRED
    assert "divergence" in out.guardrails


def test_guardrails_never_soften_a_reject() -> None:
    out = aggregate(
        votes(*[(R.REJECT, 0.9, 0.9)] * 3, (R.APPROVE, 0.9, 0.9), (R.APPROVE, 0.9, 0.9)),
        Policy(max_divergence=0.3),
    )
    assert out.decision is R.REJECT
