"""Cognitive plans built from intents: templates, DAG validity, risk and determinism."""

from __future__ import annotations

from typing import Any

import pytest

from neural_hive.common.contracts import Domain, IntentEnvelope
from neural_hive.common.plan import parse_plan
from neural_hive.consensus.planner import build_plan, plan_id_for, template_for


def envelope(
    domain: str = "TECHNICAL",
    text: str = "Add pagination to the orders API",
    classification: str = "feature",
    **kw: Any,
) -> IntentEnvelope:
    return IntentEnvelope.model_validate(
        {
            "id": kw.pop("id", "intent-1"),
            "correlation_id": "c-1",
            "confidence": 0.9,
            "intent": {
                "text": text,
                "domain": domain,
                "classification": classification,
                "language": "en",
            },
            **kw,
        }
    )


@pytest.mark.parametrize("domain", list(Domain))
def test_every_domain_gets_a_valid_plan_that_specialists_accept(domain: Domain) -> None:
    plan = build_plan(envelope(domain.value))
    again = parse_plan(plan.to_json_bytes())  # the specialists' own validation
    assert again.original_domain == domain.value
    assert len(plan.tasks) >= 5
    assert set(plan.execution_order) == {t.task_id for t in plan.tasks}
    pos = {tid: i for i, tid in enumerate(plan.execution_order)}
    for t in plan.tasks:
        assert all(pos[d] < pos[t.task_id] for d in t.dependencies)


def test_classification_picks_its_own_template_or_the_domain_default() -> None:
    assert template_for(Domain.TECHNICAL, "bug")[0].task_type == "reproduce"
    assert template_for(Domain.TECHNICAL, "something-new") == template_for(
        Domain.TECHNICAL, "default"
    )
    assert template_for(Domain.SECURITY, "INCIDENT")[0].task_type == "contain"


def test_plan_ids_follow_the_intent_so_redelivery_is_recognisable() -> None:
    a = build_plan(envelope(id="same"))
    b = build_plan(envelope(id="same"))
    assert a.plan_id == b.plan_id == plan_id_for("same")
    assert build_plan(envelope(id="other")).plan_id != a.plan_id


def test_risk_grows_with_priority_security_domain_and_dangerous_words() -> None:
    base = build_plan(envelope()).risk_score
    assert build_plan(envelope(constraints={"priority": "critical"})).risk_score > base
    assert build_plan(envelope(constraints={"security_level": "restricted"})).risk_score > base
    assert build_plan(envelope(domain="SECURITY")).risk_score > base
    assert build_plan(envelope(text="Drop the production database table")).risk_score > base
    assert build_plan(envelope(text="Apagar a tabela de produção")).risk_score > base
    low = build_plan(envelope(constraints={"priority": "low"}, domain="BUSINESS")).risk_score
    assert low < base


def test_longer_requests_with_entities_are_more_complex() -> None:
    simple = build_plan(envelope()).complexity_score
    rich = build_plan(envelope(text="x " * 800)).complexity_score
    assert rich > simple
