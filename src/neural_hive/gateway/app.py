"""The gateway's HTTP API (FastAPI): routes, limits, error bodies and lifecycle."""

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, File, Form, HTTPException, Request, UploadFile
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from neural_hive import __version__
from neural_hive.asr import AsrError, AsrUnavailableError, Transcriber
from neural_hive.common.http import Readiness
from neural_hive.gateway.auth import Authenticator
from neural_hive.gateway.metrics import GatewayMetrics
from neural_hive.gateway.publisher import Publisher
from neural_hive.gateway.redelivery import Redeliverer
from neural_hive.gateway.schemas import (
    ErrorBody,
    IntentRecord,
    IntentRequest,
    IntentResponse,
    Language,
)
from neural_hive.gateway.service import (
    BrokerUnavailable,
    IntentService,
    NluUnavailable,
    RecordTooLarge,
)
from neural_hive.gateway.settings import GatewaySettings
from neural_hive.gateway.store import IntentStore, RedisDown

log = logging.getLogger(__name__)
RETRY_AFTER_S = 5
KAFKA_RECONNECT_S = 2.0
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody} for code in (401, 404, 413, 415, 422, 503)
}


class BodyLimit:
    """Refuse bodies over a size (413) and bodies of the wrong media type (415) before
    any handler reads them; chunked bodies are counted as they stream in."""

    def __init__(self, app: ASGIApp, limits: dict[str, tuple[int, str]]) -> None:
        self.app = app
        self.limits = limits  # path -> (max bytes, required media type)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        rule = self.limits.get(scope.get("path", "")) if scope["type"] == "http" else None
        if rule is None or scope.get("method") != "POST":
            await self.app(scope, receive, send)
            return
        limit, media = rule
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        ctype = headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype != media:
            await _reject(send, 415, f"content type must be {media}, got {ctype or 'none'}")
            return
        length = headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > limit:
            await _reject(send, 413, f"body of {length} bytes is over the {limit}-byte limit")
            return
        seen = 0
        refused = False

        async def limited() -> Message:
            nonlocal seen, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > limit:
                # Answer now; the app sees a disconnect and whatever it sends is dropped.
                refused = True
                await _reject(send, 413, f"body is over the {limit}-byte limit")
                return {"type": "http.disconnect"}
            return message

        async def guarded(message: Message) -> None:
            if not refused:
                await send(message)

        await self.app(scope, limited, guarded)


async def _reject(send: Send, code: int, detail: str) -> None:
    response = JSONResponse({"detail": detail}, status_code=code)
    await response({"type": "http"}, _no_body, send)


async def _no_body() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


def load_classifier(path: Path) -> Any:
    from neural_hive.nlu.classifier import IntentClassifier, ModelError

    try:
        return IntentClassifier.load(path)
    except (ModelError, OSError) as exc:
        log.error("NLU model not loaded", extra={"fields": {"path": str(path), "error": str(exc)}})
        return None


