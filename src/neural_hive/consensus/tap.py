"""`python -m neural_hive.consensus.tap`: a JSON line per record on the intent and decision topics.

The load and chaos tests (`neural-hive-loadtest`) run it inside the consensus engine's
container, where the cluster's Kafka names resolve, and read its stdout while they send
intents. A line says that an intent reached Kafka (`{"kind": "intent", ...}`, from
`intentions.*`, with `"redelivery": N` when the gateway published it again) or that a
decision was published (`{"kind": "decision", ...}`, from
`plans.consensus`), with the record's broker timestamp and the fields the reports need.
A line `lag` on its stdin asks for the consensus engine's lag (`{"kind": "lag", "lag": N}`);
only then, since listing every partition's end offsets stalls Tansu's produce for tens of
milliseconds, which a load test must not do to what it measures. Closing stdin ends it.
It starts at the end of every partition: only what arrives after it starts is printed.
It reads without a consumer group, so it never takes records from the consensus engine,
and it keeps going across broker restarts (a partition that starts over is read from 0).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from neural_hive.common.contracts import (
    DECISION_TOPIC,
    INTENT_TOPICS,
    REDELIVERY_HEADER,
    VALIDATION_TOPIC,
)
from neural_hive.common.kafka import RESTART_CHECK_S, RestartWatch

TOPICS = (*INTENT_TOPICS, VALIDATION_TOPIC, DECISION_TOPIC)


def summarize(record: ConsumerRecord[bytes, bytes]) -> dict[str, Any]:
    """The line printed for one record. The fields come from the record's headers (the
    gateway's `intent-id`, the engine's `decision`, `quorum-received` and `decided-at`):
    parsing every decision document cost more CPU than the engine spent making it. A
    record without them is read from its JSON body; a body that is not JSON is reported
    as such."""
    line: dict[str, Any] = {"topic": record.topic, "ts": record.timestamp}
    headers = {k: v.decode(errors="replace") for k, v in record.headers if v is not None}
    if record.topic == DECISION_TOPIC:
        if {"intent-id", "decision", "quorum-received"} <= headers.keys():
            return {
                **line,
                "kind": "decision",
                "id": headers["intent-id"],
                "decision": headers["decision"],
                "decided_at": headers.get("decided-at"),
                "opinions": int(headers["quorum-received"]),
            }
        body = _json(record)
        if body is None:
            return {**line, "kind": "unreadable"}
        return {
            **line,
            "kind": "decision",
            "id": body.get("intent_id"),
            "decision": body.get("decision"),
            "decided_at": body.get("decided_at"),
            "opinions": (body.get("quorum") or {}).get("received"),
        }
    intent: dict[str, Any] = {**line, "kind": "intent", "id": headers.get("intent-id")}
    if intent["id"] is None:
        body = _json(record)
        if body is None:
            return {**line, "kind": "unreadable"}
        intent["id"] = body.get("id")
    if REDELIVERY_HEADER in headers:  # the gateway published it again (see its redelivery)
        intent["redelivery"] = int(headers[REDELIVERY_HEADER] or 0)
    return intent


def _json(record: ConsumerRecord[bytes, bytes]) -> dict[str, Any] | None:
    try:
        body = json.loads(record.value or b"")
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def partitions(consumer: AIOKafkaConsumer) -> list[TopicPartition]:
    return [
        TopicPartition(topic, p)
        for topic in TOPICS
        for p in sorted(consumer.partitions_for_topic(topic) or ())
    ]


async def group_lag(
    admin: AIOKafkaAdminClient, consumer: AIOKafkaConsumer, group: str
) -> int | None:
    """Records on the intent topics that the consensus engine's group has not committed."""
    tps = [
        TopicPartition(t, p) for t in INTENT_TOPICS for p in consumer.partitions_for_topic(t) or ()
    ]
    if not tps:
        return None
    committed = await admin.list_consumer_group_offsets(group, partitions=tps)
    ends = await consumer.end_offsets(tps)
    done = {tp: meta.offset for tp, meta in committed.items() if meta is not None}
    return int(sum(max(0, end - max(done.get(tp, 0), 0)) for tp, end in ends.items()))


# Few, large fetches by default: at 500 intents/s a tap fetching as records arrived took
# Tansu from 21% to 77% of a core, starving the engine it measures (51% like this). It costs
# no accuracy in latency: the times it reports are the records' and decided-at's. The chaos
# cases fetch eagerly (--eager): a broker without storage that stops loses what the tap had
# not fetched yet, and the tap could no longer say that those intents reached it.
BULK_FETCH = {"fetch_max_wait_ms": 500, "fetch_min_bytes": 1 << 20}
EAGER_FETCH = {"fetch_max_wait_ms": 50, "fetch_min_bytes": 1}


