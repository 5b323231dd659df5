"""The specialist process: SpecialistService, grpc.health.v1, reflection, and HTTP."""

from __future__ import annotations

import asyncio
import logging
import signal
import time
import uuid
from typing import Any

import grpc
from google.protobuf.message import DecodeError
from google.protobuf.timestamp_pb2 import Timestamp
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_health.v1._async import HealthServicer
from grpc_reflection.v1alpha import reflection

from neural_hive import __version__
from neural_hive.common.http import HttpServer, Readiness, build_app
from neural_hive.common.plan import SUPPORTED_PLAN_VERSIONS, PlanError, parse_plan
from neural_hive.proto import specialist_pb2 as pb
from neural_hive.proto import specialist_pb2_grpc as pb_grpc
from neural_hive.specialist.convert import opinion_to_proto
from neural_hive.specialist.evaluator import MODEL_VERSION, evaluate
from neural_hive.specialist.metrics import SpecialistMetrics
from neural_hive.specialist.settings import SpecialistSettings

log = logging.getLogger(__name__)
SERVICE_NAME = pb.DESCRIPTOR.services_by_name["SpecialistService"].full_name
Context = grpc.aio.ServicerContext[Any, Any]
SUPPORTED_DOMAINS = ("BUSINESS", "TECHNICAL", "INFRASTRUCTURE", "SECURITY")


# Most plans one EvaluatePlans call may carry (the consensus engine sends at most its
# NEURAL_HIVE_MAX_BATCH, 256 by default).
MAX_BATCH = 1000


class Refused(Exception):
    """A plan this specialist will not evaluate, with the gRPC status that says why."""

    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


class SpecialistService(pb_grpc.SpecialistServiceServicer):
    def __init__(self, settings: SpecialistSettings, metrics: SpecialistMetrics) -> None:
        self.kind = settings.specialist_type
        self.metrics = metrics
        self.version = f"{__version__}+{MODEL_VERSION}"
        self.started = time.monotonic()
        self.total = 0
        self.total_ms = 0.0

    async def _refuse(self, context: Context, code: grpc.StatusCode, message: str) -> None:
        self.metrics.errors.labels(code=code.name).inc()
        await context.abort(code, message)

    async def EvaluatePlan(
        self,
        request: pb.EvaluatePlanRequest,
        context: Context,
    ) -> pb.EvaluatePlanResponse:
        try:
            return self._evaluate(request, time.perf_counter(), context.time_remaining())
        except Refused as exc:
            await self._refuse(context, exc.code, exc.message)
            raise  # unreachable: abort raises

    async def EvaluatePlans(
        self,
        request: pb.EvaluatePlansRequest,
        context: Context,
    ) -> pb.EvaluatePlansResponse:
        """Each plan as EvaluatePlan would answer it; the call's deadline bounds them all."""
        if len(request.requests) > MAX_BATCH:
            await self._refuse(
                context,
                grpc.StatusCode.INVALID_ARGUMENT,
                f"{len(request.requests)} plans in one call, over the limit of {MAX_BATCH}",
            )
        start, remaining = time.perf_counter(), context.time_remaining()
        results = []
        for one in request.requests:
            try:
                result = pb.EvaluationResult(response=self._evaluate(one, start, remaining))
            except Refused as exc:
                self.metrics.errors.labels(code=exc.code.name).inc()
                error = pb.EvaluationError(code=exc.code.name, message=exc.message)
                result = pb.EvaluationResult(error=error)
            results.append(result)
        return pb.EvaluatePlansResponse(results=results)

    def _evaluate(
        self, request: pb.EvaluatePlanRequest, start: float, remaining: float | None
    ) -> pb.EvaluatePlanResponse:
        """One opinion; raises Refused with the status to answer. `start` is when the call
        began and `remaining` its deadline then: the plan's budget runs from the call's start."""
        budget = _budget_s(request.timeout_ms, remaining)
        if budget is not None and budget <= time.perf_counter() - start:
            raise Refused(
                grpc.StatusCode.DEADLINE_EXCEEDED, "deadline expired before evaluation started"
            )
        try:
            plan = parse_plan(request.cognitive_plan)
        except PlanError as exc:
            raise Refused(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"invalid cognitive_plan field {exc.field}: {exc.message}",
            ) from None
        if request.plan_version and request.plan_version not in SUPPORTED_PLAN_VERSIONS:
            raise Refused(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"plan_version {request.plan_version!r} is not supported "
                f"(supported: {', '.join(SUPPORTED_PLAN_VERSIONS)})",
            )
        began = time.perf_counter()
        opinion = evaluate(self.kind, plan)
        now = time.perf_counter()
        if budget is not None and now - start > budget:
            raise Refused(
                grpc.StatusCode.DEADLINE_EXCEEDED,
                f"evaluation took {(now - start) * 1000:.1f} ms, over the "
                f"{budget * 1000:.1f} ms budget",
            )
        elapsed = now - began
        self.total += 1
        self.total_ms += elapsed * 1000
        m = self.metrics
        m.evaluations.labels(recommendation=opinion.recommendation.value).inc()
        m.latency.observe(elapsed)
        m.confidence.observe(opinion.confidence_score)
        m.risk.observe(opinion.risk_score)
        evaluated_at = Timestamp()
        evaluated_at.GetCurrentTime()
        return pb.EvaluatePlanResponse(
            opinion_id=str(uuid.uuid4()),
            specialist_type=self.kind.value,
            specialist_version=self.version,
            opinion=opinion_to_proto(opinion, MODEL_VERSION),
            processing_time_ms=round(elapsed * 1000),
            evaluated_at=evaluated_at,
        )

    async def HealthCheck(
        self,
        request: pb.HealthCheckRequest,
        context: Context,
    ) -> pb.HealthCheckResponse:
        return pb.HealthCheckResponse(
            status=pb.HealthCheckResponse.SERVING,
            details={"specialist_type": self.kind.value, "version": self.version},
        )

    async def GetCapabilities(
        self,
        request: pb.GetCapabilitiesRequest,
        context: Context,
    ) -> pb.GetCapabilitiesResponse:
        return pb.GetCapabilitiesResponse(
            specialist_type=self.kind.value,
            version=self.version,
            supported_domains=SUPPORTED_DOMAINS,
            supported_plan_versions=SUPPORTED_PLAN_VERSIONS,
            metrics=pb.CapabilityMetrics(
                average_processing_time_ms=self.total_ms / self.total if self.total else 0.0,
                total_evaluations=self.total,
                uptime_seconds=time.monotonic() - self.started,
            ),
            configuration={"model_version": MODEL_VERSION},
        )


