"""The gateway as users meet it: a real process, real HTTP, real Redis and the Tansu broker."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from gateway_support import SECRET, Gateway, running_gateway, token, wait_ready

from neural_hive.devstack import free_port

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("kafka_topics")]

SAMPLES = {
    "pt": ("Preciso do relatório de vendas do último trimestre por região até sexta", "BUSINESS"),
    "en": ("The checkout page throws a null pointer exception when the cart is empty", "TECHNICAL"),
    "es": (
        "Necesitamos rotar las claves de acceso de la base de datos que se filtraron",
        "SECURITY",
    ),
}


def post(gw: Gateway, body: Any, **kw: Any) -> httpx.Response:
    headers = kw.pop("headers", gw.headers())
    return httpx.post(f"{gw.base}/intentions", json=body, headers=headers, timeout=10, **kw)


@pytest.mark.parametrize("lang", ["pt", "en", "es"])
async def test_a_text_intent_is_classified_published_and_readable(
    gateway: Gateway, lang: str, bootstrap: str, consume_topic: Callable[..., Any]
) -> None:
    text, domain = SAMPLES[lang]
    r = post(gateway, {"text": text, "constraints": {"priority": "high"}})
    assert r.status_code == 202, r.text
    body = r.json()
    assert body["status"] == "processed"
    assert body["language"] == lang
    assert body["domain"] == domain
    assert 0 < body["confidence"] <= 1
    assert body["topic"] == f"intentions.{domain.lower()}"
    record = await consume_topic(
        bootstrap, body["topic"], lambda doc: doc["id"] == body["intent_id"]
    )
    env = record["value"]
    assert env["schema_version"] == 1
    assert env["correlation_id"] == body["correlation_id"]
    assert env["actor"]["id"] == "tester"
    assert env["intent"]["domain"] == domain
    assert env["intent"]["language"] == lang
    assert env["intent"]["keywords"]
    assert env["constraints"]["priority"] == "high"
    assert record["headers"]["intent-id"] == body["intent_id"].encode()
    assert record["headers"]["idempotency-key"] == body["correlation_id"].encode()
    stored = httpx.get(
        f"{gateway.base}/intentions/{body['intent_id']}", headers=gateway.headers()
    ).json()
    assert stored["envelope"]["id"] == body["intent_id"]


async def test_a_repeat_of_a_correlation_id_is_a_duplicate_and_is_not_published_twice(
    gateway: Gateway, bootstrap: str, consume_topic: Callable[..., Any]
) -> None:
    cid = f"order-{uuid.uuid4().hex[:12]}"
    first = post(gateway, {"text": SAMPLES["en"][0], "correlation_id": cid})
    again = post(gateway, {"text": SAMPLES["en"][0], "correlation_id": cid})
    assert first.status_code == 202
    assert again.status_code == 200
    assert again.json()["status"] == "duplicate_detected"
    assert again.json()["intent_id"] == first.json()["intent_id"]
    assert again.json()["domain"] == first.json()["domain"]
    seen: list[str] = []

    def matches(doc: dict[str, Any]) -> bool:
        if doc["correlation_id"] == cid:
            seen.append(doc["id"])
        return False

    with pytest.raises(TimeoutError):
        await consume_topic(bootstrap, first.json()["topic"], matches, timeout=3)
    assert seen == [first.json()["intent_id"]]


def test_pii_is_masked_in_what_is_published_and_entities_are_found(gateway: Gateway) -> None:
    text = (
        "Cliente joao.silva@example.com com CPF 529.982.247-25 pediu reembolso de "
        "R$ 1.250,00 da fatura de 15/03"
    )
    r = post(gateway, {"text": text, "language": "pt"})
    assert r.status_code == 202
    env = httpx.get(
        f"{gateway.base}/intentions/{r.json()['intent_id']}", headers=gateway.headers()
    ).json()["envelope"]
    published = env["intent"]["text"]
    assert "joao.silva@example.com" not in published
    assert "529.982.247-25" not in published
    types = {e["type"] for e in env["intent"]["entities"]}
    assert {"EMAIL", "CPF", "MONEY", "DATE"} <= types
    assert all("@" not in e["value"] for e in env["intent"]["entities"])


@pytest.mark.parametrize(
    ("headers", "fragment"),
    [
        ({}, "missing bearer token"),
        ({"Authorization": "Basic dXNlcjpwYXNz"}, "missing bearer token"),
        (
            {"Authorization": f"Bearer {token(secret='another-secret-of-enough-length-1234')}"},
            "Signature verification failed",
        ),
        ({"Authorization": f"Bearer {token(ttl=-60)}"}, "expired"),
        ({"Authorization": "Bearer not.a.jwt"}, "invalid token"),
    ],
)
def test_intents_need_a_valid_bearer_token(
    gateway: Gateway, headers: dict[str, str], fragment: str
) -> None:
    r = post(gateway, {"text": "hello"}, headers=headers)
    assert r.status_code == 401
    assert fragment in r.json()["detail"]
    assert r.headers["www-authenticate"] == "Bearer"
    assert httpx.get(f"{gateway.base}/intentions/x", headers=headers).status_code == 401


def test_a_token_accepted_before_is_refused_once_it_expired(gateway: Gateway) -> None:
    """The gateway keeps the tokens it verified; a kept one must still expire."""
    headers = {"Authorization": f"Bearer {token(ttl=2)}"}
    assert httpx.get(f"{gateway.base}/intentions/x", headers=headers).status_code == 404
    time.sleep(2.5)
    r = httpx.get(f"{gateway.base}/intentions/x", headers=headers)
    assert r.status_code == 401
    assert "expired" in r.json()["detail"]


@pytest.mark.parametrize("path", ["/health", "/ready", "/metrics", "/docs", "/openapi.json"])
def test_probes_metrics_and_docs_stay_open(gateway: Gateway, path: str) -> None:
    assert httpx.get(f"{gateway.base}{path}").status_code == 200


@pytest.mark.parametrize(
    ("kw", "status", "fragment"),
    [
        (
            {"content": b"text=hello", "headers": {"content-type": "text/plain"}},
            415,
            "application/json",
        ),
        ({"content": json.dumps({"text": "x" * 70_000})}, 413, "limit"),
        ({"json": {"text": ""}}, 422, "text"),
        ({"json": {"text": "x" * 10_001}}, 422, "text"),
        ({"json": {"text": "ok", "language": "fr"}}, 422, "language"),
        ({"json": {"text": "ok", "unexpected": 1}}, 422, "unexpected"),
        ({"json": {"text": "ok", "correlation_id": "has spaces"}}, 422, "correlation_id"),
        ({"json": {"text": "ok", "constraints": {"priority": "asap"}}}, 422, "priority"),
        ({"content": b"{not json"}, 422, "JSON"),
    ],
)
def test_bad_input_gets_a_4xx_with_a_message(
    gateway: Gateway, kw: dict[str, Any], status: int, fragment: str
) -> None:
    headers = {**gateway.headers(), "content-type": "application/json", **kw.pop("headers", {})}
    r = httpx.post(f"{gateway.base}/intentions", headers=headers, timeout=10, **kw)
    assert r.status_code == status, r.text
    assert fragment in r.text


def test_an_oversized_chunked_body_is_refused(gateway: Gateway) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"text": "'
        for _ in range(100):
            yield b"a" * 1024
        yield b'"}'

    r = httpx.post(
        f"{gateway.base}/intentions",
        content=chunks(),
        headers={**gateway.headers(), "content-type": "application/json"},
    )
    assert r.status_code == 413


def test_unknown_intent_is_404(gateway: Gateway) -> None:
    r = httpx.get(f"{gateway.base}/intentions/{uuid.uuid4()}", headers=gateway.headers())
    assert r.status_code == 404
    assert "unknown intent" in r.json()["detail"]


def test_voice_without_an_asr_model_answers_503_saying_how_to_install_one(
    nlu_model_dir: Path, bootstrap: str, redis_url: str
) -> None:
    with running_gateway(nlu_model_dir, bootstrap, redis_url) as gw:
        ready = wait_ready(gw)
        assert ready["checks"]["asr"]["state"] == "skipped"
        r = httpx.post(
            f"{gw.base}/intentions/voice",
            headers=gw.headers(),
            files={"audio": ("a.wav", b"RIFF....WAVEfmt ", "audio/wav")},
        )
        assert r.status_code == 503
        assert "NEURAL_HIVE_ASR_MODEL_PATH" in r.json()["detail"]


def test_metrics_count_intents_by_status(gateway: Gateway) -> None:
    post(gateway, {"text": SAMPLES["pt"][0]})
    text = httpx.get(f"{gateway.base}/metrics").text
    assert (
        'neural_hive_gateway_intents_total{domain="BUSINESS",source="text",status="processed"}'
        in text
    )


async def test_broker_down_means_503_with_retry_after_and_nothing_claimed(
    nlu_model_dir: Path, redis_url: str, kafka_broker: Any, consume_topic: Callable[..., Any]
) -> None:
    dead = f"127.0.0.1:{free_port()}"
    cid = f"retry-{uuid.uuid4().hex[:10]}"
    with running_gateway(nlu_model_dir, dead, redis_url) as gw:
        await asyncio.sleep(1)
        ready = httpx.get(f"{gw.base}/ready")
        assert ready.status_code == 503
        assert ready.json()["checks"]["kafka"]["state"] == "down"
        r = post(gw, {"text": SAMPLES["en"][0], "correlation_id": cid})
        assert r.status_code == 503
        assert r.headers["retry-after"] == "5"
        assert "nothing was recorded" in r.json()["detail"]
    # the claim was released: the same correlation id goes through once a broker answers
    with running_gateway(nlu_model_dir, kafka_broker.address, redis_url) as gw:
        wait_ready(gw)
        again = post(gw, {"text": SAMPLES["en"][0], "correlation_id": cid})
        assert again.status_code == 202
        assert again.json()["status"] == "processed"


def test_redis_down_still_accepts_and_reports_dedup_degraded(
    nlu_model_dir: Path, bootstrap: str
) -> None:
    dead_redis = f"redis://127.0.0.1:{free_port()}/0"
    with running_gateway(nlu_model_dir, bootstrap, dead_redis) as gw:
        ready = wait_ready(gw)
        assert ready["checks"]["redis"]["state"] == "degraded"
        assert "dedup degraded" in ready["checks"]["redis"]["detail"]
        r = post(gw, {"text": SAMPLES["es"][0], "correlation_id": "no-redis-1"})
        assert r.status_code == 202
        assert (
            post(gw, {"text": SAMPLES["es"][0], "correlation_id": "no-redis-1"}).status_code == 202
        )  # no dedup without Redis, but nothing lost
        assert (
            httpx.get(
                f"{gw.base}/intentions/{r.json()['intent_id']}", headers=gw.headers()
            ).status_code
            == 503
        )


def test_low_confidence_goes_to_validation(
    nlu_model_dir: Path, bootstrap: str, redis_url: str
) -> None:
    with running_gateway(
        nlu_model_dir, bootstrap, redis_url, NEURAL_HIVE_VALIDATION_THRESHOLD="1.0"
    ) as gw:
        wait_ready(gw)
        r = post(gw, {"text": "hmm, can someone look at this thing for me"})
        assert r.status_code == 202
        assert r.json()["status"] == "routed_to_validation"
        assert r.json()["topic"] == "intentions.validation"


def test_settings_refuse_auth_without_a_secret() -> None:
    import os
    import subprocess

    from neural_hive.devstack import BIN

    env = {k: v for k, v in os.environ.items() if not k.startswith("NEURAL_HIVE_")}
    r = subprocess.run(
        [str(BIN / "neural-hive-gateway")], env=env, capture_output=True, text=True, timeout=60
    )
    assert r.returncode == 2
    assert "NEURAL_HIVE_JWT_SECRET" in r.stderr
    assert SECRET not in r.stderr


@pytest.mark.parametrize("mode", ["positive", "negative"])
def test_schemathesis_finds_no_server_error(gateway: Gateway, mode: str) -> None:
    """Requests generated from the gateway's own OpenAPI document, valid ones and invalid
    ones: never a 5xx (a 503 only with Retry-After, the documented 'try later' answer)."""
    import schemathesis
    from hypothesis import HealthCheck, given, settings
    from hypothesis.errors import Unsatisfiable

    schema = schemathesis.openapi.from_url(f"{gateway.base}/openapi.json")
    generation = schemathesis.GenerationMode(mode)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {f"{op.method.upper()} {op.path}" for op in operations} >= {
        "POST /intentions",
        "POST /intentions/voice",
        "GET /intentions/{intent_id}",
    }
    if mode == "negative":  # only operations that take input can get invalid input
        operations = [op for op in operations if op.method.upper() == "POST" or "{" in op.path]
        assert {op.path for op in operations} >= {"/intentions", "/intentions/voice"}
    calls = 0
    for op in operations:

        @given(case=op.as_strategy(generation_mode=generation))
        @settings(
            max_examples=40, deadline=None, database=None, suppress_health_check=list(HealthCheck)
        )
        def exercise(case: Any) -> None:
            nonlocal calls
            response = case.call(headers=gateway.headers(), timeout=10)
            calls += 1
            if response.status_code == 503:
                assert "retry-after" in {k.lower() for k in response.headers}, response.text
            else:
                assert response.status_code < 500, (case.method, case.formatted_path, response.text)

        try:
            exercise()
        except Unsatisfiable:
            # e.g. an unconstrained string path parameter: no invalid value exists
            assert mode == "negative", op.path
            assert op.method.upper() == "GET", op.path
    assert calls >= 40


def test_rs256_tokens_are_checked_against_keys_from_a_jwks_url(
    nlu_model_dir: Path, bootstrap: str, redis_url: str
) -> None:
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    import jwt
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    jwks = json.dumps({"keys": [{**jwk, "kid": "k1", "use": "sig", "alg": "RS256"}]}).encode()

    class Keys(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(jwks)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Keys)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/jwks.json"

    def signed(private: Any, kid: str) -> dict[str, str]:
        t = int(time.time())
        tok = jwt.encode(
            {"sub": "rs-user", "iat": t, "exp": t + 300},
            private,
            algorithm="RS256",
            headers={"kid": kid},
        )
        return {"Authorization": f"Bearer {tok}"}

    try:
        with running_gateway(
            nlu_model_dir,
            bootstrap,
            redis_url,
            NEURAL_HIVE_JWT_ALGORITHM="RS256",
            NEURAL_HIVE_JWKS_URL=url,
        ) as gw:
            wait_ready(gw)
            ok = post(gw, {"text": SAMPLES["en"][0]}, headers=signed(key, "k1"))
            assert ok.status_code == 202, ok.text
            forged = post(gw, {"text": SAMPLES["en"][0]}, headers=signed(other, "k1"))
            assert forged.status_code == 401
            unknown = post(gw, {"text": SAMPLES["en"][0]}, headers=signed(key, "k2"))
            assert unknown.status_code == 401
            hs = post(gw, {"text": SAMPLES["en"][0]})  # an HS256 token is refused
            assert hs.status_code == 401
    finally:
        server.shutdown()


async def test_an_envelope_over_the_record_limit_goes_to_the_dead_letter_topic(
    nlu_model_dir: Path, bootstrap: str, redis_url: str, consume_topic: Callable[..., Any]
) -> None:
    marker = uuid.uuid4().hex
    text = f"{SAMPLES['en'][0]} {marker} " + "and the stack trace is long " * 60
    with running_gateway(
        nlu_model_dir, bootstrap, redis_url, NEURAL_HIVE_MAX_RECORD_BYTES="1024"
    ) as gw:
        wait_ready(gw)
        r = post(gw, {"text": text, "correlation_id": f"big-{marker}"})
        assert r.status_code == 413
        assert "1024-byte record limit" in r.json()["detail"]
        topic = r.json()["detail"].split("recorded on ")[1].split()[0]
        assert topic.startswith("dlq.intentions.")
        # nothing was claimed: the same correlation id is not a duplicate afterwards
        small = post(gw, {"text": SAMPLES["en"][0], "correlation_id": f"big-{marker}"})
        assert small.status_code == 202
    letter = await consume_topic(
        bootstrap, topic, lambda doc: f"big-{marker}" in doc.get("payload", "")
    )
    assert letter["value"]["reason"] == "record_too_large"
    assert letter["value"]["limit"] == 1024
    assert letter["headers"]["dlq-reason"] == b"record_too_large"
