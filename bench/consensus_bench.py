"""Benchmark the consensus engine: intent published to decision in Redis, at a fixed rate.

Starts real redis-server, the Tansu broker, five specialist processes and the
`neural-hive-consensus` console script, then publishes intents open-loop at --rate per
second and timestamps each decision by Redis keyspace notification (no polling).
Latency = notification time - the moment the intent was handed to the producer.

    python bench/consensus_bench.py [--rate 50] [--seconds 20] [--warmup 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import time
import uuid
from dataclasses import asdict, dataclass, field

import httpx
import redis.asyncio as aioredis
from aiokafka import AIOKafkaProducer
from common import median, percentile, rss_mb, write_report

from neural_hive.common.contracts import Domain, intent_topic
from neural_hive.devstack import BIN, free_port, start_redis, start_specialists, start_tansu

TEXTS = {
    Domain.BUSINESS: "Prepare the quarterly revenue report by region for the board",
    Domain.TECHNICAL: "Corrigir o bug de paginação na API de pedidos",
    Domain.INFRASTRUCTURE: "Escalar el deployment de checkout a seis réplicas",
    Domain.SECURITY: "Rotate the database credentials and enforce MFA for admins",
}


def envelope(i: int) -> dict[str, object]:
    domain = list(Domain)[i % 4]
    return {
        "id": str(uuid.uuid4()),
        "correlation_id": f"bench-{i}",
        "confidence": 0.9,
        "intent": {
            "text": TEXTS[domain],
            "domain": domain.value,
            "classification": "default",
            "language": "en",
        },
    }


async def main(args: argparse.Namespace) -> None:
    redis = start_redis("--notify-keyspace-events", "Kh")
    broker = start_tansu()
    specialists = start_specialists()
    http_port = free_port()
    env = {
        **os.environ,
        "NEURAL_HIVE_KAFKA_BOOTSTRAP_SERVERS": broker.address,
        "NEURAL_HIVE_KAFKA_IDEMPOTENCE": "false",
        "NEURAL_HIVE_REDIS_URL": redis.extra["url"],
        "NEURAL_HIVE_HOST": "127.0.0.1",
        "NEURAL_HIVE_LOG_LEVEL": "warning",
        "NEURAL_HIVE_SPECIALISTS": json.dumps({k: s.address for k, s in specialists.items()}),
    }
    engine = subprocess.Popen(
        [str(BIN / "neural-hive-consensus"), "--http-port", str(http_port)], env=env
    )
    try:
        async with httpx.AsyncClient() as client:
            for _ in range(600):
                try:
                    if (await client.get(f"http://127.0.0.1:{http_port}/ready")).is_success:
                        break
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.05)
            else:
                raise SystemExit("consensus engine never became ready")
        result = await run_load(broker.address, str(redis.extra["url"]), args)
        memory = rss_mb(engine.pid)
    finally:
        engine.terminate()
        engine.wait(10)
        for svc in (*specialists.values(), broker, redis):
            svc.stop()
    lat = result.latencies_ms
    summary = {k: v for k, v in asdict(result).items() if k != "latencies_ms"}
    p50, p99 = round(median(lat), 2), round(percentile(lat, 99), 2)
    report = {
        **summary,
        "p50_ms": p50,
        "p99_ms": p99,
        "max_ms": round(max(lat), 2),
        "engine_memory": memory,
    }
    write_report(
        "consensus",
        report,
        [
            (
                "offered / achieved rate",
                f"{args.rate} / {result.achieved_rate} per s for {args.seconds} s "
                f"(+{args.warmup} s warm-up)",
                "",
            ),
            ("decisions measured / lost", f"{len(lat)} / {result.lost}", "0 lost"),
            ("intent published to decision in Redis, P50", f"{p50} ms", "< 50 ms"),
            ("intent published to decision in Redis, P99", f"{p99} ms", "< 200 ms"),
            ("engine RSS (peak)", f"{memory['rss_mb']} MB ({memory['peak_rss_mb']} MB)", "report"),
        ],
    )


@dataclass
class LoadResult:
    rate: float
    achieved_rate: float
    seconds: float
    sent: int
    lost: int
    latencies_ms: list[float] = field(repr=False)


async def run_load(bootstrap: str, redis_url: str, args: argparse.Namespace) -> LoadResult:
    r = aioredis.from_url(redis_url)
    pubsub = r.pubsub()
    await pubsub.psubscribe("__keyspace@0__:intent:*")
    decided: dict[str, float] = {}

    async def listen() -> None:
        async for msg in pubsub.listen():
            if msg["type"] == "pmessage" and msg["data"] == b"hset":
                decided.setdefault(msg["channel"].decode().rsplit(":", 1)[1], time.perf_counter())

    listener = asyncio.create_task(listen())
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=0)
    await producer.start()
    sent: dict[str, float] = {}
    total = int(args.rate * (args.seconds + args.warmup))
    warm = int(args.rate * args.warmup)
    start = time.perf_counter()
    for i in range(total):
        delay = start + i / args.rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        doc = envelope(i)
        t0 = time.perf_counter()
        await producer.send(
            intent_topic(str(doc["intent"]["domain"])),  # type: ignore[index]
            json.dumps(doc).encode(),
            key=str(doc["id"]).encode(),
        )
        if i >= warm:
            sent[str(doc["id"])] = t0
    await producer.flush()
    achieved = total / (time.perf_counter() - start)
    deadline = time.perf_counter() + 10
    while time.perf_counter() < deadline and not sent.keys() <= decided.keys():
        await asyncio.sleep(0.05)
    listener.cancel()
    await producer.stop()
    await pubsub.aclose()  # type: ignore[no-untyped-call]
    await r.aclose()
    latencies = [(decided[i] - t) * 1000 for i, t in sent.items() if i in decided]
    return LoadResult(
        args.rate,
        round(achieved, 1),
        args.seconds,
        len(sent),
        len(sent) - len(latencies),
        latencies,
    )


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rate", type=float, default=50)
    p.add_argument("--seconds", type=float, default=20)
    p.add_argument("--warmup", type=float, default=3)
    asyncio.run(main(p.parse_args()))
