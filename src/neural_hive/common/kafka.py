"""aiokafka helpers shared by the gateway and the consensus engine."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

log = logging.getLogger(__name__)


def make_producer(bootstrap: str, *, idempotence: bool, client_id: str) -> AIOKafkaProducer:
    """acks=all always; idempotence on for real Kafka, off for brokers without it (Tansu)."""
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        client_id=client_id,
        acks="all",
        enable_idempotence=idempotence,
        linger_ms=0,
        request_timeout_ms=5000,
    )


async def ensure_topics(bootstrap: str, topics: Iterable[str], partitions: int) -> None:
    """Create missing topics (a cluster with auto-creation off needs them up front)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="neural-hive-admin")
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [NewTopic(t, partitions, 1) for t in topics if t not in existing]
        if missing:
            # Another replica may create them at the same moment.
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(missing)
            log.info("created topics", extra={"fields": {"topics": [t.name for t in missing]}})
    finally:
        await admin.close()


# How far behind our position a partition's end must be to count as started over. Tansu's
# end offset can trail the true one by the records of its last batch (5,000 records sent
# in batches: end 4,993), and reading such a partition again from 0 repeats all of it.
STARTED_OVER_SLACK = 1000


async def started_over(
    consumer: AIOKafkaConsumer, partitions: Iterable[TopicPartition]
) -> list[TopicPartition]:
    """Partitions whose log now ends well before our position: a broker without storage
    (Tansu in memory) restarted and its log began again at 0. Tansu answers a fetch past
    the end with nothing rather than OFFSET_OUT_OF_RANGE, so without this a consumer waits
    until the new log grows past where the old one was. (A restart caught while the new
    log is within the slack of our position is not seen: what the engine skips then, the
    gateway publishes again after NEURAL_HIVE_REDELIVER_AFTER_S.)"""
    tps = sorted(partitions, key=str)
    if not tps:
        return []
    ends = await consumer.end_offsets(tps)
    return [tp for tp in tps if await consumer.position(tp) > ends[tp] + STARTED_OVER_SLACK]