def create_app(
    settings: GatewaySettings, classifier_loader: Callable[[Path], Any] = load_classifier
) -> FastAPI:
    metrics = GatewayMetrics()
    store = IntentStore(
        settings.redis_url.get_secret_value(),
        dedup_ttl_s=settings.dedup_ttl_s,
        intent_ttl_s=settings.intent_ttl_s,
        nlu_ttl_s=settings.nlu_cache_ttl_s,
        max_connections=settings.redis_max_connections,
    )
    publisher = Publisher(
        settings.kafka_bootstrap_servers,
        idempotence=settings.kafka_idempotence,
        create_topics=settings.kafka_create_topics,
        partitions=settings.kafka_topic_partitions,
        max_record_bytes=settings.max_record_bytes,
    )
    auth = Authenticator(settings)
    transcriber = Transcriber(settings.asr)
    state: dict[str, Any] = {}

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        classifier = await asyncio.to_thread(classifier_loader, settings.nlu_model_path)
        # The model is long-lived: keep the collector from re-scanning its objects on
        # every full collection (those scans showed up as tail latency).
        gc.collect()
        gc.freeze()
        state["service"] = IntentService(settings, classifier, store, publisher, metrics)
        tasks = [asyncio.create_task(_keep_connecting(publisher))]
        if settings.redeliver_after_s:
            redeliverer = Redeliverer(
                store,
                publisher,
                metrics,
                after_s=settings.redeliver_after_s,
                interval_s=settings.redeliver_interval_s,
                batch=settings.redeliver_batch,
                max_attempts=settings.redeliver_max_attempts,
            )
            tasks.append(asyncio.create_task(redeliverer.run()))
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await publisher.close()
            await store.close()

    app = FastAPI(
        title="Neural Hive-Mind intent gateway (gateway-intencoes)",
        version=__version__,
        lifespan=lifespan,
        responses=ERRORS,
    )
    app.add_middleware(
        BodyLimit,
        limits={
            "/intentions": (settings.max_body_bytes, "application/json"),
            "/intentions/voice": (settings.asr.max_upload_bytes + 64 * 1024, "multipart/form-data"),
        },
    )

    async def service() -> IntentService:
        # async: FastAPI runs a plain-def dependency in its thread pool, a thread hop per
        # request that showed up as 6% of the event loop's time at 250 intents/s.
        svc: IntentService = state["service"]
        return svc

    Claims = Annotated[dict[str, Any], Depends(auth)]
    Service = Annotated[IntentService, Depends(service)]

    @app.exception_handler(BrokerUnavailable)
    async def _broker(_: Request, exc: BrokerUnavailable) -> Response:
        metrics.refused.labels(reason="broker_unavailable").inc()
        return JSONResponse(
            {
                "detail": f"intent not accepted, the broker is unavailable: {exc}; "
                "nothing was recorded, retry later"
            },
            status_code=503,
            headers={"Retry-After": str(RETRY_AFTER_S)},
        )

    @app.exception_handler(NluUnavailable)
    async def _nlu(_: Request, exc: NluUnavailable) -> Response:
        return JSONResponse(
            {"detail": str(exc)}, status_code=503, headers={"Retry-After": str(RETRY_AFTER_S)}
        )

    @app.exception_handler(RecordTooLarge)
    async def _too_large(_: Request, exc: RecordTooLarge) -> Response:
        return JSONResponse({"detail": str(exc)}, status_code=413)

    @app.post(
        "/intentions",
        response_model=IntentResponse,
        status_code=202,
        responses={
            200: {
                "model": IntentResponse,
                "description": "duplicate_detected: the first intent's id",
            }
        },
        summary="Submit a text intent",
    )
    async def submit(body: IntentRequest, claims: Claims, svc: Service) -> Response:
        result = await svc.submit(body, claims)
        code = 200 if result.status == "duplicate_detected" else 202
        return JSONResponse(result.model_dump(mode="json", exclude_none=True), status_code=code)

    @app.post(
        "/intentions/voice",
        response_model=IntentResponse,
        status_code=202,
        responses={
            200: {
                "model": IntentResponse,
                "description": "duplicate_detected: the first intent's id",
            }
        },
        summary="Submit a spoken intent (wav, mp3, ogg, flac or m4a)",
    )
    async def submit_voice(
        claims: Claims,
        svc: Service,
        audio: Annotated[UploadFile, File(description="the recording")],
        language: Annotated[Language | None, Form()] = None,
        correlation_id: Annotated[
            str | None, Form(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:\-]+$")
        ] = None,
    ) -> Response:
        data = await audio.read(settings.asr.max_upload_bytes + 1)
        try:
            heard = await transcriber.transcribe(
                data, audio.filename, audio.content_type, language=language
            )
        except AsrError as exc:
            metrics.refused.labels(reason=exc.code).inc()
            return JSONResponse(
                {"detail": exc.message, "error": exc.code}, status_code=exc.status_code
            )
        text = heard.text.strip()[:10_000]
        if not text:
            return JSONResponse(
                {"detail": "no speech was recognised in the audio", "error": "no_speech"},
                status_code=422,
            )
        spoken = heard.language if heard.language in ("pt", "en", "es") else None
        request = IntentRequest(
            text=text, language=language or spoken, correlation_id=correlation_id
        )
        result = await svc.submit(request, claims, source="voice", transcript=text)
        code = 200 if result.status == "duplicate_detected" else 202
        return JSONResponse(result.model_dump(mode="json", exclude_none=True), status_code=code)

    @app.get(
        "/intentions/{intent_id}",
        response_model=IntentRecord,
        summary="The stored intent and, once decided, its consensus decision",
    )
    async def read(intent_id: str, _: Claims) -> IntentRecord:
        try:
            stored = await store.load_intent(intent_id)
        except RedisDown as exc:
            raise HTTPException(
                503, f"intent store unavailable: {exc}", headers={"Retry-After": str(RETRY_AFTER_S)}
            ) from None
        if stored is None or "envelope" not in stored:
            raise HTTPException(404, f"unknown intent {intent_id!r} (or expired)")
        decision = stored.get("decision")
        return IntentRecord(
            intent_id=intent_id,
            status="decided" if decision else "pending",
            envelope=stored["envelope"],
            decision=decision,
        )

    @app.get("/health", summary="Liveness: the process answers")
    async def health() -> dict[str, str]:
        return {"status": "alive", "service": "gateway-intencoes"}

    @app.get(
        "/ready",
        summary="Readiness with each dependency's state",
        responses={503: {"description": "a required dependency is down"}},
    )
    async def ready() -> Response:
        report = Readiness()
        report.set(
            "kafka",
            "ok" if publisher.connected else "down",
            publisher.last_error or settings.kafka_bootstrap_servers,
            required=True,
        )
        svc = state.get("service")
        nlu_ok = svc is not None and svc.classifier is not None
        report.set("nlu", "ok" if nlu_ok else "down", str(settings.nlu_model_path), required=True)
        if transcriber.configured:
            try:
                report.set("asr", "ok", str(transcriber.check_available()), required=False)
            except AsrUnavailableError as exc:
                report.set("asr", "degraded", exc.message, required=False)
        else:
            report.set(
                "asr",
                "skipped",
                "no ASR model installed: the voice route answers 503 "
                "(set NEURAL_HIVE_ASR_MODEL_PATH)",
                required=False,
            )
        redis_ok = await store.ping()
        report.set(
            "redis",
            "ok" if redis_ok else "degraded",
            "dedup and intent cache" if redis_ok else f"dedup degraded: {store.last_error}",
            required=False,
        )
        return JSONResponse(
            {"service": "gateway-intencoes", **report.as_dict()},
            status_code=200 if report.ready else 503,
        )

    @app.get("/metrics", summary="Prometheus metrics", response_class=Response)
    async def prometheus() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    app.state.settings = settings
    app.state.publisher = publisher
    app.state.store = store
    return app


async def _keep_connecting(publisher: Publisher) -> None:
    while not await publisher.connect():
        log.warning(
            "kafka unreachable, retrying", extra={"fields": {"error": publisher.last_error}}
        )
        await asyncio.sleep(KAFKA_RECONNECT_S)


__all__ = ["create_app"]
