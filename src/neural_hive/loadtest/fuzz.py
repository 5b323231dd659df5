"""Bad input against a running stack: the gateway's HTTP API and the specialists' gRPC.

Nothing runs at import. Both functions talk to processes that are already up and return a
JSON-serialisable report; neither asserts, so a caller (a test, a CLI, a CI job) decides
what counts as a failure.

``fuzz_gateway`` (sync: schemathesis and hypothesis drive ``requests``)::

    {
      "cases": int,                     # requests that were sent
      "by_status": {"2xx": int, "3xx": int, "4xx": int, "5xx": int, "no_response": int},
      "retry_later": int,               # 503 with Retry-After: documented, not a failure
      "not_installed": int,             # 503 from a route whose feature is not installed
      "failures": int,                  # every other 5xx and every request with no answer
      "server_errors": [                # the first 10 failures
        {"mode": "positive"|"negative", "method": str, "path": str, "status": int | None,
         "body": str (first 200 chars, or the transport error),
         "request": {"path": str, "query": str, "body": str}}   # what was sent, no headers
      ],
      "operations": [
        {"mode": str, "method": str, "path": str, "cases": int, "skipped": str | None}
      ]
    }

``fuzz_specialists`` (async, grpc.aio)::

    {
      "specialists": {
        name: {
          "address": "host:port",
          "cases": int,
          "by_code": {grpc status code name | "OK": int},
          "by_kind": {case kind: {code name: int}},
          "unexpected_count": int,      # answers other than INVALID_ARGUMENT
          "unexpected": [               # first answer of each (kind, code), at most 10
            {"kind": str, "code": str, "details": str (first 200 chars), "size": int}
          ],
          "health": "SERVING" | "NOT_SERVING" | ... | grpc code name when the check failed,
          "serving_after": bool,        # grpc.health.v1 Check after all the cases
        }
      }
    }
"""

from __future__ import annotations

import asyncio
import json
import random
from collections import Counter
from collections.abc import Callable, Collection
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from neural_hive.proto import specialist_pb2 as pb

MAX_LISTED = 10
BODY_CHARS = 200
CALL_TIMEOUT_S = 2.0
STATUS_CLASSES = ("2xx", "3xx", "4xx", "5xx", "no_response")

# The real names, taken from the generated descriptor (package neural_hive.specialist, no
# version suffix): the service the specialist registers with grpc.health.v1 and the method.
SPECIALIST_SERVICE = pb.DESCRIPTOR.services_by_name["SpecialistService"].full_name
EVALUATE_METHOD = f"/{SPECIALIST_SERVICE}/EvaluatePlan"


# --- the gateway ----------------------------------------------------------------------


