"""The consensus engine's fan-out over real gRPC sockets: the plans of a batch go to each
specialist in one EvaluatePlans call, and a specialist that predates that method (served
here, in this process, with EvaluatePlan only) is asked plan by plan instead."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import pytest
from plan_docs import as_bytes, plan_doc, task

from neural_hive.common.plan import CognitivePlan, parse_plan
from neural_hive.consensus.fanout import SpecialistPool
from neural_hive.devstack import Service
from neural_hive.proto import specialist_pb2 as pb
from neural_hive.specialist.metrics import SpecialistMetrics
from neural_hive.specialist.server import SERVICE_NAME, SpecialistService
from neural_hive.specialist.settings import SpecialistSettings

pytestmark = pytest.mark.integration


@pytest.fixture
async def older_specialist() -> AsyncIterator[str]:
    """A business specialist serving EvaluatePlan only, as before EvaluatePlans existed."""
    service = SpecialistService(
        SpecialistSettings(specialist_type="business"), SpecialistMetrics("business")
    )
    handler = grpc.method_handlers_generic_handler(
        SERVICE_NAME,
        {
            "EvaluatePlan": grpc.unary_unary_rpc_method_handler(
                service.EvaluatePlan,
                request_deserializer=pb.EvaluatePlanRequest.FromString,
                response_serializer=pb.EvaluatePlanResponse.SerializeToString,
            )
        },
    )
    server = grpc.aio.server()
    server.add_generic_rpc_handlers((handler,))
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    yield f"127.0.0.1:{port}"
    await server.stop(None)


def plans() -> list[CognitivePlan]:
    one = plan_doc(plan_id="plan-a", intent_id="intent-a")
    two = plan_doc(
        [task("a", "migrate", "Move the data"), task("b", "verify", "Check it", ("a",))],
        plan_id="plan-b",
        intent_id="intent-b",
    )
    return [parse_plan(as_bytes(one)), parse_plan(as_bytes(two))]


async def test_each_specialist_answers_every_plan_of_a_batch_old_or_new(
    specialist_business: Service, older_specialist: str
) -> None:
    pool = SpecialistPool({"new": specialist_business.address, "old": older_specialist}, 5.0)
    try:
        answers = await pool.evaluate_many(plans(), ["trace-a", "trace-b"])
    finally:
        await pool.close()
    assert len(answers) == 2
    for per_plan in answers:
        assert [a.specialist_type for a in per_plan] == ["new", "old"]
        assert all(a.response is not None and a.error_code is None for a in per_plan), per_plan
        new, old = (a.response for a in per_plan)
        assert new is not None
        assert old is not None
        # The same scorer answers the same plan the same way, whichever method carried it.
        assert new.opinion == old.opinion
    first, second = (per_plan[0].response for per_plan in answers)
    assert first is not None
    assert second is not None
    assert first.opinion.metadata["tasks"] != second.opinion.metadata["tasks"]


async def test_a_specialist_that_is_down_costs_its_vote_for_the_whole_batch(
    specialist_business: Service,
) -> None:
    pool = SpecialistPool({"up": specialist_business.address, "down": "127.0.0.1:9"}, 1.0)
    try:
        answers = await pool.evaluate_many(plans(), ["", ""])
    finally:
        await pool.close()
    for up, down in answers:
        assert up.response is not None
        assert down.response is None
        assert down.error_code in ("UNAVAILABLE", "DEADLINE_EXCEEDED")
