"""The engine sends again only the decisions the broker refused.

A broker that refuses one produce now and then cannot be had on demand: Tansu does it
only under sustained load (UnknownError on some produce requests). The producer here is
therefore a stand-in, and the only one in the tests: it acknowledges every record except
the ones it is told to refuse, each a given number of times.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import pytest
from aiokafka.errors import KafkaError, UnknownError

from neural_hive.consensus.engine import PUBLISH_ATTEMPTS, ConsensusEngine
from neural_hive.consensus.settings import ConsensusSettings


class RefusingProducer:
    def __init__(self, refusals: dict[bytes, int]) -> None:
        self.refusals = refusals
        self.sent: Counter[bytes] = Counter()

    async def send(self, topic: str, value: bytes, key: bytes, headers: Any) -> asyncio.Future[Any]:
        self.sent[key] += 1
        ack: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        if self.refusals.get(key, 0) >= self.sent[key]:
            ack.set_exception(UnknownError())
        else:
            ack.set_result(None)
        return ack


def engine_with(producer: RefusingProducer) -> ConsensusEngine:
    engine = ConsensusEngine(ConsensusSettings(specialists={"business": "127.0.0.1:9"}, quorum=1))
    engine.producer = producer  # type: ignore[assignment]
    return engine


RECORDS = [(f"intent-{i}".encode(), b"{}", []) for i in range(5)]


async def test_only_the_refused_decision_is_sent_again() -> None:
    producer = RefusingProducer({b"intent-2": 2})
    engine = engine_with(producer)
    await engine._publish_decisions(list(RECORDS))  # type: ignore[arg-type]
    assert producer.sent == dict.fromkeys((k for k, _, _ in RECORDS), 1) | {b"intent-2": 3}
    assert engine.metrics.publish_retries._value.get() == 2
    await engine.pool.close()


async def test_a_decision_never_acknowledged_fails_the_batch() -> None:
    producer = RefusingProducer({b"intent-4": PUBLISH_ATTEMPTS})
    engine = engine_with(producer)
    with pytest.raises(KafkaError):
        await engine._publish_decisions(list(RECORDS))  # type: ignore[arg-type]
    assert producer.sent[b"intent-4"] == PUBLISH_ATTEMPTS
    assert producer.sent[b"intent-0"] == 1
    await engine.pool.close()