def fuzz_gateway(
    base_url: str,
    token: str | None,
    max_examples: int = 40,
    not_installed: Collection[str] = (),
) -> dict[str, Any]:
    """Every operation of ``{base_url}/openapi.json``, valid input then invalid input.

    A 5xx is a failure except a 503 that carries ``Retry-After`` (the gateway's documented
    "try later") and a 503 from a path in `not_installed`, a feature the gateway's /ready
    reports as not installed (the voice route without a Whisper model); a request that
    gets no answer at all is a failure too.
    """
    import schemathesis
    from hypothesis import HealthCheck, Verbosity, given, settings
    from hypothesis.errors import Unsatisfiable
    from schemathesis.core.result import Err

    base = base_url.rstrip("/")
    schema = schemathesis.openapi.from_url(f"{base}/openapi.json")
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    operations = []
    for result in schema.get_all_operations():
        if isinstance(result, Err):
            raise result.err()  # an operation the schema does not describe properly
        operations.append(result.ok())
    by_status: Counter[str] = Counter({k: 0 for k in STATUS_CLASSES})
    report: dict[str, Any] = {
        "cases": 0,
        "by_status": by_status,
        "retry_later": 0,
        "not_installed": 0,
        "failures": 0,
        "server_errors": [],
        "operations": [],
    }

    def record_failure(mode: str, case: Any, status: int | None, body: str) -> None:
        report["failures"] += 1
        if len(report["server_errors"]) < MAX_LISTED:
            report["server_errors"].append(
                {
                    "mode": mode,
                    "method": case.method.upper(),
                    "path": case.path,
                    "status": status,
                    "body": body[:BODY_CHARS],
                    "request": _sent(case),
                }
            )

    def send(mode: str, entry: dict[str, Any], case: Any) -> None:
        report["cases"] += 1
        entry["cases"] += 1
        try:
            response = case.call(base_url=base, headers=headers, timeout=10)
        except OSError as exc:  # requests' errors: refused, reset, timed out
            by_status["no_response"] += 1
            record_failure(mode, case, None, f"{type(exc).__name__}: {exc}")
            return
        status = int(response.status_code)
        by_status[f"{status // 100}xx"] += 1
        if status == 503 and "retry-after" in {k.lower() for k in response.headers}:
            report["retry_later"] += 1
        elif status == 503 and case.path in not_installed:
            report["not_installed"] += 1
        elif status >= 500:
            record_failure(mode, case, status, response.content.decode(errors="replace"))

    def run(mode: str, entry: dict[str, Any], strategy: Any) -> None:
        @given(case=strategy)
        @settings(
            max_examples=max_examples,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
            verbosity=Verbosity.quiet,  # no "reproduce with @seed" notes for Unsatisfiable
        )
        def exercise(case: Any) -> None:
            send(mode, entry, case)

        try:
            exercise()
        except Unsatisfiable:
            # e.g. negative input for an operation that takes none, or for an
            # unconstrained string path parameter: no invalid value exists
            entry["skipped"] = "unsatisfiable"

    for mode in ("positive", "negative"):
        generation = schemathesis.GenerationMode(mode)
        for op in operations:
            entry: dict[str, Any] = {
                "mode": mode,
                "method": op.method.upper(),
                "path": op.path,
                "cases": 0,
                "skipped": None,
            }
            report["operations"].append(entry)
            run(mode, entry, op.as_strategy(generation_mode=generation))
    report["by_status"] = dict(by_status)
    return report


def _sent(case: Any) -> dict[str, str]:
    """What a case sent, without its headers (they hold the bearer token)."""
    body = getattr(case, "body", None)
    shown = "" if body is None or type(body).__name__ == "NotSet" else repr(body)
    return {
        "path": str(case.formatted_path),
        "query": repr(case.query)[:BODY_CHARS] if case.query else "",
        "body": shown[:BODY_CHARS],
    }


# --- the specialists ------------------------------------------------------------------


def _task(tid: str, deps: tuple[str, ...] = (), **extra: Any) -> dict[str, Any]:
    return {
        "task_id": tid,
        "task_type": "implement",
        "description": f"Step {tid} of the change",
        "dependencies": list(deps),
        "estimated_duration_ms": 900_000,
        "required_capabilities": ["engineering"],
        **extra,
    }


def _plan(**overrides: Any) -> dict[str, Any]:
    """A valid plan (see docs/architecture.md); the cases below break one thing each."""
    doc: dict[str, Any] = {
        "plan_id": "fuzz-plan",
        "version": "1.0",
        "intent_id": "fuzz-intent",
        "correlation_id": "fuzz-corr",
        "original_domain": "TECHNICAL",
        "original_priority": "normal",
        "original_security_level": "internal",
        "risk_score": 0.2,
        "complexity_score": 0.3,
        "tasks": [_task("t1"), _task("t2", ("t1",)), _task("t3", ("t2",))],
    }
    doc.update(overrides)
    return doc


def _without(key: str) -> dict[str, Any]:
    doc = _plan()
    del doc[key]
    return doc


def _js(doc: Any) -> bytes:
    return json.dumps(doc).encode()


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


