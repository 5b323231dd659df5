"""A Kafka-protocol broker without storage (Tansu in memory, the local target's) that
restarts comes back with no topics and every log begun again at 0. The gateway's publisher
creates the topics again, with its own partition count, and publishes again; a consumer's
RestartWatch tells that the broker lost its logs. Real Tansu, stopped and started on one
port."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from neural_hive.common.contracts import INTENT_TOPICS, VALIDATION_TOPIC
from neural_hive.common.kafka import RestartWatch, ensure_topics
from neural_hive.devstack import Service, start_tansu
from neural_hive.gateway.publisher import BrokerUnavailable, Publisher

pytestmark = pytest.mark.integration


async def partitions(bootstrap: str) -> dict[str, int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        described = await admin.describe_topics([*INTENT_TOPICS, VALIDATION_TOPIC])
    finally:
        await admin.close()
    return {t["topic"]: len(t["partitions"]) for t in described if not t["error_code"]}


async def test_the_publisher_recreates_the_topics_of_a_broker_that_restarted_empty() -> None:
    broker = start_tansu()
    bootstrap = f"127.0.0.1:{broker.port}"
    pub = Publisher(
        bootstrap, idempotence=False, create_topics=True, partitions=3, max_record_bytes=1 << 20
    )
    try:
        assert await pub.connect()
        await pub.publish(VALIDATION_TOPIC, b"{}", b"k", [])
        broker.stop()
        with pytest.raises(BrokerUnavailable):
            await pub.publish(VALIDATION_TOPIC, b"{}", b"k", [])
        broker = start_tansu(broker.port)
        published = False
        for _ in range(20):  # the producer reconnects on its own; a few tries at most
            try:
                await pub.publish(VALIDATION_TOPIC, b"{}", b"k", [])
                published = True
                break
            except BrokerUnavailable:
                continue
        assert published, pub.last_error
        assert await partitions(bootstrap) == dict.fromkeys([*INTENT_TOPICS, VALIDATION_TOPIC], 3)
    finally:
        await pub.close()
        broker.stop()


TOPIC = "restart-watch"


async def produce(bootstrap: str, count: int, tag: str) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for i in range(count):
            await producer.send_and_wait(TOPIC, b"{}", key=f"{tag}-{i}".encode(), partition=0)
    finally:
        await producer.stop()


async def test_a_broker_that_restarted_without_its_logs_is_told_by_its_epoch() -> None:
    """Two watchers (the engine's and the tap's, say) on one broker: the first check learns
    the epoch (writing it on a new broker), logs that only grow are no restart, and after
    each restart both tell it, whichever of them wrote the new epoch. The consumer then
    reads the new log from 0: 2 records behind its position of 8, which it would otherwise
    never read."""
    broker = start_tansu()
    bootstrap = broker.address
    tp = TopicPartition(TOPIC, 0)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    engine, tap = RestartWatch(bootstrap, "engine"), RestartWatch(bootstrap, "tap")
    try:
        await ensure_topics(bootstrap, [TOPIC], 1)
        await produce(bootstrap, 5, "old")
        await consumer.start()
        await engine.start()
        await tap.start()
        consumer.assign([tp])
        await consumer.seek_to_beginning(tp)
        await read(consumer, tp, 5)
        assert not await engine.restarted()  # learns the epoch, writing it
        assert not await tap.restarted()  # learns the same one
        await produce(bootstrap, 3, "more")  # the same logs growing
        await read(consumer, tp, 3)
        assert not await engine.restarted()
        assert not await tap.restarted()

        broker = await restarted(broker)
        await produce(bootstrap, 2, "new")
        assert await consumer.position(tp) == 8
        assert await checked(engine)  # finds the epoch topic empty and writes the new epoch
        assert await checked(tap)  # reads the one the engine wrote
        consumer.seek(tp, 0)  # as the engine and the tap do
        assert [r.key for r in await read(consumer, tp, 2)] == [b"new-0", b"new-1"]
        assert not await engine.restarted()
        assert not await tap.restarted()

        broker = await restarted(broker)  # nothing written since: the tap writes it this time
        assert await checked(tap)
        assert await checked(engine)
        assert not await engine.restarted()
    finally:
        await tap.stop()
        await engine.stop()
        await consumer.stop()
        broker.stop()


async def checked(watch: RestartWatch) -> bool:
    """A check, once the watch's clients have reconnected to the restarted broker."""
    for _ in range(20):
        try:
            return await watch.restarted()
        except KafkaError:
            await asyncio.sleep(0.25)
    return await watch.restarted()


async def restarted(broker: Service) -> Service:
    broker.stop()
    broker = start_tansu(broker.port)
    await ensure_topics(broker.address, [TOPIC], 1)
    return broker


async def read(consumer: AIOKafkaConsumer, tp: TopicPartition, count: int) -> list[Any]:
    records: list[Any] = []
    while len(records) < count:
        records += (await consumer.getmany(tp, timeout_ms=2000)).get(tp, [])
    return records
