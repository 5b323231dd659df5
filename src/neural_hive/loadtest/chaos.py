"""Faults injected into the deployed local stack while steady load runs, one case at a time.

A case sends `rate` intents/s for `before_s`, injects its fault, heals it (or lets Podman's
restart policy bring a killed container back, as a kubelet would), keeps sending for
`after_s`, then waits for the last decisions. From the samples and the decision tap it
reports the answers by status, acknowledged intents that never reached Kafka (neither
read by the tap nor decided by the engine, as the gateway's record says), decisions with
reduced quorum or routed to review, and the time to recover after the fault ended:
the start of the first `window_s` in which every request got a 2xx and every decision
came from all five specialists.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from neural_hive.loadtest.load import progress_line, wait_quiet
from neural_hive.loadtest.podman import SPECIALISTS, PodmanStack, StackError
from neural_hive.loadtest.stats import (
    acknowledged,
    awaiting_decision,
    is_ok,
    lost,
    percentile,
    redelivered,
)
from neural_hive.loadtest.tap import DecisionTap
from neural_hive.loadtest.traffic import Sample, Traffic

FULL_QUORUM = len(SPECIALISTS)
# Longest wait for the last decisions of a case: an intent the broker lost is published again
# by the gateway after 30 s without a decision (NEURAL_HIVE_REDELIVER_AFTER_S), checked every
# 5 s; the wait ends as soon as every acknowledged intent is decided.
CASE_DRAIN_S = 60.0


@dataclass(frozen=True)
class Case:
    name: str
    fault: str  # what is done, as a sentence for the report
    verb: str  # crash (SIGKILL; the restart policy heals) or stop (healed by `podman start`)
    workloads: tuple[str, ...]
    hold_s: float = 0.0  # how long a stopped workload stays down


CASES = (
    Case("kill 1 specialist", "SIGKILL specialist-business", "crash", SPECIALISTS[:1]),
    Case("kill 3 specialists", "SIGKILL 3 of 5 (quorum 3)", "crash", SPECIALISTS[:3]),
    Case("stop and restart the broker", "podman stop kafka; 5 s; start", "stop", ("kafka",), 5.0),
    Case("stop and restart Redis", "podman stop redis; 5 s; podman start", "stop", ("redis",), 5.0),
    Case("kill the gateway", "SIGKILL gateway-intencoes", "crash", ("gateway-intencoes",)),
)  # fmt: skip


async def wait_restarted(stack: PodmanStack, killed: dict[str, int], timeout_s: float) -> None:
    """Until every crashed workload runs again as a new process (its restart policy)."""
    end = time.monotonic() + timeout_s
    while True:  # podman inspect in a thread: the sender shares this event loop
        now = {w: await asyncio.to_thread(stack.pid, w) for w in killed}
        down = [w for w, pid in killed.items() if now[w] in (0, pid)]
        if not down:
            return
        if time.monotonic() > end:
            raise StackError(f"not restarted within {timeout_s:g} s: {', '.join(down)}")
        await asyncio.sleep(0.05)


async def inject(stack: PodmanStack, case: Case) -> tuple[float, float]:
    """Apply the fault; return its (start, end) on the wall clock."""
    begin = time.time()
    if case.verb == "crash":
        killed = await asyncio.to_thread(stack.crash, *case.workloads)
        await wait_restarted(stack, killed, 60)
    else:
        await stack.act("stop", *case.workloads)
        await asyncio.sleep(case.hold_s)
        await stack.act("start", *case.workloads)
    return begin, time.time()


async def run_case(
    stack: PodmanStack,
    traffic: Traffic,
    tap: DecisionTap,
    case: Case,
    rate: float,
    before_s: float = 5.0,
    after_s: float = 20.0,
) -> dict[str, Any]:
    seconds = before_s + after_s
    await wait_quiet(traffic, tap)
    load = asyncio.create_task(traffic.run(rate, seconds, progress_line(case.name, rate, seconds)))
    t0 = time.time()
    await asyncio.sleep(before_s)
    fault_at, fault_end = await inject(stack, case)
    samples = await load
    waiting = awaiting_decision(samples)
    await tap.drain(
        waiting, CASE_DRAIN_S, seen={s.intent_id for s in acknowledged(samples) if s.intent_id}
    )
    # What the tap could not see (a broker restart erased it first) but the engine decided.
    unseen = set(lost(samples, tap)) | (waiting - tap.decisions.keys())
    if unseen:
        tap.confirm(await traffic.decisions(unseen))
    print(flush=True)
    return summarize_case(case, samples, tap, t0, fault_at, fault_end)


def summarize_case(
    case: Case,
    samples: Sequence[Sample],
    tap: DecisionTap,
    t0: float,
    fault_at: float,
    fault_end: float,
    window_s: float = 2.0,
) -> dict[str, Any]:
    acked = acknowledged(samples)
    waiting = awaiting_decision(samples)
    decided = {i: tap.decisions[i] for i in waiting if i in tap.decisions}
    missing = set(lost(samples, tap)) | (waiting - decided.keys())
    missing_sent = [s.sent_at - t0 for s in acked if s.intent_id in missing]
    return {
        "case": case.name,
        "fault": case.fault,
        "fault_at_s": round(fault_at - t0, 2),
        "fault_end_s": round(fault_end - t0, 2),
        "sent": len(samples),
        "status": dict(Counter(s.status for s in samples)),
        "by_class": dict(Counter(_status_class(s.status) for s in samples)),
        "acked": len(acked),
        "acked_not_in_kafka": len(lost(samples, tap)),
        "lost_ids": lost(samples, tap)[:10],
        "redelivered": len(redelivered(samples, tap)),
        # when the lost or undecided intents were sent (s from the case's start)
        "missing_sent_s": [round(min(missing_sent), 2), round(max(missing_sent), 2)]
        if missing_sent
        else None,
        "decided": len(decided),
        "acked_undecided": len(waiting) - len(decided),
        "reduced_quorum": sum(1 for d in decided.values() if d.opinions < FULL_QUORUM),
        "review_required": sum(1 for d in decided.values() if d.decision == "review_required"),
        "recovery_s": recovery(samples, tap, fault_end, window_s),
        "timeline": timeline(samples, t0),
    }


def _status_class(status: str) -> str:
    return f"{status[0]}xx" if status[:1].isdigit() else status


def recovery(
    samples: Sequence[Sample], tap: DecisionTap, fault_end: float, window_s: float
) -> float | None:
    """Seconds from the fault's end to the first window that is healthy throughout."""

    def healthy(s: Sample) -> bool:
        if not is_ok(s):
            return False
        if s.intent_id is None or s.intent_id not in awaiting_decision([s]):
            return True
        d = tap.decisions.get(s.intent_id)
        return d is not None and d.opinions == FULL_QUORUM

    after = sorted((s for s in samples if s.sent_at >= fault_end), key=lambda s: s.sent_at)
    last = after[-1].sent_at if after else fault_end
    bad = [s.sent_at for s in after if not healthy(s)]
    start = fault_end
    while start + window_s <= last:
        inside = [t for t in bad if start <= t < start + window_s]
        if not inside:
            return round(start - fault_end, 2)
        start = inside[-1] + 0.001  # the window can only be healthy after its last bad one
    return None


def timeline(samples: Sequence[Sample], t0: float) -> list[dict[str, Any]]:
    per_second: dict[int, list[Sample]] = defaultdict(list)
    for s in samples:
        per_second[int(s.sent_at - t0)].append(s)
    out = []
    for second in sorted(per_second):
        group = per_second[second]
        ok = [s.latency_ms for s in group if is_ok(s)]
        out.append(
            {"t": second, "ok": len(ok), "err": len(group) - len(ok), "p99_ms": percentile(ok, 99)}
        )
    return out


async def run_chaos(
    stack: PodmanStack,
    traffic: Traffic,
    cases: Sequence[Case],
    rate: float,
    settle_s: float = 5.0,
) -> list[dict[str, Any]]:
    """Run each case with a tap of its own (a broker restart must not blind the next one)."""
    results = []
    for case in cases:
        async with DecisionTap(stack.tap_command(eager=True)) as tap:
            results.append(await run_case(stack, traffic, tap, case, rate))
        await asyncio.sleep(settle_s)
    return results
