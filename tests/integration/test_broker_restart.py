"""A Kafka-protocol broker without storage (Tansu in memory, the local target's) that
restarts comes back with no topics: the gateway's publisher creates them again, with its
own partition count, and publishes again. Real Tansu, stopped and started on one port."""

from __future__ import annotations

import pytest
from aiokafka.admin import AIOKafkaAdminClient

from neural_hive.common.contracts import INTENT_TOPICS, VALIDATION_TOPIC
from neural_hive.devstack import start_tansu
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
