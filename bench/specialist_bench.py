"""Benchmark one specialist process: EvaluatePlan against an empty unary method.

Both methods are served by the same grpc.aio server in the same process (HealthCheck
of SpecialistService does no work), loaded by 16 concurrent clients (one channel each)
in alternating rounds, so the ratio cancels most of the machine's noise. Also measured:
resident memory of the specialist under that load, and process start to SERVING.

    python bench/specialist_bench.py [--rounds 3] [--seconds 5] [--clients 16]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Awaitable, Callable

import grpc
from common import median, percentile, rss_mb, write_report
from grpc_health.v1 import health_pb2, health_pb2_grpc

from neural_hive.common.contracts import IntentEnvelope
from neural_hive.consensus.planner import build_plan
from neural_hive.devstack import spawn_specialist, wait_specialist
from neural_hive.proto import specialist_pb2 as pb
from neural_hive.proto import specialist_pb2_grpc as pb_grpc

Call = Callable[[pb_grpc.SpecialistServiceStub], Awaitable[object]]


def sample_request() -> pb.EvaluatePlanRequest:
    env = IntentEnvelope.model_validate(
        {
            "id": "bench-intent",
            "correlation_id": "bench",
            "confidence": 0.9,
            "intent": {
                "text": "Add retries with backoff to the payment API client",
                "domain": "TECHNICAL",
                "classification": "feature",
            },
        }
    )
    plan = build_plan(env)
    return pb.EvaluatePlanRequest(
        plan_id=plan.plan_id,
        intent_id=plan.intent_id,
        cognitive_plan=plan.to_json_bytes(),
        plan_version="1.0",
    )


async def load(address: str, call: Call, clients: int, seconds: float) -> dict[str, float]:
    channels = [grpc.aio.insecure_channel(address) for _ in range(clients)]
    stubs = [pb_grpc.SpecialistServiceStub(ch) for ch in channels]  # type: ignore[no-untyped-call]
    for s in stubs:  # connect and warm up outside the measured window
        await call(s)
    latencies: list[float] = []
    errors = 0
    stop_at = time.perf_counter() + seconds

    async def client(stub: pb_grpc.SpecialistServiceStub) -> None:
        nonlocal errors
        while (t0 := time.perf_counter()) < stop_at:
            try:
                await call(stub)
            except grpc.aio.AioRpcError:
                errors += 1
                continue
            latencies.append(time.perf_counter() - t0)

    start = time.perf_counter()
    await asyncio.gather(*(client(s) for s in stubs))
    elapsed = time.perf_counter() - start
    await asyncio.gather(*(ch.close(None) for ch in channels))
    return {
        "rps": len(latencies) / elapsed,
        "p50_ms": percentile(latencies, 50) * 1000,
        "p99_ms": percentile(latencies, 99) * 1000,
        "errors": errors,
        "calls": len(latencies),
    }


def time_to_serving(kind: str) -> float:
    """Seconds from process spawn to the first grpc.health.v1 SERVING answer."""
    t0 = time.perf_counter()
    s = spawn_specialist(kind)
    try:
        with grpc.insecure_channel(s.address) as ch:
            stub = health_pb2_grpc.HealthStub(ch)
            while True:
                try:
                    r = stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=0.2)
                    if r.status == health_pb2.HealthCheckResponse.SERVING:
                        return time.perf_counter() - t0
                except grpc.RpcError:
                    pass
                time.sleep(0.005)
    finally:
        s.stop()


async def main(args: argparse.Namespace) -> None:
    request = sample_request()
    empty = pb.HealthCheckRequest()

    async def evaluate(stub: pb_grpc.SpecialistServiceStub) -> object:
        return await stub.EvaluatePlan(request, timeout=5)

    async def nothing(stub: pb_grpc.SpecialistServiceStub) -> object:
        return await stub.HealthCheck(empty, timeout=5)

    s = wait_specialist(spawn_specialist("technical"))
    rounds: dict[str, list[dict[str, float]]] = {"evaluate": [], "empty": []}
    try:
        for r in range(args.rounds):
            for name, call in (("empty", nothing), ("evaluate", evaluate)):
                res = await load(s.address, call, args.clients, args.seconds)
                rounds[name].append(res)
                print(
                    f"round {r + 1} {name:8s} {res['rps']:7.0f} rps  "
                    f"p50 {res['p50_ms']:.2f} ms  p99 {res['p99_ms']:.2f} ms  "
                    f"errors {res['errors']:.0f}",
                    flush=True,
                )
        memory = rss_mb(s.proc.pid)
    finally:
        s.stop()
    starts = [time_to_serving("business") for _ in range(args.starts)]

    def med(name: str, key: str) -> float:
        return round(median([x[key] for x in rounds[name]]), 2)

    ev_rps, em_rps = med("evaluate", "rps"), med("empty", "rps")
    data = {
        "clients": args.clients,
        "seconds_per_round": args.seconds,
        "rounds": rounds,
        "evaluate": {k: med("evaluate", k) for k in ("rps", "p50_ms", "p99_ms")},
        "empty": {k: med("empty", k) for k in ("rps", "p50_ms", "p99_ms")},
        "throughput_ratio_evaluate_to_empty": round(ev_rps / em_rps, 3),
        "memory": memory,
        "start_to_serving_s": [round(x, 3) for x in starts],
    }
    write_report(
        "specialist",
        data,
        [
            ("EvaluatePlan throughput (median of rounds)", f"{ev_rps:.0f} RPC/s", ">= 1500"),
            (
                "EvaluatePlan P50 / P99",
                f"{med('evaluate', 'p50_ms')} / {med('evaluate', 'p99_ms')} ms",
                "P99 < 10 ms",
            ),
            ("empty unary throughput", f"{em_rps:.0f} RPC/s", "baseline"),
            (
                "empty unary P50 / P99",
                f"{med('empty', 'p50_ms')} / {med('empty', 'p99_ms')} ms",
                "baseline",
            ),
            ("throughput ratio evaluate / empty", f"{ev_rps / em_rps:.2f}", "report"),
            (
                "RSS after load (peak)",
                f"{memory['rss_mb']} MB ({memory['peak_rss_mb']} MB)",
                "< 100 MB",
            ),
            (f"start to SERVING (median of {len(starts)})", f"{median(starts):.2f} s", "< 2 s"),
        ],
    )


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--seconds", type=float, default=5.0)
    p.add_argument("--clients", type=int, default=16)
    p.add_argument("--starts", type=int, default=5)
    asyncio.run(main(p.parse_args()))
