"""Ask every specialist for its opinion in parallel, each call bounded by one deadline.

The plans of the intents the engine consumed together go to each specialist in one
EvaluatePlans call (one round trip per specialist and batch, not per plan); a specialist
that does not know that method is asked plan by plan with EvaluatePlan.
A specialist that is down, slow or refuses a plan costs its own vote and nothing else:
its failure is returned beside the opinions that did arrive.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from neural_hive.common.plan import CognitivePlan
from neural_hive.proto import specialist_pb2 as pb
from neural_hive.proto import specialist_pb2_grpc as pb_grpc

SERVICE = "neural_hive.specialist.SpecialistService"


@dataclass(frozen=True, slots=True)
class Answer:
    specialist_type: str
    response: pb.EvaluatePlanResponse | None
    error_code: str | None = None
    error: str | None = None
    latency_ms: float = 0.0


# A specialist that restarts is back within a second: reconnect at most 1 s apart (gRPC's
# default backoff grows to 120 s, which kept a restarted specialist out of the quorum for
# 12 s under chaos), and resolve its name again at once (on Podman a replayed pod gets a new
# address; gRPC's default waits 30 s between resolutions). grpc.min_reconnect_backoff_ms
# stays at its default: it is also the handshake timeout, and a hung specialist must cost a
# deadline, not a refused connection.
CHANNEL_OPTIONS = [
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 1000),
    ("grpc.dns_min_time_between_resolutions_ms", 500),
]


class SpecialistPool:
    def __init__(self, addresses: dict[str, str], timeout_s: float) -> None:
        self.timeout_s = timeout_s
        self._channels = {
            k: grpc.aio.insecure_channel(a, options=CHANNEL_OPTIONS) for k, a in addresses.items()
        }
        self._stubs = {
            k: pb_grpc.SpecialistServiceStub(ch)  # type: ignore[no-untyped-call]
            for k, ch in self._channels.items()
        }
        self._health = {k: health_pb2_grpc.HealthStub(ch) for k, ch in self._channels.items()}

    @property
    def size(self) -> int:
        return len(self._stubs)

    async def evaluate_many(
        self, plans: Sequence[CognitivePlan], trace_ids: Sequence[str]
    ) -> list[list[Answer]]:
        """Every specialist's answer for every plan, per plan: one EvaluatePlans call per
        specialist for the whole batch, all five in parallel."""
        if not plans:
            return []
        batch = pb.EvaluatePlansRequest(
            requests=[
                pb.EvaluatePlanRequest(
                    plan_id=plan.plan_id,
                    intent_id=plan.intent_id,
                    correlation_id=plan.correlation_id or "",
                    trace_id=trace_id,
                    cognitive_plan=plan.to_json_bytes(),
                    plan_version=plan.version,
                    timeout_ms=int(self.timeout_s * 1000),
                )
                for plan, trace_id in zip(plans, trace_ids, strict=True)
            ]
        )
        per_kind = await asyncio.gather(*(self._ask_many(k, batch) for k in self._stubs))
        return [list(answers) for answers in zip(*per_kind, strict=True)]

    async def _ask_many(self, kind: str, batch: pb.EvaluatePlansRequest) -> list[Answer]:
        n = len(batch.requests)
        start = time.perf_counter()
        try:
            resp = await self._stubs[kind].EvaluatePlans(batch, timeout=self.timeout_s)
        except grpc.aio.AioRpcError as exc:
            if exc.code() is grpc.StatusCode.UNIMPLEMENTED:  # an older specialist: one by one
                return list(await asyncio.gather(*(self._ask(kind, r) for r in batch.requests)))
            failed = Answer(
                kind,
                None,
                exc.code().name,
                exc.details() or "",
                (time.perf_counter() - start) * 1000,
            )
            return [failed] * n
        latency_ms = (time.perf_counter() - start) * 1000
        if len(resp.results) != n:
            wrong = f"{len(resp.results)} results for {n} plans"
            return [Answer(kind, None, "INTERNAL", wrong, latency_ms)] * n
        return [
            Answer(kind, r.response, latency_ms=latency_ms)
            if r.HasField("response")
            else Answer(kind, None, r.error.code or "UNKNOWN", r.error.message, latency_ms)
            for r in resp.results
        ]

    async def _ask(self, kind: str, request: pb.EvaluatePlanRequest) -> Answer:
        start = time.perf_counter()
        try:
            resp = await self._stubs[kind].EvaluatePlan(request, timeout=self.timeout_s)
        except grpc.aio.AioRpcError as exc:
            return Answer(
                kind,
                None,
                exc.code().name,
                exc.details() or "",
                (time.perf_counter() - start) * 1000,
            )
        return Answer(kind, resp, latency_ms=(time.perf_counter() - start) * 1000)

    async def serving(self, timeout_s: float = 0.5) -> dict[str, bool]:
        """grpc.health.v1 Check of every specialist, in parallel."""

        async def check(kind: str) -> bool:
            try:
                r = await self._health[kind].Check(
                    health_pb2.HealthCheckRequest(service=SERVICE), timeout=timeout_s
                )
            except grpc.aio.AioRpcError:
                return False
            return bool(r.status == health_pb2.HealthCheckResponse.SERVING)

        kinds = list(self._health)
        states = await asyncio.gather(*(check(k) for k in kinds))
        return dict(zip(kinds, states, strict=True))

    async def close(self) -> None:
        await asyncio.gather(*(ch.close(None) for ch in self._channels.values()))