class Undecodable:
    """What the server got where a request message should be: bytes that do not parse."""

    def __init__(self, size: int) -> None:
        self.size = size


def _lenient(message: Any) -> Any:
    def decode(data: bytes) -> Any:
        try:
            return message.FromString(data)
        except DecodeError:
            return Undecodable(len(data))

    return decode


def method_handlers(service: SpecialistService) -> grpc.GenericRpcHandler[Any, Any]:
    """The service's methods, as the generated code registers them, except that a request
    that is not a valid message reaches the method (and gets INVALID_ARGUMENT) instead of
    failing in grpc's deserializer with UNKNOWN and a logged traceback."""
    methods: dict[str, tuple[Any, Any]] = {
        "EvaluatePlan": (pb.EvaluatePlanRequest, pb.EvaluatePlanResponse),
        "EvaluatePlans": (pb.EvaluatePlansRequest, pb.EvaluatePlansResponse),
        "HealthCheck": (pb.HealthCheckRequest, pb.HealthCheckResponse),
        "GetCapabilities": (pb.GetCapabilitiesRequest, pb.GetCapabilitiesResponse),
    }

    def guarded(name: str, request_type: Any) -> Any:
        method = getattr(service, name)

        async def call(request: Any, context: Context) -> Any:
            if isinstance(request, Undecodable):
                await service._refuse(
                    context,
                    grpc.StatusCode.INVALID_ARGUMENT,
                    f"the request ({request.size} bytes) is not a "
                    f"{request_type.DESCRIPTOR.full_name} message",
                )
            return await method(request, context)

        return call

    return grpc.method_handlers_generic_handler(
        SERVICE_NAME,
        {
            name: grpc.unary_unary_rpc_method_handler(
                guarded(name, req),
                request_deserializer=_lenient(req),
                response_serializer=resp.SerializeToString,
            )
            for name, (req, resp) in methods.items()
        },
    )


def _budget_s(timeout_ms: int, remaining: float | None) -> float | None:
    budgets = [
        b for b in (timeout_ms / 1000 if timeout_ms > 0 else None, remaining) if b is not None
    ]
    return min(budgets) if budgets else None


class SpecialistServer:
    """gRPC and HTTP servers of one specialist, started and stopped together."""

    def __init__(self, settings: SpecialistSettings) -> None:
        self.settings = settings
        self.metrics = SpecialistMetrics(settings.specialist_type.value)
        self.health = HealthServicer()
        opts = [
            ("grpc.max_receive_message_length", settings.max_message_bytes),
            ("grpc.so_reuseport", 0),
        ]
        self.grpc = grpc.aio.server(options=opts)
        self.grpc.add_generic_rpc_handlers(
            (method_handlers(SpecialistService(settings, self.metrics)),)
        )
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.grpc)
        reflection.enable_server_reflection(
            (SERVICE_NAME, health.SERVICE_NAME, reflection.SERVICE_NAME), self.grpc
        )
        self.grpc_port = self.grpc.add_insecure_port(f"{settings.host}:{settings.grpc_port}")
        app = build_app(
            f"specialist-{settings.specialist_type.value}", self._readiness, self.metrics.registry
        )
        self.http = HttpServer(app, settings.host, settings.http_port)
        self.serving = False

    async def _readiness(self) -> Readiness:
        report = Readiness()
        report.set(
            "grpc",
            "ok" if self.serving else "down",
            f"{SERVICE_NAME} on :{self.grpc_port}",
            required=True,
        )
        return report

    async def start(self) -> None:
        await self.grpc.start()
        await self.http.start()
        for name in (SERVICE_NAME, ""):
            await self.health.set(name, health_pb2.HealthCheckResponse.SERVING)
        self.serving = True
        log.info(
            "specialist serving",
            extra={
                "fields": {
                    "specialist_type": self.settings.specialist_type.value,
                    "grpc_port": self.grpc_port,
                    "http_port": self.settings.http_port,
                }
            },
        )

    async def stop(self, grace: float = 5.0) -> None:
        self.serving = False
        await self.health.enter_graceful_shutdown()
        await self.http.stop()
        await self.grpc.stop(grace)


async def run(settings: SpecialistSettings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    server = SpecialistServer(settings)
    await server.start()
    await stop.wait()
    log.info("specialist stopping")
    await server.stop()
