"""The neural_hive.deploy collection's modules and filter, run through real `ansible` and
`ansible-playbook` processes against real specialists, redis-server, the Tansu broker, and
a real gateway + consensus engine stack."""

from __future__ import annotations

import signal
import socket
import struct
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from ansible_support import run_module, run_playbook, write_inventory
from gateway_support import SECRET, Gateway, running_consensus, running_gateway, wait_ready

from neural_hive.devstack import (
    Service,
    free_port,
    spawn_specialist,
    start_redis,
    start_specialists,
    wait_specialist,
)

pytestmark = [pytest.mark.integration]

SPECIALIST_SERVICE = "neural_hive.specialist.SpecialistService"
REDIS_PASSWORD = "s3cret-redis-password-for-the-probe"
INTENTS = {
    "pt": "Precisamos escalar o cluster de Kubernetes de produção antes da Black Friday",
    "en": "Please build a dashboard with monthly revenue and churn per customer segment",
    "es": "Hay que revocar el acceso de los ex empleados al repositorio y activar MFA",
}


@pytest.fixture(scope="module")
def inventory(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_inventory(tmp_path_factory.mktemp("inventory"))


# --- grpc_health --------------------------------------------------------------------


def test_grpc_health_reports_serving_for_the_server_and_the_specialist_service(
    inventory: Path, specialist_business: Service
) -> None:
    for service in ("", SPECIALIST_SERVICE):
        result, run = run_module(
            inventory,
            "grpc_health",
            {"host": "127.0.0.1", "port": specialist_business.port, "service": service},
        )
        assert run.rc == 0, run.output[-2000:]
        assert result["status"] == "SERVING"
        assert result["passed"] is True
        assert result["grpc_code"] == "OK"
        assert result["attempts"] == 1
        assert result["changed"] is False
        assert result["target"] == specialist_business.address
        assert 0 < result["elapsed_ms"] < 2000


def test_grpc_health_fails_for_a_service_the_server_does_not_know(
    inventory: Path, specialist_business: Service
) -> None:
    result, run = run_module(
        inventory,
        "grpc_health",
        {"host": "127.0.0.1", "port": specialist_business.port, "service": "no.such.Service"},
    )
    assert run.rc != 0
    assert result["failed"] is True
    assert result["passed"] is False
    assert result["grpc_code"] == "NOT_FOUND"
    assert "does not know service 'no.such.Service'" in result["msg"]


def listen_backlog(port: int) -> int:
    """Connections waiting in the accept queue of the socket listening on `port` (gRPC
    listens on an IPv6 socket even for 127.0.0.1)."""
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local, state, queues = fields[1], fields[3], fields[4]
            if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:
                return int(queues.split(":")[1], 16)
    raise AssertionError(f"nothing listens on port {port}")


def resume_after(s: Service, backlog: int, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while listen_backlog(s.port) < backlog and time.monotonic() < deadline:
        time.sleep(0.02)
    s.proc.send_signal(signal.SIGCONT)


def test_grpc_health_stopped_then_resumed_then_killed_specialist(inventory: Path) -> None:
    s = wait_specialist(spawn_specialist("technical"))
    try:
        # Stopped (SIGSTOP): the kernel still accepts the TCP connection, nothing answers.
        s.proc.send_signal(signal.SIGSTOP)
        result, run = run_module(
            inventory, "grpc_health", {"host": "127.0.0.1", "port": s.port, "timeout_s": 1}
        )
        assert run.rc != 0
        assert result["status"] is None
        assert result["grpc_code"] == "DEADLINE_EXCEEDED"
        assert "no answer within 1s" in result["msg"]
        assert s.address in result["msg"]
        assert 900 <= result["elapsed_ms"] < 2500  # failed within its timeout, not later

        # Resumed while the module retries: SERVING after more than one attempt. Each
        # attempt opens a new connection that waits in the stopped server's accept queue,
        # so the server is resumed once two more attempts have failed.
        pending = listen_backlog(s.port)
        resume = threading.Thread(target=resume_after, args=(s, pending + 2))
        resume.start()
        try:
            result, run = run_module(
                inventory,
                "grpc_health",
                {
                    "host": "127.0.0.1",
                    "port": s.port,
                    "timeout_s": 0.3,
                    "retries": 20,
                    "delay": 0.2,
                },
            )
        finally:
            resume.join()
        assert run.rc == 0, run.output[-2000:]
        assert result["status"] == "SERVING"
        assert result["attempts"] >= 2

        # Killed: connection refused, reported as unreachable at once.
        s.kill()
        result, run = run_module(
            inventory,
            "grpc_health",
            {"host": "127.0.0.1", "port": s.port, "timeout_s": 5, "retries": 1, "delay": 0.1},
        )
        assert run.rc != 0
        assert result["grpc_code"] == "UNAVAILABLE"
        assert "server unreachable" in result["msg"]
        assert "after 2 attempts" in result["msg"]
        assert result["attempts"] == 2
        assert result["elapsed_ms"] < 2000  # refused connections do not wait for the timeout
    finally:
        if s.proc.poll() is None:
            s.proc.send_signal(signal.SIGCONT)
        s.stop()


# --- redis_ping / kafka_ping ----------------------------------------------------------


def test_redis_ping_passes_against_redis_and_fails_clearly_on_a_closed_port(
    inventory: Path, redis_server: Service
) -> None:
    result, run = run_module(
        inventory, "redis_ping", {"host": "127.0.0.1", "port": redis_server.port}
    )
    assert run.rc == 0, run.output[-2000:]
    assert result["response"] == "PONG"
    assert result["passed"] is True
    assert result["authenticated"] is False
    assert result["elapsed_ms"] < 1000

    closed = free_port()
    result, run = run_module(
        inventory, "redis_ping", {"host": "127.0.0.1", "port": closed, "timeout_s": 2}
    )
    assert run.rc != 0
    assert result["passed"] is False
    assert result["msg"] == (
        f"Redis PING to 127.0.0.1:{closed} failed: connection refused "
        "(nothing listens on that port)"
    )


def test_redis_ping_with_a_password_and_never_shows_it(inventory: Path) -> None:
    guarded = start_redis("--requirepass", REDIS_PASSWORD)
    try:
        base = {"host": "127.0.0.1", "port": guarded.port, "timeout_s": 2}
        ok, run_ok = run_module(inventory, "redis_ping", {**base, "password": REDIS_PASSWORD})
        missing, run_missing = run_module(inventory, "redis_ping", base)
        wrong, run_wrong = run_module(
            inventory, "redis_ping", {**base, "password": REDIS_PASSWORD[::-1]}
        )
    finally:
        guarded.stop()
    assert run_ok.rc == 0, run_ok.output[-2000:]
    assert ok["response"] == "PONG"
    assert ok["authenticated"] is True
    assert run_missing.rc != 0
    assert "requires a password: NOAUTH" in missing["msg"]
    assert run_wrong.rc != 0
    assert "AUTH refused: WRONGPASS" in wrong["msg"]
    for run in (run_ok, run_wrong):
        assert REDIS_PASSWORD not in run.output
        assert REDIS_PASSWORD[::-1] not in run.output
        assert "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER" in run.stdout  # the invocation, masked


def test_kafka_ping_passes_against_tansu_in_both_encodings(
    inventory: Path, kafka_broker: Service
) -> None:
    for version in (3, 0):
        result, run = run_module(
            inventory,
            "kafka_ping",
            {"host": "127.0.0.1", "port": kafka_broker.port, "api_version": version},
        )
        assert run.rc == 0, run.output[-2000:]
        assert result["passed"] is True
        assert result["api_version"] == version
        assert result["api_versions_count"] == len(result["api_keys"]) > 10
        # Produce, Fetch, Metadata, ApiVersions: what the gateway and engine rely on
        assert {"0", "1", "3", "18"} <= set(result["api_keys"])
        low, high = result["api_keys"]["18"]
        assert low == 0
        assert high >= 3


def test_kafka_ping_fails_clearly_on_a_closed_port_and_on_a_non_kafka_server(
    inventory: Path, redis_server: Service
) -> None:
    closed = free_port()
    result, run = run_module(inventory, "kafka_ping", {"host": "127.0.0.1", "port": closed})
    assert run.rc != 0
    assert f"Kafka ApiVersions to 127.0.0.1:{closed} failed: connection refused" in result["msg"]
    result, run = run_module(
        inventory, "kafka_ping", {"host": "127.0.0.1", "port": redis_server.port, "timeout_s": 0.5}
    )
    assert run.rc != 0
    assert "no reply within 0.5s (is it a Kafka listener?)" in result["msg"]


def _old_broker(listener: socket.socket, seen: list[int]) -> None:
    """A broker that only knows ApiVersions v0-v2: it answers a v3 request with
    UNSUPPORTED_VERSION in the v0 layout (KIP-511), as old Kafka brokers do."""
    while True:
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        with conn:
            size = struct.unpack(">i", conn.recv(4, socket.MSG_WAITALL))[0]
            req = conn.recv(size, socket.MSG_WAITALL)
            _key, version, correlation = struct.unpack_from(">hhi", req)
            seen.append(version)
            apis = [(0, 0, 8), (1, 0, 11), (3, 0, 9), (18, 0, 2)]
            error = 35 if version > 2 else 0
            body = struct.pack(">hi", error, len(apis))
            body += b"".join(struct.pack(">hhh", *a) for a in apis)
            if error == 0 and version >= 1:
                body += struct.pack(">i", 0)
            frame = struct.pack(">i", correlation) + body
            conn.sendall(struct.pack(">i", len(frame)) + frame)


def test_kafka_ping_falls_back_to_the_version_an_older_broker_supports(inventory: Path) -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    seen: list[int] = []
    thread = threading.Thread(target=_old_broker, args=(listener, seen), daemon=True)
    thread.start()
    try:
        port = listener.getsockname()[1]
        result, run = run_module(inventory, "kafka_ping", {"host": "127.0.0.1", "port": port})
    finally:
        listener.close()
    assert run.rc == 0, run.output[-2000:]
    assert seen == [3, 2]
    assert result["api_version"] == 2
    assert result["api_versions_count"] == 4
    assert result["api_keys"]["18"] == [0, 2]


# --- intent_probe: gateway -> Kafka -> consensus -> five specialists -> Redis -----------

# The first of these sets the stack up, which trains the NLU model (1.5 to 5 minutes on
# two busy cores) when no current trained model is at hand.
stack_timeout = pytest.mark.timeout(420)


@pytest.fixture(scope="module")
def nlu_model(nlu_model_dir: Path) -> Path:
    return nlu_model_dir


@pytest.fixture(scope="module")
def stack_specialists() -> Iterator[dict[str, Service]]:
    started = start_specialists()
    yield started
    for s in started.values():
        if s.proc.poll() is None:
            s.proc.send_signal(signal.SIGCONT)
        s.stop()


@pytest.fixture(scope="module")
def consensus(
    kafka_topics: None, bootstrap: str, redis_url: str, stack_specialists: dict[str, Service]
) -> Iterator[subprocess.Popen[bytes]]:
    with running_consensus(
        bootstrap,
        redis_url,
        stack_specialists,
        "collection-modules",
        NEURAL_HIVE_EVALUATION_TIMEOUT_MS="800",
    ) as proc:
        yield proc


@pytest.fixture(scope="module")
def gateway(
    nlu_model: Path, bootstrap: str, redis_url: str, consensus: subprocess.Popen[bytes]
) -> Iterator[Gateway]:
    with running_gateway(nlu_model, bootstrap, redis_url) as gw:
        wait_ready(gw)
        yield gw


@stack_timeout
def test_intent_probe_in_each_language_gets_a_five_opinion_decision_and_dedup(
    inventory: Path, tmp_path: Path, gateway: Gateway
) -> None:
    correlation = f"collection-dup-{time.time_ns()}"
    common = {"url": gateway.base, "jwt_secret": SECRET, "timeout_s": 20}
    tasks: list[dict[str, Any]] = [
        {
            "name": f"intent in {lang}",
            "neural_hive.deploy.intent_probe": {**common, "text": text, "language": lang},
        }
        for lang, text in INTENTS.items()
    ]
    dup = {**common, "text": INTENTS["en"], "language": "en", "correlation_id": correlation}
    tasks += [
        {"name": "first of a pair", "neural_hive.deploy.intent_probe": dup},
        {
            "name": "the same correlation id again",
            "neural_hive.deploy.intent_probe": {
                **dup,
                "expect_status": ["duplicate_detected"],
                "wait_for_decision": False,
            },
        },
    ]
    results, run = run_playbook(inventory, tmp_path, tasks)
    assert run.rc == 0, run.output[-4000:]
    assert SECRET not in run.output
    pt, en, es, first, again = results

    for lang, r in zip(INTENTS, (pt, en, es), strict=True):
        assert r["changed"] is False
        assert r["passed"] is True
        assert r["http_status"] == 202
        assert r["status"] == "processed", r
        assert r["language"] == lang
        assert r["decided"] is True
        assert r["opinions"] == 5
        assert set(r["recommendations"]) == {
            "business",
            "technical",
            "behavior",
            "evolution",
            "architecture",
        }
        assert r["decision"] in ("approve", "reject", "review_required", "conditional")
        assert sum(r["votes"].values()) == 5
        assert r["missing_specialists"] == []
        assert r["quorum_met"] is True
        assert 0 < r["time_to_decision_ms"] <= r["elapsed_ms"] < 20_000
        assert 0 <= r["confidence"] <= 1
        assert isinstance(r["classification"], str)
        assert r["classification"]
    assert pt["domain"] == "INFRASTRUCTURE"
    assert en["domain"] == "BUSINESS"
    assert es["domain"] == "SECURITY"

    # The decision the module read is the one the gateway serves.
    record = httpx.get(f"{gateway.base}/intentions/{pt['intent_id']}", headers=gateway.headers())
    assert record.json()["decision"]["decision"] == pt["decision"]

    assert first["status"] == "processed"
    assert first["correlation_id"] == correlation
    assert again["status"] == "duplicate_detected"
    assert again["http_status"] == 200
    assert again["intent_id"] == first["intent_id"]
    assert again["decided"] is False
    assert again["domain"] == first["domain"]


@stack_timeout
def test_intent_probe_fails_clearly_on_bad_auth_bad_input_and_expectations(
    inventory: Path, tmp_path: Path, gateway: Gateway
) -> None:
    base = {"url": gateway.base, "text": INTENTS["en"], "language": "en", "timeout_s": 10}
    wrong_secret = "not-the-gateway-secret-0123456789abcdef"
    tasks: list[dict[str, Any]] = [
        {"neural_hive.deploy.intent_probe": {**base, "jwt_secret": wrong_secret}},
        {"neural_hive.deploy.intent_probe": base},  # no token at all
        {
            "neural_hive.deploy.intent_probe": {
                **base,
                "jwt_secret": SECRET,
                "constraints": {"priority": "yesterday"},
            }
        },
        {
            "neural_hive.deploy.intent_probe": {
                **base,
                "jwt_secret": SECRET,
                "expect_domain": "SECURITY",
            }
        },
        {
            "neural_hive.deploy.intent_probe": {
                **base,
                "jwt_secret": SECRET,
                "correlation_id": f"fresh-{time.time_ns()}",
                "expect_status": ["duplicate_detected"],
                "wait_for_decision": False,
            }
        },
    ]
    for t in tasks:
        t["ignore_errors"] = True
    results, run = run_playbook(inventory, tmp_path, tasks)
    assert wrong_secret not in run.output
    assert SECRET not in run.output
    bad_token, no_token, bad_body, wrong_domain, not_dup = results
    assert all(r.get("failed") for r in results), results
    assert not any(r["passed"] for r in results)
    assert bad_token["http_status"] == 401
    assert "HTTP 401 (set jwt_secret or token" in bad_token["msg"]
    assert "invalid token" in bad_token["msg"]
    assert no_token["http_status"] == 401
    assert "missing bearer token" in no_token["msg"]
    assert bad_body["http_status"] == 422
    assert "POST /intentions was not accepted: HTTP 422" in bad_body["msg"]
    assert "priority" in bad_body["msg"]
    assert "classified as 'BUSINESS'" in wrong_domain["msg"]
    assert "expected SECURITY" in wrong_domain["msg"]
    assert "status 'processed', expected one of duplicate_detected" in not_dup["msg"]


@stack_timeout
def test_intent_probe_fails_when_a_specialist_gives_no_opinion(
    inventory: Path, gateway: Gateway, stack_specialists: dict[str, Service]
) -> None:
    stopped = stack_specialists["behavior"]
    stopped.proc.send_signal(signal.SIGSTOP)
    try:
        result, run = run_module(
            inventory,
            "intent_probe",
            {
                "url": gateway.base,
                "text": INTENTS["pt"],
                "language": "pt",
                "jwt_secret": SECRET,
                "timeout_s": 15,
            },
        )
    finally:
        stopped.proc.send_signal(signal.SIGCONT)
    assert run.rc != 0
    assert result["decided"] is True
    assert result["opinions"] == 4
    assert "behavior" not in result["recommendations"]
    assert "has 4 specialist opinion(s), expected at least 5" in result["msg"]
    assert "missing: behavior: DEADLINE_EXCEEDED" in result["msg"]
    assert result["time_to_decision_ms"] < 10_000


# --- verify_table filter --------------------------------------------------------------


def test_verify_table_renders_the_summary_and_refuses_unknown_results(
    inventory: Path, tmp_path: Path
) -> None:
    checks = [
        {"check": "13 specialist-business gRPC health", "result": "passed", "time_ms": 4.2,
         "detail": "SERVING"},
        {"check": "intent pt decided", "result": "failed", "time_ms": 1234.5,
         "detail": "no decision\nafter 20s " + "x" * 200},  # folded, then cut
        {"check": "mongodb ping", "result": "skipped", "detail": "not configured"},
    ]  # fmt: skip
    tasks = [
        {
            "name": "render",
            "ansible.builtin.set_fact": {
                "table": "{{ checks | neural_hive.deploy.verify_table(detail_width=40) }}"
            },
            "vars": {"checks": checks},
        },
        {
            "name": "refuse",
            "ansible.builtin.set_fact": {
                "table2": "{{ [{'check': 'x', 'result': 'ok'}] | neural_hive.deploy.verify_table }}"
            },
            "ignore_errors": True,
        },
    ]
    results, run = run_playbook(inventory, tmp_path, tasks)
    assert run.rc == 0, run.output[-3000:]  # the refused render is ignore_errors
    rendered, refused = results
    lines = rendered["ansible_facts"]["table"].split("\n")
    assert lines == [
        "CHECK                               RESULT   TIME (ms)  DETAIL",
        "----------------------------------  -------  ---------  ------",
        "13 specialist-business gRPC health  passed         4.2  SERVING",
        "intent pt decided                   failed        1234  "
        + "no decision after 20s xxxxxxxxxxxxxxx...",
        "mongodb ping                        skipped          -  not configured",
        "----------------------------------  -------  ---------  ------",
        "TOTAL 3 checks                      FAILED        1239  1 passed, 1 failed, 1 skipped",
    ]  # fmt: skip
    assert refused["failed"] is True
    assert "result must be one of passed, failed, skipped, got 'ok'" in refused["msg"]
