"""Publish intent envelopes to Kafka; a success means the broker acknowledged the record."""

from __future__ import annotations

import asyncio
import logging

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from neural_hive.common.contracts import INTENT_TOPICS, VALIDATION_TOPIC, dlq_topic
from neural_hive.common.kafka import ensure_topics, make_producer

log = logging.getLogger(__name__)


class BrokerUnavailable(RuntimeError):
    """The broker did not acknowledge: the caller must not claim success."""


class Publisher:
    def __init__(
        self,
        bootstrap: str,
        *,
        idempotence: bool,
        create_topics: bool,
        partitions: int,
        max_record_bytes: int,
    ) -> None:
        self.bootstrap = bootstrap
        self.idempotence = idempotence
        self.create_topics = create_topics
        self.partitions = partitions
        self.max_record_bytes = max_record_bytes
        self._producer: AIOKafkaProducer | None = None
        self._topics_ok = False
        self._topics_lock = asyncio.Lock()
        self.last_error: str | None = "not connected yet"

    @property
    def connected(self) -> bool:
        return self._producer is not None

    async def connect(self) -> bool:
        """One attempt to reach the broker; False (with last_error) when it does not answer."""
        if self._producer is not None:
            return True
        producer = make_producer(
            self.bootstrap, idempotence=self.idempotence, client_id="gateway-intencoes"
        )
        try:
            await self._ensure_topics()
            await producer.start()
        except KafkaError as exc:
            await producer.stop()
            self.last_error = f"unreachable: {exc}"
            return False
        self._producer, self.last_error = producer, None
        return True

    async def _ensure_topics(self) -> None:
        """Create the topics (ours, with our partition count) unless done since the last
        failure: a broker that comes back without its storage (Tansu in memory) has none,
        and the topics its auto-creation makes fail for some records."""
        if self._topics_ok or not self.create_topics:
            return
        async with self._topics_lock:  # one admin client for all the waiting requests
            if not self._topics_ok:
                topics = [*INTENT_TOPICS, VALIDATION_TOPIC, *map(dlq_topic, INTENT_TOPICS)]
                await ensure_topics(self.bootstrap, topics, self.partitions)
                self._topics_ok = True

    async def publish(
        self, topic: str, value: bytes, key: bytes, headers: list[tuple[str, bytes]]
    ) -> None:
        if self._producer is None and not await self.connect():
            raise BrokerUnavailable(self.last_error or "broker unavailable")
        assert self._producer is not None
        try:
            await self._ensure_topics()
            await self._producer.send_and_wait(topic, value, key=key, headers=headers)
        except KafkaError as exc:
            self._topics_ok = False
            self.last_error = f"publish failed: {exc}"
            log.warning("publish failed", extra={"fields": {"topic": topic, "error": str(exc)}})
            raise BrokerUnavailable(self.last_error) from exc
        self.last_error = None

    async def close(self) -> None:
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None
