"""aiokafka helpers shared by the gateway and the consensus engine."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass

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


# On first sight of a partition (nothing known of its log yet), how far behind our position
# its end must be to count as started over. Tansu's end offset can trail the true one by the
# records of its last batch (5,000 records sent in batches: end 4,993), and reading such a
# partition again from 0 repeats all of it.
STARTED_OVER_SLACK = 1000
# How often a consumer looks for partitions that started over, and how long a look waits
# for the first record of each partition.
RESTART_CHECK_S = 5.0
FIRST_RECORD_WAIT_S = 2.0


@dataclass(frozen=True)
class FirstRecord:
    """What tells one log from another: its first record's offset, timestamp and key."""

    offset: int
    timestamp: int
    key: bytes | None


class RestartWatch:
    """Finds the partitions whose log started over behind a consumer's position.

    A broker without storage (Tansu in memory, the local target's) that restarts begins
    every log again at 0, while a consumer's position (and its group's committed offset)
    still points into the old one. Tansu answers a fetch past the end with nothing rather
    than OFFSET_OUT_OF_RANGE, so the consumer waits, and once the new log outgrows that
    position it silently skips the records before it.

    Comparing offsets alone cannot tell a restart while the new log is still short from a
    busy partition whose end offset trails (see STARTED_OVER_SLACK). So the watch remembers
    each partition's first record, read with a consumer of its own, and a partition counts
    as started over when that record changed, or when its log is empty behind our position.
    Only on first sight, before anything is remembered, does it fall back to the slack.
    """

    def __init__(self, bootstrap: str, client_id: str) -> None:
        self._probe = AIOKafkaConsumer(
            bootstrap_servers=bootstrap,
            client_id=f"{client_id}-restart-watch",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            fetch_max_wait_ms=50,
            # Tansu reads up to this much of each partition for a fetch; one batch is enough.
            max_partition_fetch_bytes=256 << 10,
        )
        self._first: dict[TopicPartition, FirstRecord] = {}

    async def start(self) -> None:
        await self._probe.start()

    async def stop(self) -> None:
        await self._probe.stop()

    async def started_over(
        self, consumer: AIOKafkaConsumer, partitions: Iterable[TopicPartition]
    ) -> list[TopicPartition]:
        """The partitions of `consumer` to read again from their beginning."""
        tps = sorted(partitions, key=str)
        if not tps:
            return []
        ends = await consumer.end_offsets(tps)
        firsts = await self._first_records([tp for tp in tps if ends[tp] > 0])
        behind, unread = [], []
        for tp in tps:
            position = await consumer.position(tp)
            if ends[tp] == 0:  # an empty log: a new one if we had read past its start
                self._first.pop(tp, None)
                if position > 0:
                    behind.append(tp)
                continue
            first = firsts.get(tp)
            if first is None:
                unread.append(tp)  # not read in time: the next check
                continue
            known = self._first.get(tp)
            self._first[tp] = first
            if known is None:
                if position > ends[tp] + STARTED_OVER_SLACK:
                    behind.append(tp)
            elif known.offset == first.offset and known != first:
                behind.append(tp)
        if unread:
            log.info(
                "first records not read in time, checked again later",
                extra={"fields": {"partitions": [f"{tp.topic}-{tp.partition}" for tp in unread]}},
            )
        return behind

    async def learn(
        self, consumer: AIOKafkaConsumer, partitions: Iterable[TopicPartition]
    ) -> list[TopicPartition]:
        """Remember now the first record of each partition that has records and is not
        known yet (so a restart soon after is not met at first sight); returns those not
        read in time."""
        tps = sorted(partitions, key=str)
        ends = await consumer.end_offsets(tps)
        todo = [tp for tp in tps if ends[tp] > 0 and tp not in self._first]
        firsts = await self._first_records(todo)
        self._first.update(firsts)
        return [tp for tp in todo if tp not in firsts]

    async def _first_records(self, tps: list[TopicPartition]) -> dict[TopicPartition, FirstRecord]:
        if not tps:
            return {}
        probe = self._probe
        probe.assign(tps)
        try:
            await probe.seek_to_beginning(*tps)
            found: dict[TopicPartition, FirstRecord] = {}
            loop = asyncio.get_running_loop()
            deadline = loop.time() + FIRST_RECORD_WAIT_S
            while len(found) < len(tps) and (left := deadline - loop.time()) > 0:
                fetched = await probe.getmany(*tps, timeout_ms=max(1, int(left * 1000)))
                for tp, records in fetched.items():
                    if records and tp not in found:
                        r = records[0]
                        found[tp] = FirstRecord(r.offset, r.timestamp, r.key)
                        probe.pause(tp)  # one record is all we need of it
            return found
        finally:
            probe.unsubscribe()
