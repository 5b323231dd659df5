"""The plan schema: what a specialist accepts, and how it names what it refuses."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from plan_docs import as_bytes, plan_doc, task

from neural_hive.common.plan import MAX_TASKS, PlanError, parse_plan


def test_a_valid_plan_parses_with_its_tasks() -> None:
    plan = parse_plan(as_bytes(plan_doc()))
    assert plan.plan_id == "plan-1"
    assert [t.task_id for t in plan.tasks] == ["t1", "t2", "t3", "t4", "t5", "t6"]


@pytest.mark.parametrize(
    ("raw", "field", "fragment"),
    [
        (b"", "cognitive_plan", "empty"),
        (b"{not json", "cognitive_plan", "not valid JSON"),
        (b"\xff\xfe\x00", "cognitive_plan", "not valid JSON"),
        (b"[1, 2]", "cognitive_plan", "JSON object"),
    ],
)
def test_undecodable_plans_are_refused(raw: bytes, field: str, fragment: str) -> None:
    with pytest.raises(PlanError) as err:
        parse_plan(raw)
    assert err.value.field == field
    assert fragment in err.value.message


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda d: d.pop("intent_id"), "intent_id"),
        (lambda d: d.pop("original_domain"), "original_domain"),
        (lambda d: d.update(tasks=[]), "tasks"),
        (lambda d: d.update(original_priority="urgent"), "original_priority"),
        (lambda d: d.update(risk_score=1.5), "risk_score"),
        (lambda d: d["tasks"][0].pop("task_id"), "tasks.0.task_id"),
        (lambda d: d["tasks"][1].update(estimated_duration_ms=-1), "tasks.1.estimated_duration_ms"),
    ],
)
def test_missing_or_wrong_fields_are_named(
    mutate: Callable[[dict[str, Any]], object], field: str
) -> None:
    doc = plan_doc()
    mutate(doc)
    with pytest.raises(PlanError) as err:
        parse_plan(as_bytes(doc))
    assert err.value.field == field


@pytest.mark.parametrize(
    ("tasks", "fragment"),
    [
        ([task("a", "x", "d"), task("a", "y", "d")], "duplicate task_id 'a'"),
        ([task("a", "x", "d", ("zz",))], "unknown task 'zz'"),
        ([task("a", "x", "d", ("a",))], "depends on itself"),
        ([task("a", "x", "d", ("b",)), task("b", "y", "d", ("a",))], "cycle"),
    ],
)
def test_broken_dependency_graphs_are_refused(tasks: list[dict[str, Any]], fragment: str) -> None:
    with pytest.raises(PlanError) as err:
        parse_plan(as_bytes(plan_doc(tasks)))
    assert err.value.field == "tasks"
    assert fragment in err.value.message


def test_execution_order_may_only_name_known_tasks() -> None:
    with pytest.raises(PlanError) as err:
        parse_plan(as_bytes(plan_doc(execution_order=["t1", "nope"])))
    assert err.value.field == "execution_order"


def test_plans_over_the_task_limit_are_refused() -> None:
    tasks = [task(f"t{i}", "x", "d") for i in range(MAX_TASKS + 1)]
    with pytest.raises(PlanError) as err:
        parse_plan(as_bytes(plan_doc(tasks)))
    assert err.value.field == "tasks"
