"""The phase-3 path end to end, every part real: gateway -> Kafka -> consensus engine ->
five specialists over gRPC -> decision in Redis -> GET /intentions/{id}."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from gateway_support import Gateway, running_consensus, running_gateway, wait_ready

from neural_hive.devstack import Service

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
    with running_consensus(bootstrap, redis_url, specialists, "e2e") as proc:
        yield proc


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
