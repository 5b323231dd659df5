"""Publish again the acknowledged intents that were not confirmed in time.

A 2xx from the gateway means the broker acknowledged the intent. A broker that keeps its
log only in memory (Tansu, the local target's) forgets what it acknowledged when it
restarts, and so would a Kafka cluster that lost an unreplicated partition. The gateway
keeps every acknowledged intent in Redis (`PENDING_KEY`) until the consensus engine records
its decision (or, for one routed to human validation, reads it back); a background task
here publishes again, with a `redelivery` header, each one still waiting after
`redeliver_after_s`, at most `redeliver_max_attempts` times. The engine skips a redelivered
intent that it has decided meanwhile, and a decision keeps its id (derived from the
intent's), so a consumer sees at most a repeat, never a different decision.

One replica redelivers per period (a Redis key with a TTL is the turn), so several
gateways do not publish the same intent several times.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket

from neural_hive.common.contracts import REDELIVERY_HEADER
from neural_hive.gateway.metrics import GatewayMetrics
from neural_hive.gateway.publisher import BrokerUnavailable, Publisher
from neural_hive.gateway.store import IntentStore, Pending, RedisDown, now_ms

log = logging.getLogger(__name__)


class Redeliverer:
    def __init__(
        self,
        store: IntentStore,
        publisher: Publisher,
        metrics: GatewayMetrics,
        *,
        after_s: float,
        interval_s: float,
        batch: int,
        max_attempts: int,
    ) -> None:
        self.store, self.publisher, self.metrics = store, publisher, metrics
        self.after_ms = int(after_s * 1000)
        self.interval_s = interval_s
        self.batch = batch
        self.max_attempts = max_attempts
        self.holder = f"{socket.gethostname()}:{os.getpid()}"

    async def sweep(self) -> int:
        """One pass: publish again what waited too long; the number published.

        The intents are published together, and one the broker refuses does not hold up the
        others (right after a restart Tansu refuses a produce now and then): it stays pending
        for the next pass. Raises RedisDown when Redis does not answer.
        """
        overdue = await self.store.overdue(now_ms() - self.after_ms, self.batch)
        spent = [p.intent_id for p in overdue if p.redeliveries >= self.max_attempts]
        if spent:
            await self.store.abandon(*spent)
            self.metrics.redelivery_abandoned.inc(len(spent))
            log.error(
                "intents still undecided after every redelivery, no longer retried",
                extra={"fields": {"intents": spent[:20], "count": len(spent)}},
            )
        due = [p for p in overdue if p.redeliveries < self.max_attempts]
        outcomes = await asyncio.gather(*map(self._publish_again, due), return_exceptions=True)
        published = sum(o is None for o in outcomes)
        refused = sum(isinstance(o, BrokerUnavailable) for o in outcomes)
        if published:
            self.metrics.redelivered.inc(published)
            log.warning(
                "intents without a decision published again",
                extra={"fields": {"count": published, "after_s": self.after_ms / 1000}},
            )
        if refused:
            log.warning(
                "the broker refused some intents published again; they stay pending",
                extra={"fields": {"count": refused, "error": self.publisher.last_error}},
            )
        for outcome in outcomes:
            if isinstance(outcome, BaseException) and not isinstance(outcome, BrokerUnavailable):
                raise outcome
        return published

    async def _publish_again(self, p: Pending) -> None:
        key = p.intent_id.encode()
        correlation_id = str(json.loads(p.envelope).get("correlation_id", p.intent_id))
        headers = [
            ("intent-id", key),
            ("correlation-id", correlation_id.encode()),
            ("idempotency-key", correlation_id.encode()),
            (REDELIVERY_HEADER, str(p.redeliveries + 1).encode()),
        ]
        await self.publisher.publish(p.topic, p.envelope, key, headers)
        await self.store.redelivered(p.intent_id)

    async def run(self) -> None:
        """Sweep every `interval_s` while this replica holds the turn, until cancelled."""
        while True:
            await asyncio.sleep(self.interval_s)
            try:
                turn_ms = max(1, int(self.interval_s * 1000) - 100)
                if await self.store.take_redelivery_turn(self.holder, turn_ms):
                    await self.sweep()
            except RedisDown as exc:
                # Nothing is lost: the intents stay pending for the next pass.
                log.warning("redelivery pass skipped", extra={"fields": {"error": str(exc)}})
