"""Bad input against real processes: two specialists over gRPC, the gateway over HTTP.

neural_hive.loadtest.fuzz drives them from outside and reports; these tests hold the
services to what the README documents: INVALID_ARGUMENT for a plan that cannot be
evaluated, no 5xx from the gateway but a 503 with Retry-After, and nothing that kills a
process.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from gateway_support import Gateway, token

from neural_hive.devstack import spawn_specialist, wait_specialist
from neural_hive.loadtest.fuzz import PLAN_KINDS, fuzz_gateway, fuzz_specialists

pytestmark = pytest.mark.integration

# 48 cases: every malformed-plan kind once (32) and 16 random byte strings; a few ms each
CASES = 48


@pytest.fixture(scope="module")
async def specialist_report() -> AsyncIterator[dict[str, Any]]:
    started = [spawn_specialist(kind) for kind in ("business", "technical")]
    try:
        for s in started:
            wait_specialist(s)
        report = await fuzz_specialists(
            {s.extra["type"]: s.address for s in started}, cases=CASES, seed=0
        )
        yield report["specialists"]
    finally:
        for s in started:
            s.stop()
    for s in started:
        assert s.proc.returncode == 0, f"{s.extra['type']} did not shut down cleanly"


def test_every_bad_input_gets_invalid_argument_and_the_specialist_keeps_serving(
    specialist_report: dict[str, Any],
) -> None:
    """Random bytes that are no request message, plans too deep for the JSON parser, integers
    of 5000 digits, durations beyond any float: each gets INVALID_ARGUMENT (once UNKNOWN from
    an escaped exception, or OK for a plan no client can mean)."""
    assert set(specialist_report) == {"business", "technical"}
    for name, r in specialist_report.items():
        assert r["serving_after"], (name, r["health"])
        assert r["health"] == "SERVING"
        assert r["cases"] == CASES
        assert {k for k, _ in PLAN_KINDS} <= set(r["by_kind"])
        assert r["by_kind"].get("random_bytes_undecodable"), (name, "no undecodable bytes sent")
        assert r["by_code"] == {"INVALID_ARGUMENT": CASES}, (name, r["unexpected"])
        assert r["unexpected_count"] == 0
        assert r["unexpected"] == []


@pytest.mark.usefixtures("kafka_topics")
def test_gateway_fuzzing_finds_no_server_error(gateway: Gateway) -> None:
    report = fuzz_gateway(gateway.base, token(), max_examples=10)
    assert report["cases"] > 0
    assert report["failures"] == 0, report["server_errors"]
    assert report["server_errors"] == []
    assert report["by_status"]["no_response"] == 0
    assert sum(report["by_status"].values()) == report["cases"]
    sent = {(o["mode"], o["method"], o["path"]) for o in report["operations"] if o["cases"]}
    for mode in ("positive", "negative"):
        assert {(mode, "POST", "/intentions"), (mode, "POST", "/intentions/voice")} <= sent
    assert report["by_status"]["2xx"] > 0  # valid requests got through, auth included
    assert report["by_status"]["4xx"] > 0  # and invalid ones were refused