# Each kind: (name, build(rng) -> (cognitive_plan bytes, extra request fields)). Every one
# of them is a plan the schema refuses, so INVALID_ARGUMENT is the only right answer.
PlanCase = tuple[bytes, dict[str, Any]]
PLAN_KINDS: list[tuple[str, Callable[[random.Random], PlanCase]]] = [
    ("plan_empty", lambda rng: (b"", {})),
    (
        "plan_not_json",
        lambda rng: (b"{" + bytes(rng.choice(b"abc:,{[\"'") for _ in range(40)), {}),
    ),
    ("plan_not_utf8", lambda rng: (b"\xc3\x28" + rng.randbytes(64), {})),
    ("plan_json_array", lambda rng: (b"[1, 2, 3]", {})),
    ("plan_json_string", lambda rng: (b'"a plan"', {})),
    ("plan_json_null", lambda rng: (b"null", {})),
    ("plan_json_number", lambda rng: (b"42", {})),
    ("plan_empty_object", lambda rng: (b"{}", {})),
    ("plan_missing_tasks", lambda rng: (_js(_without("tasks")), {})),
    ("plan_missing_intent_id", lambda rng: (_js(_without("intent_id")), {})),
    ("plan_no_tasks", lambda rng: (_js(_plan(tasks=[])), {})),
    ("plan_tasks_not_a_list", lambda rng: (_js(_plan(tasks="t1")), {})),
    ("plan_task_id_not_a_string", lambda rng: (_js(_plan(tasks=[_task("t1", task_id=5)])), {})),
    (
        "plan_dependencies_not_a_list",
        lambda rng: (_js(_plan(tasks=[_task("t1"), _task("t2", dependencies="t1")])), {}),
    ),
    ("plan_null_plan_id", lambda rng: (_js(_plan(plan_id=None)), {})),
    ("plan_score_not_a_number", lambda rng: (_js(_plan(risk_score="high")), {})),
    ("plan_score_out_of_range", lambda rng: (_js(_plan(risk_score=7.5)), {})),
    ("plan_score_nan", lambda rng: (_js(_plan(complexity_score=float("nan"))), {})),
    ("plan_bad_priority", lambda rng: (_js(_plan(original_priority="yesterday")), {})),
    ("plan_bad_created_at", lambda rng: (_js(_plan(created_at="not a date")), {})),
    ("plan_plan_id_too_long", lambda rng: (_js(_plan(plan_id="p" * 10_000)), {})),
    (
        "plan_negative_duration",
        lambda rng: (_js(_plan(tasks=[_task("t1", estimated_duration_ms=-1)])), {}),
    ),
    (
        "plan_unknown_dependency",
        lambda rng: (_js(_plan(tasks=[_task("t1", ("nope",))])), {}),
    ),
    (
        "plan_dependency_cycle",
        lambda rng: (_js(_plan(tasks=[_task("a", ("b",)), _task("b", ("a",))])), {}),
    ),
    ("plan_duplicate_task_id", lambda rng: (_js(_plan(tasks=[_task("t1"), _task("t1")])), {})),
    ("plan_execution_order_unknown", lambda rng: (_js(_plan(execution_order=["zz"])), {})),
    (
        "plan_too_many_tasks",
        lambda rng: (_js(_plan(tasks=[_task(f"t{i}") for i in range(2001)])), {}),
    ),
    # deeper than Python's recursion limit, well under the 4 MiB message limit
    ("plan_deeply_nested_json", lambda rng: (_nested(100_000).encode(), {})),
    (
        "plan_deeply_nested_field",
        lambda rng: (b'{"plan_id": ' + _nested(100_000).encode() + b"}", {}),
    ),
    # an integer literal past Python's 4300-digit conversion limit
    (
        "plan_integer_too_long",
        lambda rng: (
            _js(_plan(risk_score="__N__")).replace(b'"__N__"', b"9" * 5000),
            {},
        ),
    ),
    # a duration no plan can have: 10**400 ms passes `ge=0` but is no float
    (
        "plan_duration_beyond_float",
        lambda rng: (_js(_plan(tasks=[_task("t1", estimated_duration_ms=10**400)])), {}),
    ),
    ("plan_unsupported_version", lambda rng: (_js(_plan()), {"plan_version": "9.9"})),
]


