"""The load test: steps of increasing rate against the gateway, then against the baseline."""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from typing import Any

from neural_hive.loadtest.stats import awaiting_decision, is_ok, step_summary
from neural_hive.loadtest.tap import DecisionTap
from neural_hive.loadtest.traffic import Sample, Traffic

DRAIN_S = 30.0
QUIET_S = 300.0


def progress_line(label: str, rate: float, seconds: float) -> Any:
    """A callback printing one self-overwriting line a second: sent, 2xx, errors, P99 so far."""

    def show(elapsed: float, samples: list[Sample]) -> None:
        ok = [s.latency_ms for s in samples if is_ok(s)]
        p99 = sorted(ok)[int(len(ok) * 0.99)] if ok else 0.0
        sys.stderr.write(
            f"\r{label} {rate:g}/s  {elapsed:5.1f}/{seconds:g} s  sent {len(samples):6d}"
            f"  2xx {len(ok):6d}  other {len(samples) - len(ok):5d}  p99 {p99:7.1f} ms"
        )
        sys.stderr.flush()

    return show


async def run_steps(
    traffic: Traffic,
    rates: Sequence[float],
    seconds: float,
    tap: DecisionTap | None,
    label: str,
    pause_s: float = 3.0,
) -> list[dict[str, Any]]:
    import asyncio

    steps = []
    for rate in rates:
        if tap is not None:
            await wait_quiet(traffic, tap)
        samples = await traffic.run(rate, seconds, progress_line(label, rate, seconds))
        if tap is not None:
            await tap.drain(awaiting_decision(samples), DRAIN_S, seen=acked_ids(samples))
        steps.append(step_summary(f"{label} {rate:g}/s", rate, seconds, samples, tap))
        sys.stderr.write("\n")
        await asyncio.sleep(pause_s)  # let queues empty before the next step
    return steps


def acked_ids(samples: list[Sample]) -> set[str]:
    return {s.intent_id for s in samples if is_ok(s) and s.intent_id}


async def wait_quiet(traffic: Traffic, tap: DecisionTap, timeout_s: float = QUIET_S) -> float:
    """Until the consensus engine has worked off what an earlier step or case left queued
    (its group's lag, from the tap, under 20) and a probe intent is decided within 2 s: a
    run that starts behind measures the backlog. Returns the seconds waited."""
    import asyncio

    loop = asyncio.get_running_loop()
    start = loop.time()
    while loop.time() - start < timeout_s:
        lag = await tap.ask_lag()
        if lag is not None and lag >= 20:
            sys.stderr.write(f"\rwaiting for the consensus engine's lag: {lag} intents")
            await asyncio.sleep(1)
            continue
        probe = await traffic.run(5, 1)
        ids = awaiting_decision(probe)
        await tap.drain(ids, 2.0)
        if ids and ids <= tap.decisions.keys():
            return loop.time() - start
        sys.stderr.write(
            f"\rwaiting for the consensus engine's backlog: {loop.time() - start:.0f} s"
        )
    sys.stderr.write("\n")
    return loop.time() - start


def started_meta(target: str, gateway: str) -> dict[str, Any]:
    import os
    import platform
    from datetime import UTC, datetime

    return {
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpus": len(os.sched_getaffinity(0)),
        "python": platform.python_version(),
        "host": platform.machine(),
        "target": target,
        "gateway": gateway,
        "clock": time.time(),
    }
