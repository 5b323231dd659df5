"""The phase-3 path end to end, every part real: gateway -> Kafka -> consensus engine ->
five specialists over gRPC -> decision in Redis -> GET /intentions/{id}."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from gateway_support import Gateway, running_gateway, wait_ready

from neural_hive.devstack import BIN, Service, free_port, stop_process

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("kafka_topics")]

INTENTS = {
    "pt": "Precisamos escalar o cluster de Kubernetes de produção antes da Black Friday",
    "en": "Please build a dashboard with monthly revenue and churn per customer segment",
    "es": "Hay que revocar el acceso de los ex empleados al repositorio y activar MFA",
}


@pytest.fixture
def engine(
    bootstrap: str, redis_url: str, specialists: dict[str, Service]
) -> Iterator[subprocess.Popen[bytes]]:
    port = free_port()
    env = {
        **os.environ,
        "NEURAL_HIVE_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "NEURAL_HIVE_KAFKA_IDEMPOTENCE": "false",
        "NEURAL_HIVE_REDIS_URL": redis_url,
        "NEURAL_HIVE_HOST": "127.0.0.1",
        "NEURAL_HIVE_HTTP_PORT": str(port),
        "NEURAL_HIVE_CONSUMER_GROUP": "e2e",
        "NEURAL_HIVE_LOG_LEVEL": "warning",
        "NEURAL_HIVE_SPECIALISTS": json.dumps({k: s.address for k, s in specialists.items()}),
    }
    proc = subprocess.Popen([str(BIN / "neural-hive-consensus")], env=env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/ready").status_code == 200:
                break
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    else:
        stop_process(proc)
        pytest.fail("consensus engine never became ready")
    yield proc
    stop_process(proc)


@pytest.fixture
def gateway(nlu_model_dir: Path, bootstrap: str, redis_url: str) -> Iterator[Gateway]:
    with running_gateway(nlu_model_dir, bootstrap, redis_url) as gw:
        wait_ready(gw)
        yield gw


def test_an_intent_in_each_language_gets_a_five_opinion_decision(
    gateway: Gateway, engine: subprocess.Popen[bytes]
) -> None:
    accepted = {}
    for lang, text in INTENTS.items():
        r = httpx.post(
            f"{gateway.base}/intentions", headers=gateway.headers(), json={"text": text}, timeout=10
        )
        assert r.status_code == 202, r.text
        assert r.json()["language"] == lang
        accepted[lang] = r.json()
    for lang, resp in accepted.items():
        deadline = time.monotonic() + 30
        while True:
            record = httpx.get(
                f"{gateway.base}/intentions/{resp['intent_id']}", headers=gateway.headers()
            ).json()
            if record["status"] == "decided" or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert record["status"] == "decided", f"{lang}: no decision"
        d = record["decision"]
        assert d["intent_id"] == resp["intent_id"]
        assert d["domain"] == resp["domain"]
        assert d["quorum"]["received"] == 5
        assert len(d["opinions"]) == 5
        assert d["decision"] in ("approve", "reject", "review_required", "conditional")
        assert record["envelope"]["intent"]["language"] == lang