def _specialist_cases(cases: int, seed: int) -> list[tuple[str, bytes]]:
    """``cases`` raw EvaluatePlan request messages: malformed plans (each kind at most once;
    all of them from 48 cases on, else a seeded choice) and at least a third random bytes."""
    rng = random.Random(seed)
    n_random = max(cases // 3, cases - len(PLAN_KINDS))
    n_plans = cases - n_random
    kinds = sorted(rng.sample(range(len(PLAN_KINDS)), n_plans))
    out: list[tuple[str, bytes]] = []
    for i in kinds:
        kind, build = PLAN_KINDS[i]
        plan, extra = build(rng)
        request = pb.EvaluatePlanRequest(
            plan_id="fuzz-plan",
            intent_id="fuzz-intent",
            correlation_id=f"fuzz-{i}",
            cognitive_plan=plan,
            **extra,
        )
        out.append((kind, request.SerializeToString()))
    for _ in range(n_random):
        raw = rng.randbytes(rng.randint(0, 2048))
        out.append((_random_kind(raw), raw))
    return out


def _random_kind(raw: bytes) -> str:
    """Random bytes either happen to decode as an EvaluatePlanRequest (mostly the empty
    message, whose cognitive_plan is empty) or are no such message at all."""
    try:
        pb.EvaluatePlanRequest.FromString(raw)
    except Exception:  # DecodeError; upb raises it for corrupt wire format or bad UTF-8
        return "random_bytes_undecodable"
    return "random_bytes_decodable"


# What counts as the right answer. The README and docs/architecture.md document one
# answer to a plan that cannot be evaluated: INVALID_ARGUMENT naming the field. That
# covers random bytes that decode: the empty message (and any decodable junk) carries an
# empty or non-JSON cognitive_plan, which the server refuses with INVALID_ARGUMENT
# ("cognitive_plan: is empty" / "is not valid JSON") before anything else. The other
# documented answer, DEADLINE_EXCEEDED, is for a valid plan whose budget ran out; no case
# here is a valid plan and each has 2 s, so it is not expected. Bytes that are no
# EvaluatePlanRequest at all are not documented; INVALID_ARGUMENT is what the gRPC status
# code guide asks for malformed input, so anything else (e.g. UNKNOWN from the runtime's
# failed decode) is reported as unexpected rather than excused.
EXPECTED_CODES = frozenset({"INVALID_ARGUMENT"})


async def fuzz_specialists(
    addresses: dict[str, str], cases: int = 50, seed: int = 0
) -> dict[str, Any]:
    """``cases`` malformed EvaluatePlan calls per specialist (name -> "host:port"), then a
    grpc.health.v1 Check. Specialists are fuzzed concurrently, each one's calls in turn."""
    requests = _specialist_cases(cases, seed)
    names = list(addresses)
    results = await asyncio.gather(*(_fuzz_one(addresses[n], requests) for n in names))
    return {"specialists": dict(zip(names, results, strict=True))}


async def _fuzz_one(address: str, requests: list[tuple[str, bytes]]) -> dict[str, Any]:
    by_code: Counter[str] = Counter()
    by_kind: dict[str, Counter[str]] = {}
    unexpected: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()
    unexpected_count = 0
    async with grpc.aio.insecure_channel(address) as channel:
        call = channel.unary_unary(
            EVALUATE_METHOD, request_serializer=None, response_deserializer=None
        )
        for kind, raw in requests:
            try:
                await call(raw, timeout=CALL_TIMEOUT_S)
                code, details = "OK", "the plan was evaluated"
            except grpc.aio.AioRpcError as exc:
                code, details = exc.code().name, exc.details() or ""
            by_code[code] += 1
            by_kind.setdefault(kind, Counter())[code] += 1
            if code not in EXPECTED_CODES:
                unexpected_count += 1
                if (kind, code) not in seen and len(unexpected) < MAX_LISTED:
                    seen.add((kind, code))
                    unexpected.append(
                        {
                            "kind": kind,
                            "code": code,
                            "details": details[:BODY_CHARS],
                            "size": len(raw),
                        }
                    )
        health = await _health(channel)
    return {
        "address": address,
        "cases": len(requests),
        "by_code": dict(by_code),
        "by_kind": {k: dict(v) for k, v in by_kind.items()},
        "unexpected_count": unexpected_count,
        "unexpected": unexpected,
        "health": health,
        "serving_after": health == "SERVING",
    }


async def _health(channel: grpc.aio.Channel) -> str:
    """The status the server reports for SpecialistService, or the gRPC code of a failed
    check (UNAVAILABLE when the process is gone)."""
    stub = health_pb2_grpc.HealthStub(channel)
    try:
        reply = await stub.Check(
            health_pb2.HealthCheckRequest(service=SPECIALIST_SERVICE), timeout=CALL_TIMEOUT_S
        )
    except grpc.aio.AioRpcError as exc:
        return str(exc.code().name)
    return str(health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status))