async def tap(
    bootstrap: str,
    stop: asyncio.Event,
    group: str | None = None,
    refresh_s: float = 1.0,
    *,
    eager: bool = False,
    lag_wanted: asyncio.Event | None = None,
) -> None:
    """Print the records as they arrive until `stop`; the lag of `group` each time
    `lag_wanted` is set (it is cleared)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        client_id="neural-hive-tap",
        enable_auto_commit=False,
        auto_offset_reset="earliest",  # a partition recreated by a broker restart: from 0
        metadata_max_age_ms=int(refresh_s * 1000),
        **(EAGER_FETCH if eager else BULK_FETCH),
    )
    await consumer.start()
    restarts = RestartWatch(bootstrap, "neural-hive-tap")
    await restarts.start()
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="neural-hive-tap")
    if group:
        await admin.start()
    loop = asyncio.get_running_loop()
    try:
        assigned: set[TopicPartition] = set()
        announced = False
        next_restart_check = next_topics = 0.0
        while not stop.is_set():
            # Topics appear (or come back after a broker restart) while we run: a metadata
            # request once every refresh_s (not every fetch, 20 a second when eager).
            if loop.time() >= next_topics:
                next_topics = loop.time() + refresh_s
                with contextlib.suppress(KafkaError):
                    await consumer.topics()
            current = set(partitions(consumer))
            if current - assigned:
                new = current - assigned
                consumer.assign(sorted(current, key=str))
                if not assigned:
                    await consumer.seek_to_end(*new)
                else:
                    await consumer.seek_to_beginning(*new)
                assigned = current
            if not announced:  # positioned at the end: what arrives from now on is printed
                # Know the broker's epoch before a test injects its fault.
                for _ in range(5):
                    with contextlib.suppress(KafkaError):
                        await restarts.restarted()
                        break
                print(json.dumps({"kind": "ready", "partitions": len(assigned)}), flush=True)
                announced = True
            if not assigned:
                await asyncio.sleep(refresh_s)
                continue
            try:
                if loop.time() >= next_restart_check:
                    next_restart_check = loop.time() + RESTART_CHECK_S
                    if await restarts.restarted():  # every log begun again at 0
                        for tp in assigned:
                            consumer.seek(tp, 0)
                batch = await consumer.getmany(timeout_ms=int(refresh_s * 1000))
            except KafkaError:
                await asyncio.sleep(0.2)
                continue
            for records in batch.values():
                for record in records:
                    sys.stdout.write(json.dumps(summarize(record)) + "\n")
            if group and lag_wanted is not None and lag_wanted.is_set():
                lag_wanted.clear()
                with contextlib.suppress(KafkaError):
                    lag = await group_lag(admin, consumer, group)
                    sys.stdout.write(json.dumps({"kind": "lag", "lag": lag}) + "\n")
            sys.stdout.flush()
    finally:
        await restarts.stop()
        await consumer.stop()
        if group:
            await admin.close()


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m neural_hive.consensus.tap", description=__doc__)
    p.add_argument(
        "--bootstrap",
        help="Kafka bootstrap servers (default: NEURAL_HIVE_KAFKA_BOOTSTRAP_SERVERS)",
    )
    p.add_argument(
        "--group",
        help="the consumer group whose lag a `lag` line on stdin asks for "
        "(default: NEURAL_HIVE_CONSUMER_GROUP)",
    )
    p.add_argument(
        "--eager",
        action="store_true",
        help="fetch records as they arrive (more load on the broker) rather than in bulk",
    )
    args = p.parse_args(argv)
    from neural_hive.consensus.settings import ConsensusSettings

    settings = ConsensusSettings()
    bootstrap = args.bootstrap or settings.kafka_bootstrap_servers
    group = args.group or settings.consumer_group

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        lag_wanted = asyncio.Event()

        def command() -> None:  # `lag` asks for the lag; stdin closed (reader gone) stops
            line = sys.stdin.readline()
            if not line:
                stop.set()
            elif line.strip() == "lag":
                lag_wanted.set()

        loop.add_reader(sys.stdin.fileno(), command)
        await tap(bootstrap, stop, group, eager=args.eager, lag_wanted=lag_wanted)

    asyncio.run(run())


if __name__ == "__main__":
    main()
