"""The consensus engine: consume intents, gather opinions, decide, publish and record.

Delivery is at least once: offsets are committed only after every record of a batch has
its decision published (or its dead letter written). Records of a batch are processed
concurrently; if the broker refuses a publish, the batch is rewound and retried, so a
decision is never silently dropped. Decision and plan ids derive from the intent id, so a
redelivered intent yields the same ids and consumers can discard the repeat.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import redis.asyncio as aioredis
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError
from pydantic import ValidationError

from neural_hive.common.contracts import (
    PENDING_KEY,
    REDELIVERY_HEADER,
    VALIDATION_TOPIC,
    IntentEnvelope,
    dlq_topic,
    intent_key,
)
from neural_hive.common.http import CheckState, HttpServer, Readiness, build_app
from neural_hive.common.kafka import (
    EPOCH_TOPIC,
    RESTART_CHECK_S,
    STARTED_OVER_SLACK,
    RestartWatch,
    ensure_topics,
    make_producer,
)
from neural_hive.common.plan import CognitivePlan
from neural_hive.consensus.aggregator import Outcome, Policy, Vote, aggregate
from neural_hive.consensus.fanout import Answer, SpecialistPool
from neural_hive.consensus.metrics import ConsensusMetrics
from neural_hive.consensus.planner import PLAN_NAMESPACE, build_plan
from neural_hive.consensus.settings import ConsensusSettings
from neural_hive.specialist.convert import opinion_fields
from neural_hive.specialist.evaluator import Recommendation

log = logging.getLogger(__name__)
DECISION_SCHEMA_VERSION = 1
KAFKA_RETRY_MIN_S = 0.5
# A decision the broker refused is sent again this many times in all, 0.1 s, 0.2 s, ... apart,
# before the batch is given up and consumed again (Tansu refuses a produce now and then
# under load with UnknownError: a retry of that record alone goes through).
PUBLISH_ATTEMPTS = 4
PUBLISH_RETRY_S = 0.1
KAFKA_RETRY_MAX_S = 10.0
# Bounds on one batch, so that a call that never returns (aiokafka retries a commit as long
# as the broker answers with a retriable error) rewinds the batch instead of stalling the
# engine while /ready still says ready. Each call inside has a deadline of its own; these
# only catch what slips through them.
BATCH_TIMEOUT_S = 60.0
COMMIT_TIMEOUT_S = 15.0


class BadRecord(ValueError):
    """A record that can never be processed; it goes to the dead-letter topic."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def parse_envelope(value: bytes | None) -> IntentEnvelope:
    if not value:
        raise BadRecord("empty_record", "the record has no value")
    try:
        doc = json.loads(value)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadRecord("invalid_json", str(exc)) from None
    try:
        return IntentEnvelope.model_validate(doc)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"]) or "envelope"
        raise BadRecord("invalid_envelope", f"{field}: {err['msg']}") from None


