"""The consensus engine against real Redis, the Tansu broker and five specialist processes."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from neural_hive.common.contracts import intent_key, intent_topic
from neural_hive.consensus import engine as engine_module
from neural_hive.consensus.engine import ConsensusEngine
from neural_hive.consensus.settings import ConsensusSettings
from neural_hive.devstack import BIN, Service, free_port, start_tansu, stop_process

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("kafka_topics")]
GROUP = "consensus-tests"


def envelope(
    domain: str = "TECHNICAL", text: str = "Add retries to the payment client", **kw: Any
) -> dict[str, Any]:
    iid = str(uuid.uuid4())
    return {
        "schema_version": 1,
        "id": iid,
        "correlation_id": f"corr-{iid[:8]}",
        "actor": {"id": "tester"},
        "confidence": 0.92,
        "intent": {
            "text": text,
            "domain": domain,
            "classification": "feature",
            "language": "en",
            "entities": [],
            "keywords": ["retries"],
        },
        "context": {},
        "constraints": {"priority": "normal"},
        **kw,
    }


def settings(
    bootstrap: str, redis_url: str, specialists: dict[str, Service], **kw: Any
) -> ConsensusSettings:
    return ConsensusSettings(
        kafka_bootstrap_servers=bootstrap,
        kafka_idempotence=False,
        consumer_group=GROUP,
        redis_url=redis_url,
        http_port=free_port(),
        host="127.0.0.1",
        specialists={k: s.address for k, s in specialists.items()},
        **kw,
    )


@contextlib.asynccontextmanager
async def running(cfg: ConsensusSettings) -> AsyncIterator[ConsensusEngine]:
    engine = ConsensusEngine(cfg)
    await engine.start()
    stop = asyncio.Event()
    task = asyncio.create_task(engine.run(stop))
    try:
        yield engine
    finally:
        stop.set()
        await task
        await engine.stop()


@contextlib.asynccontextmanager
async def producer(bootstrap: str) -> AsyncIterator[AIOKafkaProducer]:
    p = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=False)
    await p.start()
    try:
        yield p
    finally:
        await p.stop()


async def publish(p: AIOKafkaProducer, env: dict[str, Any] | bytes, topic: str = "") -> None:
    if isinstance(env, bytes):
        await p.send_and_wait(topic, env)
    else:
        await p.send_and_wait(
            topic or intent_topic(env["intent"]["domain"]),
            json.dumps(env).encode(),
            key=env["id"].encode(),
        )


async def get(engine: ConsensusEngine, path: str) -> httpx.Response:
    async with httpx.AsyncClient() as client:
        return await client.get(f"http://127.0.0.1:{engine.settings.http_port}{path}")


async def decision(redis_url: str, intent_id: str, timeout: float = 20) -> dict[str, Any]:
    r = aioredis.from_url(redis_url)
    try:
        for _ in range(int(timeout / 0.05)):
            raw = await r.hget(intent_key(intent_id), "decision")
            if raw:
                ttl = await r.ttl(intent_key(intent_id))
                assert 0 < ttl <= 86_400
                return dict(json.loads(raw))
            await asyncio.sleep(0.05)
    finally:
        await r.aclose()
    raise TimeoutError(f"no decision for {intent_id}")


async def test_five_specialists_give_a_five_opinion_decision(
    bootstrap: str,
    redis_url: str,
    specialists: dict[str, Service],
    consume_topic: Callable[..., Any],
) -> None:
    async with running(settings(bootstrap, redis_url, specialists)), producer(bootstrap) as p:
        envs = [envelope(d) for d in ("BUSINESS", "TECHNICAL", "INFRASTRUCTURE", "SECURITY")]
        for env in envs:
            await publish(p, env)
        for env in envs:
            d = await decision(redis_url, env["id"])
            assert d["intent_id"] == env["id"]
            assert d["correlation_id"] == env["correlation_id"]
            assert d["domain"] == env["intent"]["domain"]
            assert d["quorum"] == {"required": 3, "received": 5, "total": 5, "met": True}
            assert sorted(o["specialist_type"] for o in d["opinions"]) == sorted(specialists)
            assert d["missing_specialists"] == []
            assert d["decision"] in ("approve", "reject", "review_required", "conditional")
            assert sum(d["votes"].values()) == 5
            assert all(o["reasoning_factors"] for o in d["opinions"])
            assert d["plan"]["original_domain"] == env["intent"]["domain"]
        published = await consume_topic(
            bootstrap, "plans.consensus", lambda doc: doc["intent_id"] == envs[0]["id"]
        )
        assert (
            published["value"]["decision_id"]
            == (await decision(redis_url, envs[0]["id"]))["decision_id"]
        )
        headers = published["headers"]
        assert headers["intent-id"] == envs[0]["id"].encode()
        assert headers["decision"] == published["value"]["decision"].encode()
        assert headers["quorum-received"] == b"5"
        assert headers["decided-at"] == published["value"]["decided_at"].encode()


async def test_two_specialists_down_still_decides_with_three(
    bootstrap: str,
    redis_url: str,
    specialists: dict[str, Service],
) -> None:
    specialists["behavior"].kill()
    specialists["evolution"].kill()
    async with (
        running(settings(bootstrap, redis_url, specialists)) as engine,
        producer(bootstrap) as p,
    ):
        env = envelope()
        await publish(p, env)
        d = await decision(redis_url, env["id"])
        assert d["quorum"]["received"] == 3
        assert d["quorum"]["met"] is True
        assert {m["specialist_type"] for m in d["missing_specialists"]} == {"behavior", "evolution"}
        assert {m["code"] for m in d["missing_specialists"]} == {"UNAVAILABLE"}
        assert "quorum" not in d["guardrails_triggered"]
        ready = (await get(engine, "/ready")).json()
        assert ready["status"] == "ready"
        assert ready["checks"]["specialists"]["state"] == "degraded"


async def test_three_specialists_down_goes_to_review_with_the_reason(
    bootstrap: str,
    redis_url: str,
    specialists: dict[str, Service],
) -> None:
    for kind in ("business", "technical", "architecture"):
        specialists[kind].kill()
    async with running(settings(bootstrap, redis_url, specialists)), producer(bootstrap) as p:
        env = envelope()
        await publish(p, env)
        d = await decision(redis_url, env["id"])
        assert d["decision"] == "review_required"
        assert d["quorum"] == {"required": 3, "received": 2, "total": 5, "met": False}
        assert "quorum not met: 2 of 5" in d["reasons"][0]


async def test_a_hung_specialist_costs_its_vote_not_the_decision(
    bootstrap: str,
    redis_url: str,
    specialists: dict[str, Service],
) -> None:
    hung = specialists["technical"].proc
    hung.send_signal(signal.SIGSTOP)
    try:
        cfg = settings(bootstrap, redis_url, specialists, evaluation_timeout_ms=300)
        async with running(cfg), producer(bootstrap) as p:
            env = envelope()
            await publish(p, env)
            d = await decision(redis_url, env["id"])
    finally:
        hung.send_signal(signal.SIGCONT)
    assert d["quorum"]["received"] == 4
    assert d["missing_specialists"][0]["specialist_type"] == "technical"
    assert d["missing_specialists"][0]["code"] == "DEADLINE_EXCEEDED"
    assert d["processing_time_ms"] < 2000


async def test_malformed_records_go_to_the_dead_letter_topic_and_consumption_goes_on(
    bootstrap: str,
    redis_url: str,
    specialists: dict[str, Service],
    consume_topic: Callable[..., Any],
) -> None:
    marker = uuid.uuid4().hex
    missing_text = envelope("SECURITY")
    del missing_text["intent"]["text"]
    missing_text["marker"] = marker
    async with running(settings(bootstrap, redis_url, specialists)), producer(bootstrap) as p:
        await publish(p, f"not json {marker}".encode(), "intentions.business")
        await publish(p, missing_text)
        good = envelope("BUSINESS")
        await publish(p, good)
        assert (await decision(redis_url, good["id"]))["quorum"]["received"] == 5
    letter = await consume_topic(
        bootstrap, "dlq.intentions.business", lambda doc: marker in doc["payload"]
    )
    assert letter["value"]["reason"] == "invalid_json"
    assert letter["value"]["source"]["topic"] == "intentions.business"
    assert letter["headers"]["dlq-reason"] == b"invalid_json"
    letter = await consume_topic(
        bootstrap, "dlq.intentions.security", lambda doc: marker in doc["payload"]
    )
    assert letter["value"]["reason"] == "invalid_envelope"
    assert "intent.text" in letter["value"]["error"]


async def test_redis_down_still_publishes_the_decision(
    bootstrap: str,
    specialists: dict[str, Service],
    consume_topic: Callable[..., Any],
) -> None:
    dead_redis = f"redis://127.0.0.1:{free_port()}/0"
    async with (
        running(settings(bootstrap, dead_redis, specialists)) as engine,
        producer(bootstrap) as p,
    ):
        env = envelope()
        await publish(p, env)
        got = await consume_topic(
            bootstrap, "plans.consensus", lambda doc: doc["intent_id"] == env["id"]
        )
        assert got["value"]["quorum"]["received"] == 5
        ready = await get(engine, "/ready")
        assert ready.status_code == 503
        assert ready.json()["checks"]["redis"]["state"] == "down"
        metrics = (await get(engine, "/metrics")).text
        assert "neural_hive_consensus_redis_failures_total 1.0" in metrics


async def test_the_console_script_runs_the_engine(
    bootstrap: str,
    redis_url: str,
    specialists: dict[str, Service],
) -> None:
    http_port = free_port()
    env = {
        **os.environ,
        "NEURAL_HIVE_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "NEURAL_HIVE_KAFKA_IDEMPOTENCE": "false",
        "NEURAL_HIVE_REDIS_URL": redis_url,
        "NEURAL_HIVE_CONSUMER_GROUP": GROUP,
        "NEURAL_HIVE_HOST": "127.0.0.1",
        "NEURAL_HIVE_SPECIALISTS": json.dumps({k: s.address for k, s in specialists.items()}),
    }
    proc = subprocess.Popen(
        [str(BIN / "neural-hive-consensus"), "--http-port", str(http_port)], env=env
    )
    try:
        for _ in range(200):
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"http://127.0.0.1:{http_port}/ready").status_code == 200:
                    break
            await asyncio.sleep(0.1)
        else:
            pytest.fail("neural-hive-consensus never became ready")
        async with producer(bootstrap) as p:
            intent = envelope("INFRASTRUCTURE", "Scale the checkout deployment to 6 replicas")
            await publish(p, intent)
            d = await decision(redis_url, intent["id"])
        assert d["quorum"]["received"] == 5
    finally:
        stop_process(proc)
    assert proc.returncode == 0
    bad = subprocess.run(
        [str(BIN / "neural-hive-consensus"), "--quorum", "6"],
        capture_output=True,
        text=True,
        env=env,
        timeout=30,
    )
    assert bad.returncode == 2
    assert "quorum 6 exceeds the 5 configured specialists" in bad.stderr


async def test_the_engine_waits_for_a_late_broker_instead_of_crashing(
    redis_url: str, specialists: dict[str, Service]
) -> None:
    port = free_port()
    cfg = settings(f"127.0.0.1:{port}", redis_url, specialists)
    engine = ConsensusEngine(cfg)
    stop = asyncio.Event()
    starting = asyncio.create_task(engine.start(stop))
    broker = None
    try:
        await asyncio.sleep(1.5)
        assert not starting.done()
        ready = await get(engine, "/ready")
        assert ready.status_code == 503
        assert (await get(engine, "/health")).status_code == 200
        assert "unreachable" in ready.json()["checks"]["kafka"]["detail"]
        broker = start_tansu(port)
        assert await asyncio.wait_for(starting, 30) is True
        runner = asyncio.create_task(engine.run(stop))
        async with producer(broker.address) as p:
            env = envelope()
            await publish(p, env)
            assert (await decision(redis_url, env["id"]))["quorum"]["received"] == 5
        assert (await get(engine, "/ready")).status_code == 200
        stop.set()
        await runner
    finally:
        stop.set()
        await engine.stop()
        if broker is not None:
            broker.stop()


async def test_intents_sent_after_the_broker_lost_its_logs_are_decided(
    redis_url: str, specialists: dict[str, Service]
) -> None:
    """Tansu without storage restarts with every log begun again at 0, behind the engine's
    position (12 here); the 3 intents sent after it are decided all the same. Idle, the
    engine gets there by rejoining its group (the broker forgot the committed offsets);
    under load a batch committed or rewound across the restart brings the old position
    back, which only the restart watch undoes (tests/integration/test_broker_restart.py)."""
    broker = start_tansu()
    cfg = settings(broker.address, redis_url, specialists, kafka_session_timeout_ms=2000)
    topic = intent_topic("TECHNICAL")

    async def send(envs: list[dict[str, Any]]) -> None:
        for _ in range(40):  # the producer reconnects to a restarted broker on its own
            with contextlib.suppress(KafkaError):
                async with producer(broker.address) as p:
                    for env in envs:
                        body = json.dumps(env).encode()
                        await p.send_and_wait(topic, body, key=env["id"].encode(), partition=0)
                return
            await asyncio.sleep(0.25)
        raise AssertionError("the broker did not come back")

    try:
        async with running(cfg):
            before = [envelope() for _ in range(12)]
            await send(before)
            for env in before:
                await decision(redis_url, env["id"])
            broker.stop()
            broker = start_tansu(broker.port)
            after = [envelope() for _ in range(3)]
            await send(after)
            for env in after:
                assert (await decision(redis_url, env["id"], timeout=30))["intent_id"] == env["id"]
    finally:
        broker.stop()


async def test_a_batch_that_never_finishes_is_rewound_and_decided_again(
    bootstrap: str,
    redis_url: str,
    specialists: dict[str, Service],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A call that never returns must not stall the engine while /ready says ready. The
    hang is made by hand here: the first handling of a batch waits forever, a stand-in for
    an aiokafka commit retried without end, which a real broker cannot be made to do on
    demand. The rest is real."""
    monkeypatch.setattr(engine_module, "BATCH_TIMEOUT_S", 1.0)
    cfg = settings(bootstrap, redis_url, specialists)
    async with running(cfg) as engine:
        real = engine.handle_batch
        hung: list[int] = []

        async def hang_once(records: list[Any]) -> None:
            if not hung:
                hung.append(len(records))
                await asyncio.Event().wait()  # never set
            await real(records)

        monkeypatch.setattr(engine, "handle_batch", hang_once)
        async with producer(bootstrap) as p:
            env = envelope()
            await publish(p, env)
        assert (await decision(redis_url, env["id"], timeout=20))["intent_id"] == env["id"]
        assert len(hung) == 1  # hung once, then rewound and handled again
