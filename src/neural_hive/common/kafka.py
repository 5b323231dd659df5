"""aiokafka helpers shared by the gateway and the consensus engine."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaTimeoutError, TopicAlreadyExistsError

log = logging.getLogger(__name__)


def make_producer(bootstrap: str, *, idempotence: bool, client_id: str) -> AIOKafkaProducer:
    """acks=all always; idempotence on for real Kafka, off for brokers without it (Tansu).

    Metadata is refreshed every 5 s, not Kafka's 5 minutes: a broker without storage that
    restarts may first auto-create a topic with its own partition count (Tansu: 4) and then
    have it created again with ours (3). A producer that kept the first count sent every
    fourth key to a partition no consumer reads any more, for minutes, redeliveries
    included (616 of 2,500 intents in one chaos run)."""
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        client_id=client_id,
        acks="all",
        enable_idempotence=idempotence,
        linger_ms=0,
        request_timeout_ms=5000,
        metadata_max_age_ms=5000,
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


# A broker without storage (Tansu in memory, the local target's) loses every log at once
# when it restarts. Consumers tell that by the first record of this one small topic, which
# a watcher writes whenever it finds the topic empty: reading the first record of every
# partition instead makes Tansu list each whole log (15 partitions of a loaded stack: 0.3 to
# 0.7 s), and its produce stalls meanwhile (P99 0.9 -> 52 ms at 500 records/s).
EPOCH_TOPIC = "neural-hive.broker-epoch"
# On a new assignment, how far behind our position a partition's end must be to count as
# begun again in a restart the consumer did not see. Tansu's end offset can trail the true
# one by the records of its last batch (5,000 records sent in batches: end 4,993), and
# reading such a partition again from 0 repeats all of it.
STARTED_OVER_SLACK = 1000
# How often a consumer checks for a restart, and how long a check waits for the record.
RESTART_CHECK_S = 5.0
FIRST_RECORD_WAIT_S = 2.0
# A first fetch that finds nothing in this time takes the topic to be empty. If it was not
# (a slow broker), the marker written is a second record: harmless, the first one stays.
EMPTY_WAIT_S = 0.3


@dataclass(frozen=True)
class FirstRecord:
    """What tells one log from another: its first record."""

    offset: int
    timestamp: int
    key: bytes | None
    value: bytes | None


class RestartWatch:
    """Tells a consumer when the broker restarted without its logs.

    A broker without storage (Tansu in memory) that restarts begins every log again at 0,
    while a consumer's position (and its group's committed offset) still points into the
    old one. Tansu answers a fetch past the end with nothing rather than
    OFFSET_OUT_OF_RANGE, so the consumer waits, and once the new log outgrows that position
    it silently skips the records before it. Offsets alone cannot tell a restart while the
    new log is still short from a busy partition whose end offset trails.

    So the watch remembers the first record of partition 0 of EPOCH_TOPIC (writing one when
    the topic is empty, as after a restart): a different first record at the same offset
    means the broker lost its logs, and the consumer must read all of its partitions again
    from 0. A first record at a later offset is retention at work on a broker with storage,
    not a restart.
    """

    def __init__(self, bootstrap: str, client_id: str) -> None:
        self._client_id = client_id
        self._tp = TopicPartition(EPOCH_TOPIC, 0)
        self._probe = AIOKafkaConsumer(
            bootstrap_servers=bootstrap,
            client_id=f"{client_id}-restart-watch",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            fetch_max_wait_ms=50,
        )
        self._producer = make_producer(
            bootstrap, idempotence=False, client_id=f"{client_id}-restart-watch"
        )
        self._epoch: FirstRecord | None = None

    async def start(self) -> None:
        await self._producer.start()
        try:
            await self._probe.start()
        except BaseException:
            await self._producer.stop()
            raise
        self._probe.assign([self._tp])

    async def stop(self) -> None:
        await self._probe.stop()
        await self._producer.stop()

    async def restarted(self) -> bool:
        """Whether the broker lost its logs since the last call; the first call only learns
        the epoch. Raises KafkaError when the broker does not answer (nothing is learned)."""
        first = await self._first_record(EMPTY_WAIT_S)
        if first is None:  # empty: a new broker, or one that restarted
            await self._producer.send_and_wait(
                EPOCH_TOPIC,
                uuid.uuid4().hex.encode(),
                key=self._client_id.encode(),
                partition=self._tp.partition,
            )
            first = await self._first_record(FIRST_RECORD_WAIT_S)
            if first is None:
                raise KafkaTimeoutError(f"{EPOCH_TOPIC} not read back in time")
        known, self._epoch = self._epoch, first
        return known is not None and known.offset == first.offset and known != first

    async def _first_record(self, wait_s: float) -> FirstRecord | None:
        probe, tp = self._probe, self._tp
        await probe.seek_to_beginning(tp)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_s
        while (left := deadline - loop.time()) > 0:
            records = (await probe.getmany(tp, timeout_ms=max(1, int(left * 1000)))).get(tp)
            if records:
                r = records[0]
                return FirstRecord(r.offset, r.timestamp, r.key, r.value)
        return None
