"""The five specialists' factors: weights, rules that respond to the plan, and determinism."""

from __future__ import annotations

from typing import Any

import pytest
from plan_docs import as_bytes, chain_tasks, good_tasks, plan_doc, task

from neural_hive.common.plan import parse_plan
from neural_hive.specialist.evaluator import Opinion, Recommendation, evaluate, recommend
from neural_hive.specialist.scorers import FACTORS, SpecialistType

EXPECTED_WEIGHTS = {
    "business": {"workflow_efficiency": 0.4, "kpi_alignment": 0.3, "cost_effectiveness": 0.3},
    "technical": {
        "security_analysis": 0.3,
        "architecture_patterns": 0.3,
        "performance_optimization": 0.2,
        "code_quality": 0.2,
    },
    "behavior": {
        "usability": 0.35,
        "accessibility": 0.25,
        "response_time": 0.25,
        "interaction_cost": 0.15,
    },
    "evolution": {
        "maintainability": 0.25,
        "scalability": 0.25,
        "extensibility": 0.2,
        "modularity": 0.15,
        "tech_debt_prevention": 0.15,
    },
    "architecture": {
        "design_patterns": 0.25,
        "solid_principles": 0.25,
        "coupling_cohesion": 0.2,
        "separation_of_concerns": 0.15,
        "modularity": 0.15,
    },
}


def opinion(kind: str, doc: dict[str, Any]) -> Opinion:
    return evaluate(SpecialistType(kind), parse_plan(as_bytes(doc)))


def factor(op: Opinion, name: str) -> float:
    return next(f.score for f in op.factors if f.name == name)


@pytest.mark.parametrize("kind", [t.value for t in SpecialistType])
def test_factors_and_weights_are_the_originals(kind: str) -> None:
    assert {f.name: f.weight for f in FACTORS[SpecialistType(kind)]} == EXPECTED_WEIGHTS[kind]


@pytest.mark.parametrize("kind", [t.value for t in SpecialistType])
def test_confidence_is_the_weighted_sum_and_every_factor_explains_itself(kind: str) -> None:
    op = opinion(kind, plan_doc())
    assert op.confidence_score == pytest.approx(
        sum(f.weight * f.score for f in op.factors), abs=1e-3
    )
    for f in op.factors:
        assert 0.0 <= f.score <= 1.0
        assert len(f.description) > 10
    assert 0.0 <= op.risk_score <= 1.0
    assert op.recommendation == recommend(op.confidence_score, op.risk_score)


@pytest.mark.parametrize("kind", [t.value for t in SpecialistType])
def test_same_plan_same_opinion(kind: str) -> None:
    assert opinion(kind, plan_doc()) == opinion(kind, plan_doc())


@pytest.mark.parametrize("kind", [t.value for t in SpecialistType])
def test_a_mitigation_for_each_factor_below_0_6_and_no_other(kind: str) -> None:
    weak_plan = plan_doc(
        chain_tasks(12, minutes=60),
        original_priority="critical",
        original_security_level="restricted",
        risk_score=0.8,
    )
    for doc in (plan_doc(), weak_plan):
        op = opinion(kind, doc)
        low = {f"{kind}.{f.name}" for f in op.factors if f.score < 0.6}
        assert {m.mitigation_id for m in op.mitigations} == low
        for m in op.mitigations:
            assert m.required_actions
            assert m.priority in ("high", "medium")


@pytest.mark.parametrize(
    ("confidence", "risk", "expected"),
    [
        (0.8, 0.29, Recommendation.APPROVE),
        (0.95, 0.3, Recommendation.CONDITIONAL),
        (0.49, 0.1, Recommendation.REJECT),
        (0.9, 0.71, Recommendation.REJECT),
        (0.7, 0.55, Recommendation.REVIEW_REQUIRED),
        (0.7, 0.5, Recommendation.CONDITIONAL),
        (0.79, 0.1, Recommendation.CONDITIONAL),
    ],
)
def test_recommendation_rule(confidence: float, risk: float, expected: Recommendation) -> None:
    assert recommend(confidence, risk) is expected


def test_parallel_work_is_more_efficient_than_a_chain() -> None:
    fan = [task("root", "analyze", "Analyze it")] + [
        task(f"p{i}", f"part{i}", "Build one independent part", ("root",), 30) for i in range(4)
    ]
    chain = chain_tasks(5, minutes=30)
    assert factor(opinion("business", plan_doc(fan)), "workflow_efficiency") > factor(
        opinion("business", plan_doc(chain)), "workflow_efficiency"
    )
    assert factor(opinion("technical", plan_doc(fan)), "performance_optimization") > factor(
        opinion("technical", plan_doc(chain)), "performance_optimization"
    )


def test_tests_and_review_raise_code_quality() -> None:
    without = [t for t in good_tasks() if t["task_type"] not in ("test", "review")]
    without[-1]["dependencies"] = ["t2"]
    assert (
        factor(opinion("technical", plan_doc(good_tasks())), "code_quality")
        > factor(opinion("technical", plan_doc(without)), "code_quality") + 0.5
    )


def test_restricted_data_without_a_security_step_lowers_security_and_raises_risk() -> None:
    plain = opinion("technical", plan_doc(original_security_level="internal"))
    restricted = opinion("technical", plan_doc(original_security_level="restricted"))
    assert factor(restricted, "security_analysis") < factor(plain, "security_analysis")
    assert "needs a security step" in next(
        f.description for f in restricted.factors if f.name == "security_analysis"
    )
    assert restricted.risk_score > plain.risk_score


def test_slow_critical_work_misses_its_response_target() -> None:
    fast = opinion("behavior", plan_doc(chain_tasks(2, minutes=1), original_priority="critical"))
    slow = opinion("behavior", plan_doc(chain_tasks(6, minutes=30), original_priority="critical"))
    assert factor(fast, "response_time") > 0.8
    assert factor(slow, "response_time") == 0.0
    assert "behavior.response_time" in {m.mitigation_id for m in slow.mitigations}


def test_tasks_needing_many_capabilities_break_single_responsibility() -> None:
    wide = [
        task(f"t{i}", f"x{i}", "Do a lot at once", (), 15, ("a", "b", "c", "d")) for i in range(4)
    ]
    assert factor(opinion("architecture", plan_doc(wide)), "solid_principles") == 0.0
    assert factor(opinion("architecture", plan_doc()), "solid_principles") == 1.0


def test_a_risky_plan_is_rejected_and_a_sound_one_is_not() -> None:
    risky = plan_doc(
        chain_tasks(12, minutes=60),
        original_priority="critical",
        original_security_level="restricted",
        risk_score=0.9,
    )
    assert opinion("technical", risky).recommendation is Recommendation.REJECT
    assert opinion("architecture", plan_doc(risk_score=0.1)).recommendation in (
        Recommendation.APPROVE,
        Recommendation.CONDITIONAL,
    )
