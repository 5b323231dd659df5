"""Real backing services for the tests: redis-server, the Tansu Kafka broker, specialists.

Nothing here is mocked: each fixture starts the real program on a free loopback port
(neural_hive.devstack) and waits until it answers.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from neural_hive.devstack import (
    Service,
    spawn_specialist,
    start_redis,
    start_specialists,
    start_tansu,
    wait_specialist,
)


@pytest.fixture(scope="session")
def redis_server() -> Iterator[Service]:
    try:
        service = start_redis()
    except FileNotFoundError as exc:
        pytest.fail(f"{exc} (scripts/test.sh installs it)")
    yield service
    service.stop()


@pytest.fixture(scope="session")
def redis_url(redis_server: Service) -> str:
    return str(redis_server.extra["url"])


@pytest.fixture(scope="session")
def kafka_broker() -> Iterator[Service]:
    service = start_tansu()
    yield service
    service.stop()


@pytest.fixture(scope="session")
def bootstrap(kafka_broker: Service) -> str:
    return kafka_broker.address


@pytest.fixture
def specialists() -> Iterator[dict[str, Service]]:
    """All five specialists as real processes (function scope: tests kill some)."""
    started = start_specialists()
    yield started
    for s in started.values():
        s.stop()


@pytest.fixture(scope="session")
def specialist_business() -> Iterator[Service]:
    """One long-lived specialist for the gRPC contract tests."""
    s = wait_specialist(spawn_specialist("business"))
    yield s
    s.stop()


async def consume(
    bootstrap: str, topic: str, predicate: Callable[[dict[str, Any]], bool], timeout: float = 15.0
) -> dict[str, Any]:
    """First JSON record on `topic` (read from the beginning) that satisfies `predicate`."""
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=None,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=50,
    )
    await consumer.start()
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=200)
            for recs in batch.values():
                for r in recs:
                    try:
                        doc = json.loads(r.value)
                    except ValueError:
                        continue  # another test's deliberately malformed record
                    if isinstance(doc, dict) and predicate(doc):
                        return {"value": doc, "headers": dict(r.headers)}
        raise TimeoutError(f"no matching record on {topic} within {timeout}s")
    finally:
        await consumer.stop()


@pytest.fixture
def consume_topic() -> Callable[..., Any]:
    return consume


@pytest.fixture(scope="session")
async def kafka_topics(bootstrap: str) -> None:
    from neural_hive.common.contracts import DECISION_TOPIC, INTENT_TOPICS, dlq_topic
    from neural_hive.common.kafka import ensure_topics

    await ensure_topics(
        bootstrap, [*INTENT_TOPICS, *map(dlq_topic, INTENT_TOPICS), DECISION_TOPIC], partitions=3
    )


# --- NLU: one full training per test session, shared by the NLU and gateway tests ----

from pathlib import Path  # noqa: E402


@pytest.fixture(scope="session")
def nlu_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The full NLU model (all languages, calibrated).

    ``models/nlu`` when it was trained from the current data set (its metadata records
    the data's fingerprint), which saves a training run of minutes; else one trained once
    per session into a tmp dir (always so on a fresh clone, where ``models/`` is empty).
    """
    from neural_hive.nlu.data import training_examples
    from neural_hive.nlu.pipeline import FORMAT_VERSION, META_FILE, data_fingerprint, train

    data = Path(__file__).resolve().parents[1] / "data" / "nlu"
    built = data.parents[1] / "models" / "nlu"
    if (built / META_FILE).is_file():
        meta = json.loads((built / META_FILE).read_text())
        current = data_fingerprint(training_examples(data))
        if meta.get("format") == FORMAT_VERSION and meta.get("data_sha256") == current:
            return built
    out = tmp_path_factory.mktemp("nlu-model")
    train(data, out)
    return out


@pytest.fixture(scope="session")
def nlu_classifier(nlu_model_dir: Path) -> Any:
    """``IntentClassifier`` loaded from ``nlu_model_dir``."""
    from neural_hive.nlu.classifier import IntentClassifier

    return IntentClassifier.load(nlu_model_dir)
