"""A Kafka-protocol broker without storage (Tansu in memory, the local target's) that
restarts comes back with no topics and every log begun again at 0. The gateway's publisher
creates the topics again, with its own partition count, and publishes again; a consumer's
RestartWatch finds the partitions whose log started over behind its position. Real Tansu,
stopped and started on one port."""

from __future__ import annotations

from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from neural_hive.common.contracts import INTENT_TOPICS, VALIDATION_TOPIC
from neural_hive.common.kafka import STARTED_OVER_SLACK, RestartWatch, ensure_topics
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


async def test_a_log_that_started_over_is_found_even_while_shorter_than_the_slack() -> None:
    """The case the offsets alone cannot tell: the restarted log is only a few records
    behind our position (seen live a few minutes after a first restart, when positions were
    a few hundred), so the consumer would skip the new log's first records. The watch
    knows it by its first record."""
    broker = start_tansu()
    bootstrap = broker.address
    tp = TopicPartition(TOPIC, 0)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    watch = RestartWatch(bootstrap, "test")
    try:
        await ensure_topics(bootstrap, [TOPIC], 1)
        await produce(bootstrap, 5, "old")
        await consumer.start()
        await watch.start()
        consumer.assign([tp])
        await consumer.seek_to_beginning(tp)
        await read(consumer, tp, 5)
        assert await watch.started_over(consumer, [tp]) == []  # and now it knows the log
        learned = RestartWatch(bootstrap, "test-learned")  # told the log up front instead
        await learned.start()
        assert await learned.learn(consumer, [tp]) == []
        await produce(bootstrap, 3, "more")  # the same log growing: nothing to read again
        assert await watch.started_over(consumer, [tp]) == []

        broker = await restarted(broker)
        await produce(bootstrap, 2, "new")
        # 2 records, our position 5: well inside the slack, found by the first record.
        assert await consumer.position(tp) == 5 < 2 + STARTED_OVER_SLACK
        assert await watch.started_over(consumer, [tp]) == [tp]
        assert await learned.started_over(consumer, [tp]) == [tp]
        await learned.stop()
        consumer.seek(tp, 0)  # as the engine and the tap do
        assert [r.key for r in await read(consumer, tp, 2)] == [b"new-0", b"new-1"]
        assert await watch.started_over(consumer, [tp]) == []

        broker = await restarted(broker)
        await produce(bootstrap, 4, "newer")  # a new log already past our position of 2
        assert await watch.started_over(consumer, [tp]) == [tp]

        broker = await restarted(broker)  # and one still empty behind us
        assert await watch.started_over(consumer, [tp]) == [tp]
    finally:
        await watch.stop()
        await consumer.stop()
        broker.stop()


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
