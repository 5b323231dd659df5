"""A real specialist process over real sockets: contract, health, reflection, bad input."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
from collections.abc import Iterator

import grpc
import httpx
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from plan_docs import as_bytes, plan_doc, task

from neural_hive.devstack import BIN, Service, free_port, port_open, stop_process, wait_for
from neural_hive.proto import specialist_pb2 as pb
from neural_hive.proto import specialist_pb2_grpc as pb_grpc

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def channel(specialist_business: Service) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(specialist_business.address) as ch:
        yield ch


@pytest.fixture(scope="module")
def stub(channel: grpc.Channel) -> pb_grpc.SpecialistServiceStub:
    return pb_grpc.SpecialistServiceStub(channel)


def request(raw: bytes, **kw: object) -> pb.EvaluatePlanRequest:
    return pb.EvaluatePlanRequest(
        plan_id="plan-1", intent_id="intent-1", correlation_id="corr-1", cognitive_plan=raw, **kw
    )


def test_evaluate_plan_returns_an_explained_opinion(stub: pb_grpc.SpecialistServiceStub) -> None:
    r = stub.EvaluatePlan(request(as_bytes(plan_doc()), plan_version="1.0"), timeout=5)
    assert r.specialist_type == "business"
    assert r.opinion_id
    assert r.evaluated_at.seconds > time.time() - 60
    op = r.opinion
    assert [f.factor_name for f in op.reasoning_factors] == [
        "workflow_efficiency",
        "kpi_alignment",
        "cost_effectiveness",
    ]
    assert op.confidence_score == pytest.approx(
        sum(f.weight * f.score for f in op.reasoning_factors), abs=1e-3
    )
    assert op.recommendation in ("approve", "reject", "review_required", "conditional")
    assert op.explainability.model_type == "deterministic_rules"
    assert sum(fi.importance for fi in op.explainability.feature_importances) == pytest.approx(
        1.0, abs=1e-3
    )
    again = stub.EvaluatePlan(request(as_bytes(plan_doc())), timeout=5)
    assert again.opinion == op
    assert again.opinion_id != r.opinion_id


def test_standard_grpc_health_check_reports_serving(channel: grpc.Channel) -> None:
    health = health_pb2_grpc.HealthStub(channel)
    for service in ("", "neural_hive.specialist.SpecialistService"):
        resp = health.Check(health_pb2.HealthCheckRequest(service=service), timeout=5)
        assert resp.status == health_pb2.HealthCheckResponse.SERVING
    with pytest.raises(grpc.RpcError) as err:
        health.Check(health_pb2.HealthCheckRequest(service="no.such.Service"), timeout=5)
    assert err.value.code() is grpc.StatusCode.NOT_FOUND


def test_server_reflection_lists_the_services(channel: grpc.Channel) -> None:
    refl = reflection_pb2_grpc.ServerReflectionStub(channel)
    responses = refl.ServerReflectionInfo(
        iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=5
    )
    names = {s.name for r in responses for s in r.list_services_response.service}
    assert {"neural_hive.specialist.SpecialistService", "grpc.health.v1.Health"} <= names


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        (b"", "cognitive_plan: is empty"),
        (b"{oops", "cognitive_plan: is not valid JSON"),
        (json.dumps({"plan_id": "p"}).encode(), "field intent_id"),
        (as_bytes(plan_doc([task("a", "x", "d", ("b",)), task("b", "y", "d", ("a",))])), "cycle"),
        (as_bytes(plan_doc(original_priority="yesterday")), "field original_priority"),
    ],
)
def test_bad_plans_get_invalid_argument_naming_the_problem(
    stub: pb_grpc.SpecialistServiceStub, raw: bytes, fragment: str
) -> None:
    with pytest.raises(grpc.RpcError) as err:
        stub.EvaluatePlan(request(raw), timeout=5)
    assert err.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert fragment in (err.value.details() or "")


def test_unsupported_plan_version_is_refused(stub: pb_grpc.SpecialistServiceStub) -> None:
    with pytest.raises(grpc.RpcError) as err:
        stub.EvaluatePlan(request(as_bytes(plan_doc()), plan_version="9.9"), timeout=5)
    assert err.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert "9.9" in (err.value.details() or "")


def test_a_batch_answers_each_plan_in_order_as_evaluate_plan_would(
    stub: pb_grpc.SpecialistServiceStub,
) -> None:
    good = request(as_bytes(plan_doc()), plan_version="1.0")
    batch = pb.EvaluatePlansRequest(
        requests=[
            good,
            request(b"{oops"),
            request(as_bytes(plan_doc()), plan_version="9.9"),
            good,
        ]
    )
    results = stub.EvaluatePlans(batch, timeout=5).results
    assert [r.WhichOneof("result") for r in results] == ["response", "error", "error", "response"]
    single = stub.EvaluatePlan(good, timeout=5)
    assert results[0].response.opinion == single.opinion == results[3].response.opinion
    assert results[0].response.opinion_id != results[3].response.opinion_id
    assert results[1].error.code == "INVALID_ARGUMENT"
    assert "cognitive_plan: is not valid JSON" in results[1].error.message
    assert results[2].error.code == "INVALID_ARGUMENT"
    assert "9.9" in results[2].error.message
    assert stub.EvaluatePlans(pb.EvaluatePlansRequest(), timeout=5).results == []


def test_a_batch_over_the_limit_or_not_a_message_is_refused_whole(
    stub: pb_grpc.SpecialistServiceStub, channel: grpc.Channel
) -> None:
    too_many = pb.EvaluatePlansRequest(requests=[request(b"{}")] * 1001)
    with pytest.raises(grpc.RpcError) as err:
        stub.EvaluatePlans(too_many, timeout=5)
    assert err.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert "1001 plans" in (err.value.details() or "")
    raw = channel.unary_unary("/neural_hive.specialist.SpecialistService/EvaluatePlans")
    with pytest.raises(grpc.RpcError) as err:
        raw(b"\xff\xff\xff", timeout=5)
    assert err.value.code() is grpc.StatusCode.INVALID_ARGUMENT


def test_random_bytes_never_kill_the_server(stub: pb_grpc.SpecialistServiceStub) -> None:
    rng = random.Random(7)
    for _ in range(200):
        raw = rng.randbytes(rng.randint(0, 300))
        with pytest.raises(grpc.RpcError) as err:
            stub.EvaluatePlan(request(raw), timeout=5)
        assert err.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert stub.EvaluatePlan(request(as_bytes(plan_doc())), timeout=5).opinion_id


def test_an_expired_budget_gets_deadline_exceeded(stub: pb_grpc.SpecialistServiceStub) -> None:
    big = [
        task(
            f"t{i}", f"kind{i % 7}", "A step of a large migration plan", (f"t{i - 1}",) if i else ()
        )
        for i in range(1500)
    ]
    with pytest.raises(grpc.RpcError) as err:
        stub.EvaluatePlan(request(as_bytes(plan_doc(big)), timeout_ms=1), timeout=10)
    assert err.value.code() is grpc.StatusCode.DEADLINE_EXCEEDED
    assert "budget" in (err.value.details() or "")
    # with enough time the same plan is evaluated
    ok = stub.EvaluatePlan(request(as_bytes(plan_doc(big)), timeout_ms=10_000), timeout=10)
    assert ok.opinion.metadata["tasks"] == "1500"


def test_capabilities_count_the_evaluations(stub: pb_grpc.SpecialistServiceStub) -> None:
    before = stub.GetCapabilities(pb.GetCapabilitiesRequest(), timeout=5)
    stub.EvaluatePlan(request(as_bytes(plan_doc())), timeout=5)
    after = stub.GetCapabilities(pb.GetCapabilitiesRequest(), timeout=5)
    assert after.specialist_type == "business"
    assert after.metrics.total_evaluations == before.metrics.total_evaluations + 1
    assert set(after.supported_domains) == {"BUSINESS", "TECHNICAL", "INFRASTRUCTURE", "SECURITY"}
    assert "1.0" in after.supported_plan_versions


def test_http_health_ready_and_metrics(
    specialist_business: Service, stub: pb_grpc.SpecialistServiceStub
) -> None:
    base = f"http://127.0.0.1:{specialist_business.extra['http_port']}"
    assert httpx.get(f"{base}/health").json()["status"] == "alive"
    ready = httpx.get(f"{base}/ready")
    assert ready.status_code == 200
    assert ready.json()["checks"]["grpc"]["state"] == "ok"
    stub.EvaluatePlan(request(as_bytes(plan_doc())), timeout=5)
    with pytest.raises(grpc.RpcError):
        stub.EvaluatePlan(request(b"nope"), timeout=5)
    text = httpx.get(f"{base}/metrics").text
    assert "neural_hive_specialist_evaluation_seconds_bucket" in text
    assert 'neural_hive_specialist_errors_total{code="INVALID_ARGUMENT"}' in text
    assert "neural_hive_specialist_confidence_count" in text
    evaluated = sum(
        float(line.split()[-1])
        for line in text.splitlines()
        if line.startswith("neural_hive_specialist_evaluations_total{")
    )
    assert evaluated >= 1


def test_settings_come_from_environment_and_bad_ones_are_refused() -> None:
    grpc_port, http_port = free_port(), free_port()
    env = {
        **os.environ,
        "NEURAL_HIVE_SPECIALIST_TYPE": "evolution",
        "NEURAL_HIVE_GRPC_PORT": str(grpc_port),
        "NEURAL_HIVE_HTTP_PORT": str(http_port),
        "NEURAL_HIVE_HOST": "127.0.0.1",
    }
    proc = subprocess.Popen([str(BIN / "neural-hive-specialist")], env=env)
    try:
        wait_for(lambda: port_open(grpc_port), 15, "specialist from env")
        with grpc.insecure_channel(f"127.0.0.1:{grpc_port}") as ch:
            caps = pb_grpc.SpecialistServiceStub(ch).GetCapabilities(
                pb.GetCapabilitiesRequest(), timeout=5
            )
        assert caps.specialist_type == "evolution"
    finally:
        stop_process(proc)
    assert proc.returncode == 0  # SIGTERM is a clean shutdown
    bad = subprocess.run(
        [
            sys.executable,
            "-m",
            "neural_hive.specialist.cli",
            "--type",
            "business",
            "--grpc-port",
            "99999",
        ],
        capture_output=True,
        text=True,
        env={**os.environ},
        timeout=30,
    )
    assert bad.returncode == 2
    assert "grpc_port" in bad.stderr
