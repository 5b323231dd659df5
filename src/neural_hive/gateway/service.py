"""The intent pipeline, free of HTTP: dedup, NLU, routing, envelope, publish, record.

Order matters for "nothing lost, nothing claimed": the idempotency claim is taken first
and released again if the intent is not published; the envelope is written to Redis
only after the broker acknowledged it; a success is returned only after that ack.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from neural_hive.common.contracts import (
    VALIDATION_TOPIC,
    Entity,
    IntentBody,
    IntentEnvelope,
    dlq_topic,
    intent_topic,
)
from neural_hive.gateway.metrics import GatewayMetrics
from neural_hive.gateway.publisher import BrokerUnavailable, Publisher
from neural_hive.gateway.schemas import IntentRequest, IntentResponse, IntentStatus
from neural_hive.gateway.settings import GatewaySettings
from neural_hive.gateway.store import IntentStore
from neural_hive.nlu.classifier import IntentClassifier
from neural_hive.nlu.entities import PII_LABELS, mask_pii

__all__ = ["BrokerUnavailable", "IntentService", "NluUnavailable", "RecordTooLarge"]


class NluUnavailable(RuntimeError):
    """No NLU model is loaded."""


class RecordTooLarge(ValueError):
    """The envelope exceeds the broker record limit; it went to the dead-letter topic."""


class IntentService:
    def __init__(
        self,
        settings: GatewaySettings,
        classifier: IntentClassifier | None,
        store: IntentStore,
        publisher: Publisher,
        metrics: GatewayMetrics,
    ) -> None:
        self.settings = settings
        self.classifier = classifier
        self.store = store
        self.publisher = publisher
        self.metrics = metrics

    def classify(self, text: str, lang: str | None) -> dict[str, Any]:
        if self.classifier is None:
            raise NluUnavailable(
                f"no NLU model at {self.settings.nlu_model_path}: train one with "
                "`neural-hive-nlu train` and set NEURAL_HIVE_NLU_MODEL_PATH"
            )
        start = time.perf_counter()
        result = self.classifier.classify(text, lang).model_dump(mode="json")
        self.metrics.nlu_seconds.observe(time.perf_counter() - start)
        return result

    async def submit(
        self,
        req: IntentRequest,
        claims: dict[str, Any],
        *,
        source: str = "text",
        transcript: str | None = None,
    ) -> IntentResponse:
        start = time.perf_counter()
        intent_id = str(uuid.uuid4())
        correlation_id = req.correlation_id or intent_id
        # Redis round trip 1 of 2: the claim and the NLU cache lookup.
        claim, nlu = await self.store.begin(req.correlation_id, intent_id, req.language, req.text)
        if isinstance(claim, str):
            return await self._duplicate(claim, correlation_id, start, source)
        if claim is False:
            self.metrics.dedup_degraded.inc()
        fresh: tuple[str | None, str, dict[str, Any]] | None = None
        try:
            if nlu is None:
                nlu = self.classify(req.text, req.language)
                fresh = (req.language, req.text, nlu)
            confident = nlu["confidence"] >= self.settings.validation_threshold
            topic = intent_topic(nlu["domain"]) if confident else VALIDATION_TOPIC
            envelope = self._envelope(intent_id, correlation_id, req, claims, nlu, source)
            body = envelope.model_dump_json(exclude_none=True).encode()
            key = intent_id.encode()
            headers = [
                ("intent-id", key),
                ("correlation-id", correlation_id.encode()),
                ("idempotency-key", correlation_id.encode()),
            ]
            if len(body) > self.settings.max_record_bytes:
                await self._dead_letter(topic, body, key, headers)
                raise RecordTooLarge(
                    f"the intent envelope is {len(body)} bytes, over the "
                    f"{self.settings.max_record_bytes}-byte record limit; it was recorded "
                    f"on {dlq_topic(topic)} for inspection"
                )
            t0 = time.perf_counter()
            await self.publisher.publish(topic, body, key, headers)
            self.metrics.publish_seconds.observe(time.perf_counter() - t0)
        except BaseException:
            if req.correlation_id:
                await self.store.release(req.correlation_id, intent_id)
            raise
        # Round trip 2 of 2, only after the broker's ack: the envelope, the intent's wait (for
        # its decision, or for human validation until the engine read it back; see the
        # gateway's redelivery) and the NLU cache.
        await self.store.record(intent_id, body, fresh, topic)
        status = IntentStatus.PROCESSED if confident else IntentStatus.ROUTED_TO_VALIDATION
        self.metrics.intents.labels(status=status.value, domain=nlu["domain"], source=source).inc()
        self.metrics.confidence.observe(nlu["confidence"])
        return IntentResponse(
            intent_id=intent_id,
            correlation_id=correlation_id,
            status=status,
            domain=nlu["domain"],
            classification=nlu["classification"],
            confidence=nlu["confidence"],
            language=nlu["lang"],
            topic=topic,
            processing_time_ms=round((time.perf_counter() - start) * 1000, 3),
            transcript=transcript,
        )

    def _envelope(
        self,
        intent_id: str,
        correlation_id: str,
        req: IntentRequest,
        claims: dict[str, Any],
        nlu: dict[str, Any],
        source: str,
    ) -> IntentEnvelope:
        mask = self.settings.mask_pii
        entities = [
            Entity(
                type=e["label"],
                value=f"[{e['label']}]" if mask and e["label"] in PII_LABELS else e["text"],
                start=e["start"],
                end=e["end"],
            )
            for e in nlu["entities"]
        ]
        constraints = req.constraints.model_dump(exclude_none=True) if req.constraints else {}
        return IntentEnvelope(
            id=intent_id,
            correlation_id=correlation_id,
            actor={"id": str(claims.get("sub", "anonymous")), "type": "human"},
            intent=IntentBody(
                text=mask_pii(req.text) if mask else req.text,
                domain=nlu["domain"],
                classification=nlu["classification"],
                language=nlu["lang"],
                entities=entities,
                keywords=nlu["keywords"],
            ),
            confidence=nlu["confidence"],
            context={
                **(req.context or {}),
                "source": source,
                "language_detected": nlu["lang_detected"],
                **({"qos": req.qos.model_dump()} if req.qos else {}),
            },
            constraints=constraints,
        )

    async def _dead_letter(
        self, topic: str, body: bytes, key: bytes, headers: list[tuple[str, bytes]]
    ) -> None:
        self.metrics.refused.labels(reason="record_too_large").inc()
        letter = {
            "reason": "record_too_large",
            "size": len(body),
            "limit": self.settings.max_record_bytes,
            "source": {"topic": topic},
            "payload": body[: self.settings.max_record_bytes // 2].decode(errors="replace"),
        }
        await self.publisher.publish(
            dlq_topic(topic),
            json.dumps(letter).encode(),
            key,
            [*headers, ("dlq-reason", b"record_too_large")],
        )

    async def _duplicate(
        self, first_id: str, correlation_id: str, start: float, source: str
    ) -> IntentResponse:
        self.metrics.intents.labels(status="duplicate_detected", domain="", source=source).inc()
        first: dict[str, Any] = {}
        try:
            stored = await self.store.load_intent(first_id)
        except Exception:
            stored = None
        if stored and "envelope" in stored:
            env = stored["envelope"]
            first = {
                "domain": env["intent"]["domain"],
                "classification": env["intent"]["classification"],
                "confidence": env["confidence"],
                "language": env["intent"]["language"],
            }
        return IntentResponse(
            intent_id=first_id,
            correlation_id=correlation_id,
            status=IntentStatus.DUPLICATE_DETECTED,
            **first,
            processing_time_ms=round((time.perf_counter() - start) * 1000, 3),
        )