class ConsensusEngine:
    def __init__(self, settings: ConsensusSettings) -> None:
        self.settings = s = settings
        self.metrics = ConsensusMetrics()
        self.policy = Policy(
            quorum=s.quorum,
            total=len(s.specialists),
            weights=s.weights,
            min_confidence=s.min_confidence,
            critical_risk=s.critical_risk,
            confident_reject=s.confident_reject,
            max_divergence=s.max_divergence,
        )
        self.pool = SpecialistPool(s.specialists, s.evaluation_timeout_ms / 1000)
        self.redis = aioredis.from_url(
            s.redis_url.get_secret_value(), socket_timeout=1.0, socket_connect_timeout=1.0
        )
        self.producer: AIOKafkaProducer | None = None
        self.consumer: AIOKafkaConsumer | None = None
        self.restarts: RestartWatch | None = None
        self.kafka_state = "not connected yet"
        app = build_app("consensus-engine", self.readiness, self.metrics.registry)
        self.http = HttpServer(app, s.host, s.http_port)

    # ---- lifecycle ---------------------------------------------------------------------

    async def start(self, stop: asyncio.Event | None = None) -> bool:
        """Serve HTTP at once, then connect to Kafka, retrying until it answers or `stop`.

        Until Kafka answers, /health is alive and /ready says why it is not ready, so an
        orchestrator waits instead of restarting the engine in a loop.
        """
        await self.http.start()
        stop = stop or asyncio.Event()
        delay = KAFKA_RETRY_MIN_S
        while not stop.is_set():
            try:
                await self._connect_kafka()
                return True
            except KafkaError as exc:
                self.kafka_state = f"unreachable: {exc}"
                log.warning(
                    "kafka unreachable, retrying",
                    extra={
                        "fields": {
                            "bootstrap": self.settings.kafka_bootstrap_servers,
                            "error": str(exc),
                            "retry_in_s": delay,
                        }
                    },
                )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)
            delay = min(delay * 2, KAFKA_RETRY_MAX_S)
        return False

    async def _connect_kafka(self) -> None:
        s = self.settings
        if s.kafka_create_topics:
            dlqs = [dlq_topic(t) for t in s.intent_topics]
            await ensure_topics(
                s.kafka_bootstrap_servers,
                [*s.intent_topics, VALIDATION_TOPIC, *dlqs, s.decision_topic, EPOCH_TOPIC],
                s.kafka_topic_partitions,
            )
        producer = make_producer(
            s.kafka_bootstrap_servers, idempotence=s.kafka_idempotence, client_id="consensus-engine"
        )
        consumer = AIOKafkaConsumer(
            *s.intent_topics,
            VALIDATION_TOPIC,  # only read back, for the gateway's redelivery (see witness)
            bootstrap_servers=s.kafka_bootstrap_servers,
            group_id=s.consumer_group,
            client_id="consensus-engine",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            fetch_max_wait_ms=s.fetch_max_wait_ms,
            session_timeout_ms=s.kafka_session_timeout_ms,
            # Partitions added to a topic (or a topic recreated with more, as a broker without
            # storage does on restart) are consumed within 5 s, not after Kafka's 5 minutes.
            metadata_max_age_ms=5000,
            heartbeat_interval_ms=s.kafka_session_timeout_ms // 3,
        )
        restarts = RestartWatch(s.kafka_bootstrap_servers, "consensus-engine")
        try:
            await producer.start()
            await consumer.start()
            await restarts.start()
        except KafkaError:
            await restarts.stop()
            await consumer.stop()
            await producer.stop()
            raise
        self.producer, self.consumer, self.restarts = producer, consumer, restarts
        self.kafka_state = f"consuming as group {s.consumer_group}"
        log.info(
            "consensus engine consuming",
            extra={
                "fields": {
                    "topics": s.intent_topics,
                    "group": s.consumer_group,
                    "specialists": sorted(s.specialists),
                }
            },
        )

    async def stop(self) -> None:
        if self.restarts is not None:
            await self.restarts.stop()
        if self.consumer is not None:
            await self.consumer.stop()
        if self.producer is not None:
            await self.producer.stop()
        await self.pool.close()
        await self.redis.aclose()
        await self.http.stop()

    async def run(self, stop: asyncio.Event) -> None:
        consumer = self.consumer
        if consumer is None:
            raise RuntimeError("run() before start() connected to Kafka")
        restarted = asyncio.Event()
        watch = asyncio.create_task(self._watch_restarts(restarted, stop))
        checked: frozenset[TopicPartition] = frozenset()
        try:
            while not stop.is_set():
                if restarted.is_set() and consumer.assignment():
                    restarted.clear()
                    if not await self._read_again_from_start(consumer):
                        restarted.set()  # the next time round
                assigned = frozenset(consumer.assignment())
                if assigned and assigned != checked and await self._past_the_end(consumer):
                    checked = assigned
                batch = await consumer.getmany(timeout_ms=200, max_records=self.settings.max_batch)
                if not batch:
                    continue
                stage = "decide, publish and record"
                try:
                    records = [r for recs in batch.values() for r in recs]
                    await asyncio.wait_for(self.handle_batch(records), BATCH_TIMEOUT_S)
                    stage = "commit"
                    await asyncio.wait_for(consumer.commit(), COMMIT_TIMEOUT_S)
                except (KafkaError, TimeoutError) as exc:
                    # Not committed: rewind so the batch is processed again (at least once).
                    log.warning(
                        "batch not completed, retrying it",
                        extra={"fields": {"stage": stage, "error": repr(exc)}},
                    )
                    for tp, recs in batch.items():
                        with contextlib.suppress(KafkaError, AssertionError):
                            consumer.seek(tp, recs[0].offset)
                    await asyncio.sleep(KAFKA_RETRY_MIN_S)
        finally:
            watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watch

    async def _watch_restarts(self, restarted: asyncio.Event, stop: asyncio.Event) -> None:
        """Every RESTART_CHECK_S, beside the consuming loop (a check waits on the broker),
        ask the RestartWatch whether the broker lost its logs; the loop then reads its
        partitions again (see _read_again_from_start). The first check, at once, learns the
        broker's epoch."""
        if self.restarts is None:
            return
        while not stop.is_set():
            try:
                if await asyncio.wait_for(self.restarts.restarted(), RESTART_CHECK_S):
                    restarted.set()
            except (KafkaError, TimeoutError) as exc:
                log.debug("restart check failed", extra={"fields": {"error": repr(exc)}})
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), RESTART_CHECK_S)

    async def _past_the_end(self, consumer: AIOKafkaConsumer) -> bool:
        """On a new assignment, read again from 0 the partitions whose log ends more than
        STARTED_OVER_SLACK records before our position: the broker restarted without its
        logs before this engine could see it, and the group's committed offsets still
        point into the old logs. (The restart watch tells only restarts it lived through.)
        False when the broker did not answer (checked again next time round)."""
        tps = sorted(consumer.assignment(), key=str)
        try:
            ends = await asyncio.wait_for(consumer.end_offsets(tps), RESTART_CHECK_S)
            behind = [
                tp
                for tp in tps
                if await asyncio.wait_for(consumer.position(tp), RESTART_CHECK_S)
                > ends[tp] + STARTED_OVER_SLACK
            ]
        except (KafkaError, AssertionError, TimeoutError):
            return False
        if behind:
            log.warning(
                "committed offsets past the end of the log, reading those partitions from 0",
                extra={"fields": {"partitions": [f"{tp.topic}-{tp.partition}" for tp in behind]}},
            )
            try:
                await consumer.seek_to_beginning(*behind)
            except (KafkaError, AssertionError):
                return False
            with contextlib.suppress(KafkaError):
                await consumer.commit(dict.fromkeys(behind, 0))
        return True

    async def _read_again_from_start(self, consumer: AIOKafkaConsumer) -> bool:
        """After a broker without storage restarted, its partitions begin again at 0 while
        our positions (and the group's committed offsets) point into the old logs: read them
        from the beginning, or nothing is consumed until a new log outgrows the old one, and
        what came before that point is skipped."""
        tps = sorted(consumer.assignment(), key=str)
        log.warning(
            "the broker restarted without its logs, reading every partition from offset 0",
            extra={"fields": {"partitions": [f"{tp.topic}-{tp.partition}" for tp in tps]}},
        )
        try:
            await consumer.seek_to_beginning(*tps)
        except (KafkaError, AssertionError):
            return False  # a rebalance is on, or the broker went away again
        # Commit it too: a rebalance resets positions to the group's committed offsets,
        # which may still point into the old logs (a batch committed after the restart).
        with contextlib.suppress(KafkaError):
            await consumer.commit(dict.fromkeys(tps, 0))
        return True

    async def readiness(self) -> Readiness:
        r = Readiness()
        r.set(
            "kafka",
            "ok" if self.consumer is not None and self.consumer.assignment() else "down",
            self.kafka_state,
            required=True,
        )
        try:
            await self.redis.ping()
            r.set("redis", "ok", "", required=True)
        except (aioredis.RedisError, OSError) as exc:
            r.set("redis", "down", str(exc), required=True)
        serving = await self.pool.serving()
        up = sorted(k for k, ok in serving.items() if ok)
        state: CheckState = (
            "ok"
            if len(up) == self.pool.size
            else ("degraded" if len(up) >= self.policy.quorum else "down")
        )
        # Specialists inform readiness but never gate it: without quorum the engine still
        # answers, routing every intent to human review.
        r.set(
            "specialists",
            state,
            f"{len(up)}/{self.pool.size} serving: {', '.join(up)}",
            required=False,
        )
        return r

    # ---- a batch of records ---------------------------------------------------------------

    @property
    def _producer(self) -> AIOKafkaProducer:
        if self.producer is None:
            raise RuntimeError("the engine is not connected to Kafka")
        return self.producer

    async def handle_batch(self, records: list[ConsumerRecord[bytes, bytes]]) -> None:
        """Decide the intents consumed together: one EvaluatePlans call per specialist for
        all of them, a decision record each, one Redis round trip. Raises KafkaError when a
        decision was not acknowledged (the caller consumes the batch again)."""
        start = time.perf_counter()
        parsed: list[tuple[ConsumerRecord[bytes, bytes], IntentEnvelope]] = []
        witnessed = []
        for record in records:
            self.metrics.consumed.labels(topic=record.topic).inc()
            if record.topic == VALIDATION_TOPIC:
                witnessed.append(dict(record.headers).get("intent-id", b"").decode())
                continue
            try:
                parsed.append((record, parse_envelope(record.value)))
            except BadRecord as exc:
                await self.dead_letter(record, exc)
        await self.witness([i for i in witnessed if i])
        parsed = await self._without_decided_repeats(parsed)
        if not parsed:
            return
        decisions = await self.decide_many([env for _, env in parsed])
        records, bodies = [], []
        for (record, env), decision in zip(parsed, decisions, strict=True):
            decision["intent_to_decision_ms"] = max(0, int(time.time() * 1000) - record.timestamp)
            body = json.dumps(decision, separators=(",", ":")).encode()
            bodies.append((env.id, body))
            headers = [
                ("intent-id", env.id.encode()),
                ("correlation-id", env.correlation_id.encode()),
                # what a router (or the load test's tap) needs, without parsing
                ("decision", str(decision["decision"]).encode()),
                ("quorum-received", str(decision["quorum"]["received"]).encode()),
                ("decided-at", str(decision["decided_at"]).encode()),
            ]
            records.append((env.id.encode(), body, headers))
        await self._publish_decisions(records)
        await self.record_decisions(bodies)
        elapsed = time.perf_counter() - start
        for _ in bodies:
            self.metrics.decision_seconds.observe(elapsed)

    async def _publish_decisions(
        self, records: list[tuple[bytes, bytes, list[tuple[str, bytes]]]]
    ) -> None:
        """Publish every decision, sending again only those the broker refused (up to
        PUBLISH_ATTEMPTS times), so that one refused record does not make the whole batch
        be decided again. Raises the last KafkaError when some were never acknowledged."""
        for attempt in range(PUBLISH_ATTEMPTS):
            acks = [
                await self._producer.send(self.settings.decision_topic, body, key=k, headers=h)
                for k, body, h in records
            ]
            results = await asyncio.gather(*acks, return_exceptions=True)
            failed = [
                (r, e) for r, e in zip(records, results, strict=True) if isinstance(e, Exception)
            ]
            if not failed:
                return
            errors = [e for _, e in failed]
            unexpected = [e for e in errors if not isinstance(e, KafkaError)]
            if unexpected:
                raise unexpected[0]
            if attempt + 1 == PUBLISH_ATTEMPTS:
                raise errors[-1]
            self.metrics.publish_retries.inc(len(failed))
            records = [r for r, _ in failed]
            await asyncio.sleep(PUBLISH_RETRY_S * (attempt + 1))

    async def _without_decided_repeats(
        self, parsed: list[tuple[ConsumerRecord[bytes, bytes], IntentEnvelope]]
    ) -> list[tuple[ConsumerRecord[bytes, bytes], IntentEnvelope]]:
        """Drop the copies the gateway published again of intents decided meanwhile."""
        repeats = [env.id for r, env in parsed if any(k == REDELIVERY_HEADER for k, _ in r.headers)]
        if not repeats:
            return parsed
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                for intent_id in repeats:
                    pipe.hexists(intent_key(intent_id), "decision")
                found = await pipe.execute()
        except (aioredis.RedisError, OSError):
            return parsed  # a repeated decision keeps its id: deciding again is harmless
        decided = {i for i, yes in zip(repeats, found, strict=True) if yes}
        self.metrics.repeats_skipped.inc(len(decided))
        return [(r, env) for r, env in parsed if env.id not in decided]

    async def decide_many(self, envs: list[IntentEnvelope]) -> list[dict[str, Any]]:
        start = time.perf_counter()
        plans = [build_plan(env) for env in envs]
        answers = await self.pool.evaluate_many(plans, [env.correlation_id for env in envs])
        fanout = time.perf_counter() - start
        for _ in plans:
            self.metrics.fanout_seconds.observe(fanout)
        return [
            self._conclude(env, plan, a, start)
            for env, plan, a in zip(envs, plans, answers, strict=True)
        ]

    def _conclude(
        self, env: IntentEnvelope, plan: CognitivePlan, answers: list[Answer], start: float
    ) -> dict[str, Any]:
        votes = []
        for a in answers:
            if a.response is None:
                self.metrics.specialist_failures.labels(
                    specialist_type=a.specialist_type, code=a.error_code or "UNKNOWN"
                ).inc()
            else:
                o = a.response.opinion
                votes.append(
                    Vote(
                        a.specialist_type,
                        Recommendation(o.recommendation),
                        o.confidence_score,
                        o.risk_score,
                    )
                )
        outcome = aggregate(votes, self.policy)
        self.metrics.decisions.labels(decision=outcome.decision.value).inc()
        for g in outcome.guardrails:
            self.metrics.guardrails.labels(guardrail=g).inc()
        return self._document(
            env,
            plan.model_dump(mode="json"),
            answers,
            outcome,
            (time.perf_counter() - start) * 1000,
        )

    def _document(
        self,
        env: IntentEnvelope,
        plan: dict[str, Any],
        answers: list[Answer],
        out: Outcome,
        elapsed_ms: float,
    ) -> dict[str, Any]:
        opinions = [
            {
                "specialist_type": a.specialist_type,
                "opinion_id": a.response.opinion_id,
                "specialist_version": a.response.specialist_version,
                "processing_time_ms": a.response.processing_time_ms,
                **opinion_fields(a.response.opinion),
            }
            for a in answers
            if a.response is not None
        ]
        missing = [
            {
                "specialist_type": a.specialist_type,
                "code": a.error_code,
                "reason": a.error,
                "latency_ms": round(a.latency_ms, 1),
            }
            for a in answers
            if a.response is None
        ]
        return {
            "schema_version": DECISION_SCHEMA_VERSION,
            "decision_id": str(uuid.uuid5(PLAN_NAMESPACE, f"decision:{env.id}")),
            "plan_id": plan["plan_id"],
            "intent_id": env.id,
            "correlation_id": env.correlation_id,
            "domain": env.intent.domain.value,
            "decision": out.decision.value,
            "consensus_method": "weighted_plurality_with_guardrails",
            "aggregated_confidence": out.aggregated_confidence,
            "aggregated_risk": out.aggregated_risk,
            "votes": out.votes,
            "divergence": out.divergence,
            "confidence_stdev": out.confidence_stdev,
            "quorum": {
                "required": self.policy.quorum,
                "received": len(opinions),
                "total": self.policy.total,
                "met": out.quorum_met,
            },
            "guardrails_triggered": list(out.guardrails),
            "reasons": list(out.reasons),
            "opinions": opinions,
            "missing_specialists": missing,
            "plan": plan,
            "decided_at": datetime.now(UTC).isoformat(),
            "processing_time_ms": round(elapsed_ms, 2),
        }

    async def record_decisions(self, decisions: list[tuple[str, bytes]]) -> None:
        """Cache each decision with its intent and end the gateway's wait for it, in one
        round trip."""
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                for intent_id, body in decisions:
                    key = intent_key(intent_id)
                    pipe.hset(key, "decision", body)
                    pipe.expire(key, self.settings.decision_ttl_s)
                    pipe.zrem(PENDING_KEY, intent_id)
                await pipe.execute()
        except (aioredis.RedisError, OSError) as exc:
            # The decisions are already on plans.consensus; Redis is their read cache.
            self.metrics.redis_failures.inc(len(decisions))
            log.warning(
                "decisions not cached in redis",
                extra={
                    "fields": {
                        "intents": [i for i, _ in decisions][:20],
                        "count": len(decisions),
                        "error": repr(exc),
                    }
                },
            )

    async def witness(self, intent_ids: list[str]) -> None:
        """End the gateway's wait for intents routed to human validation: they are readable
        on Kafka, which is all the gateway waits for (no decision follows them). A broker
        without storage can acknowledge a record and then never serve it (Tansu, right after
        a restart); an intent not read back here is published again by the gateway."""
        if not intent_ids:
            return
        try:
            await self.redis.zrem(PENDING_KEY, *intent_ids)
        except (aioredis.RedisError, OSError) as exc:
            # They stay pending: the gateway publishes them again, a repeat and not a loss.
            self.metrics.redis_failures.inc(len(intent_ids))
            log.warning(
                "intents read back not marked in redis",
                extra={"fields": {"count": len(intent_ids), "error": repr(exc)}},
            )

    async def dead_letter(self, record: ConsumerRecord[bytes, bytes], exc: BadRecord) -> None:
        self.metrics.dead_letters.labels(reason=exc.reason).inc()
        raw = record.value or b""
        letter = {
            "reason": exc.reason,
            "error": exc.detail,
            "source": {
                "topic": record.topic,
                "partition": record.partition,
                "offset": record.offset,
                "timestamp": record.timestamp,
            },
            "payload": raw.decode("utf-8", errors="replace")[:65536],
        }
        await self._producer.send_and_wait(
            dlq_topic(record.topic),
            json.dumps(letter).encode(),
            key=record.key,
            headers=[("dlq-reason", exc.reason.encode())],
        )
        log.warning(
            "record sent to dead-letter topic",
            extra={
                "fields": {
                    "topic": record.topic,
                    "offset": record.offset,
                    "reason": exc.reason,
                    "error": exc.detail,
                }
            },
        )
