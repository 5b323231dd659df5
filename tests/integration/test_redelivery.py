"""An intent the broker acknowledged and then lost still gets its decision.

Real processes throughout: a Tansu broker without storage (the local target's) that is
restarted after it acknowledged an intent, the gateway that published it, Redis, the
consensus engine and the five specialists. The gateway publishes the intent again from
Redis once it has waited `NEURAL_HIVE_REDELIVER_AFTER_S` without a decision; the engine
removes it from the pending set with its decision, and skips a later copy of it.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from gateway_support import Gateway, running_consensus, running_gateway, wait_ready

from neural_hive.common.contracts import INTENT_TOPICS, PENDING_KEY, REDELIVERY_HEADER
from neural_hive.common.kafka import ensure_topics
from neural_hive.devstack import Service, free_port, start_tansu
from neural_hive.gateway.metrics import GatewayMetrics
from neural_hive.gateway.publisher import Publisher
from neural_hive.gateway.redelivery import Redeliverer
from neural_hive.gateway.store import IntentStore

pytestmark = pytest.mark.integration

TEXT = "Precisamos escalar o cluster de Kubernetes de produção antes da Black Friday"


@pytest.fixture
def own_redis_db(redis_url: str) -> Iterator[str]:
    """A database of its own: other tests' pending intents stay out of this gateway's sweep."""
    url = re.sub(r"/\d+$", "", redis_url) + "/7"
    client = redis.Redis.from_url(url)
    client.flushdb()
    yield url
    client.flushdb()
    client.close()


def wait_decided(gw: Gateway, intent_id: str, timeout: float) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    record: dict[str, object] = {}
    while time.monotonic() < deadline:
        record = httpx.get(f"{gw.base}/intentions/{intent_id}", headers=gw.headers()).json()
        if record.get("status") == "decided":
            return record
        time.sleep(0.2)
    raise AssertionError(f"no decision for {intent_id} within {timeout} s: {record}")


def metric(base: str, name: str) -> float:
    text = httpx.get(f"{base}/metrics").text
    found = re.search(rf"^{name} (\S+)$", text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


def test_an_intent_lost_by_a_restarted_broker_is_published_again_and_decided(
    nlu_model_dir: Path,
    own_redis_db: str,
    specialists: dict[str, Service],
) -> None:
    broker = start_tansu()
    bootstrap = broker.address
    pending = redis.Redis.from_url(own_redis_db, decode_responses=True)
    try:
        env = {"NEURAL_HIVE_REDELIVER_AFTER_S": "2", "NEURAL_HIVE_REDELIVER_INTERVAL_S": "0.5"}
        with running_gateway(nlu_model_dir, bootstrap, own_redis_db, **env) as gw:
            wait_ready(gw)
            r = httpx.post(
                f"{gw.base}/intentions", headers=gw.headers(), json={"text": TEXT}, timeout=10
            )
            assert r.status_code == 202, r.text
            intent_id = r.json()["intent_id"]
            assert pending.zscore(PENDING_KEY, intent_id) is not None

            # The broker acknowledged it; now it restarts without storage and forgets it.
            broker.stop()
            broker = start_tansu(broker.port)

            port = free_port()
            engine_base = f"http://127.0.0.1:{port}"
            with running_consensus(
                bootstrap,
                own_redis_db,
                specialists,
                "redelivery",
                NEURAL_HIVE_HTTP_PORT=str(port),
            ):
                record = wait_decided(gw, intent_id, timeout=30)
                decision = record["decision"]
                assert isinstance(decision, dict)
                assert decision["intent_id"] == intent_id
                assert decision["quorum"]["received"] == 5
                # The decision ended the wait: nothing for the gateway to publish again.
                assert pending.zscore(PENDING_KEY, intent_id) is None
                # Published again until decided: at least once (the broker lost it), never
                # past the 3 attempts, and every one counted.
                times = int(pending.hget(f"intent:{intent_id}", "redeliveries") or 0)
                assert 1 <= times <= 3
                assert metric(gw.base, "neural_hive_gateway_redelivered_total") == times

                # A late copy of a decided intent (its first publish was only slow) is skipped.
                asyncio.run(publish_copy(bootstrap, r.json()["topic"], intent_id, pending))
                deadline = time.monotonic() + 15
                while time.monotonic() < deadline and not metric(
                    engine_base, "neural_hive_consensus_repeats_skipped_total"
                ):
                    time.sleep(0.2)
                assert metric(engine_base, "neural_hive_consensus_repeats_skipped_total") == 1.0
    finally:
        pending.close()
        broker.stop()


def test_an_intent_for_validation_lost_by_the_broker_is_published_again_until_read_back(
    nlu_model_dir: Path, own_redis_db: str, specialists: dict[str, Service]
) -> None:
    """No decision follows an intent routed to human validation; the engine reading it
    back is what ends the gateway's wait. Tansu acknowledged such records right after a
    restart and never served them (2 of the 3 lost in one chaos run were not on the log)."""
    broker = start_tansu()
    bootstrap = broker.address
    pending = redis.Redis.from_url(own_redis_db, decode_responses=True)
    try:
        env = {
            "NEURAL_HIVE_VALIDATION_THRESHOLD": "1.0",  # every intent goes to validation
            "NEURAL_HIVE_REDELIVER_AFTER_S": "2",
            "NEURAL_HIVE_REDELIVER_INTERVAL_S": "0.5",
            "NEURAL_HIVE_REDELIVER_MAX_ATTEMPTS": "100",  # only the engine ends its wait
        }
        with running_gateway(nlu_model_dir, bootstrap, own_redis_db, **env) as gw:
            wait_ready(gw)
            r = httpx.post(
                f"{gw.base}/intentions", headers=gw.headers(), json={"text": TEXT}, timeout=10
            )
            assert r.status_code == 202, r.text
            assert r.json()["status"] == "routed_to_validation"
            intent_id = r.json()["intent_id"]
            assert pending.zscore(PENDING_KEY, intent_id) is not None
            broker.stop()  # it forgets the record it acknowledged
            broker = start_tansu(broker.port)
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and not pending.hget(
                f"intent:{intent_id}", "redeliveries"
            ):
                time.sleep(0.2)
            assert pending.hget(f"intent:{intent_id}", "redeliveries") is not None
            with running_consensus(bootstrap, own_redis_db, specialists, "read-back"):
                deadline = time.monotonic() + 30
                while time.monotonic() < deadline and pending.zscore(PENDING_KEY, intent_id):
                    time.sleep(0.2)
                assert pending.zscore(PENDING_KEY, intent_id) is None
                # read back, not decided: the people reviewing it decide
                record = httpx.get(f"{gw.base}/intentions/{intent_id}", headers=gw.headers())
                assert record.json()["status"] == "pending"
    finally:
        pending.close()
        broker.stop()


async def publish_copy(bootstrap: str, topic: str, intent_id: str, store: redis.Redis) -> None:
    envelope = store.hget(f"intent:{intent_id}", "envelope")
    assert isinstance(envelope, str)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(
            topic,
            envelope.encode(),
            key=intent_id.encode(),
            headers=[(REDELIVERY_HEADER, b"2")],
        )
    finally:
        await producer.stop()


async def test_a_sweep_publishes_only_the_undecided_and_gives_up_after_its_attempts(
    own_redis_db: str, bootstrap: str, kafka_topics: None, consume_topic: Callable[..., Any]
) -> None:
    store = IntentStore(own_redis_db, dedup_ttl_s=60, intent_ttl_s=60, nlu_ttl_s=0)
    publisher = Publisher(
        bootstrap, idempotence=False, create_topics=False, partitions=3, max_record_bytes=1 << 20
    )
    metrics = GatewayMetrics()
    sweeper = Redeliverer(
        store, publisher, metrics, after_s=0, interval_s=1, batch=10, max_attempts=2
    )
    topic = "intentions.business"
    ids = {name: f"{name}-{uuid.uuid4()}" for name in ("waiting", "decided", "spent")}
    try:
        for intent_id in ids.values():
            body = json.dumps({"id": intent_id, "correlation_id": f"c-{intent_id}"}).encode()
            await store.record(intent_id, body, None, topic)
        await store.redis.hset(f"intent:{ids['decided']}", "decision", "{}")
        await store.redis.hset(f"intent:{ids['spent']}", "redeliveries", 2)

        assert await sweeper.sweep() == 1
        assert await store.redis.zrange(PENDING_KEY, 0, -1) == [ids["waiting"]]
        assert metrics.redelivered._value.get() == 1
        assert metrics.redelivery_abandoned._value.get() == 1
        record = await consume_topic(bootstrap, topic, lambda d: d.get("id") == ids["waiting"])
        assert record["headers"][REDELIVERY_HEADER] == b"1"
        assert record["headers"]["correlation-id"] == f"c-{ids['waiting']}".encode()
        # Its wait started over: not due again within `after_s` of the new publish.
        sweeper.after_ms = 60_000
        assert await sweeper.sweep() == 0
    finally:
        await publisher.close()
        await store.close()


async def test_an_intent_the_broker_refuses_does_not_hold_up_the_others(
    own_redis_db: str, bootstrap: str, kafka_topics: None, consume_topic: Callable[..., Any]
) -> None:
    """Right after a restart Tansu refuses some produces; the rest of the pass goes out. The
    refusal here is real: the oldest intent names a topic the broker cannot have."""
    store = IntentStore(own_redis_db, dedup_ttl_s=60, intent_ttl_s=60, nlu_ttl_s=0)
    publisher = Publisher(
        bootstrap, idempotence=False, create_topics=False, partitions=3, max_record_bytes=1 << 20
    )
    sweeper = Redeliverer(
        store, publisher, GatewayMetrics(), after_s=0, interval_s=1, batch=10, max_attempts=3
    )
    refused, good = f"refused-{uuid.uuid4()}", f"good-{uuid.uuid4()}"
    try:
        for intent_id, topic in ((refused, "no such topic!"), (good, "intentions.business")):
            body = json.dumps({"id": intent_id, "correlation_id": intent_id}).encode()
            await store.record(intent_id, body, None, topic)
            await asyncio.sleep(0.01)  # the refused one is the oldest: first in the pass
        assert await sweeper.sweep() == 1
        record = await consume_topic(bootstrap, "intentions.business", lambda d: d["id"] == good)
        assert record["headers"][REDELIVERY_HEADER] == b"1"
        # The refused one is still pending, its attempt not counted: the next pass tries it.
        assert await store.redis.zscore(PENDING_KEY, refused) is not None
        assert await store.redis.hget(f"intent:{refused}", "redeliveries") is None
    finally:
        await publisher.close()
        await store.close()


def test_an_engine_whose_committed_offsets_lie_past_the_log_reads_it_from_the_start(
    nlu_model_dir: Path, own_redis_db: str, specialists: dict[str, Service]
) -> None:
    """The state a Tansu restart leaves: partitions that began again at 0 while the group's
    committed offsets point far past their end (seen live: committed ~7,000, end ~1,800).
    Tansu answers such a fetch with nothing, so an engine that trusts its offsets never
    decides again. Redelivery is set far off: only the engine itself can decide here."""
    broker = start_tansu()
    bootstrap = broker.address
    try:
        asyncio.run(commit_past_the_end(bootstrap, "started-over", 5000))
        env = {"NEURAL_HIVE_REDELIVER_AFTER_S": "600"}
        with (
            running_gateway(nlu_model_dir, bootstrap, own_redis_db, **env) as gw,
            running_consensus(bootstrap, own_redis_db, specialists, "started-over"),
        ):
            wait_ready(gw)
            r = httpx.post(
                f"{gw.base}/intentions", headers=gw.headers(), json={"text": TEXT}, timeout=10
            )
            assert r.status_code == 202, r.text
            record = wait_decided(gw, r.json()["intent_id"], timeout=30)
            assert record["decision"]["quorum"]["received"] == 5  # type: ignore[index]
    finally:
        broker.stop()


async def commit_past_the_end(bootstrap: str, group: str, offset: int) -> None:
    await ensure_topics(bootstrap, INTENT_TOPICS, 3)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group)
    await consumer.start()
    try:
        tps = [TopicPartition(t, p) for t in INTENT_TOPICS for p in range(3)]
        consumer.assign(tps)
        await consumer.commit(dict.fromkeys(tps, offset))
        assert (await consumer.committed(tps[0])) == offset
    finally:
        await consumer.stop()
