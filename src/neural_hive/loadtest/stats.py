"""Summaries of the samples a run collected: percentiles, answers by status, decision latency."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence
from typing import Any

from neural_hive.common.contracts import VALIDATION_TOPIC
from neural_hive.loadtest.tap import DecisionTap
from neural_hive.loadtest.traffic import Sample

HISTOGRAM_SAMPLES = 5000


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))  # ceil(n * q / 100), at least 1
    return round(ordered[int(rank) - 1], 2)


def latency(values: Sequence[float]) -> dict[str, float | None]:
    return {
        "p50": percentile(values, 50),
        "p95": percentile(values, 95),
        "p99": percentile(values, 99),
        "max": round(max(values), 2) if values else None,
    }


def is_ok(sample: Sample) -> bool:
    return sample.status.startswith("2")


def acknowledged(samples: Sequence[Sample]) -> list[Sample]:
    """2xx answers that name an intent: the gateway promised it reached Kafka."""
    return [s for s in samples if is_ok(s) and s.intent_id]


def awaiting_decision(samples: Sequence[Sample]) -> set[str]:
    """Acknowledged intents the consensus engine decides (not routed to human validation)."""
    return {
        s.intent_id for s in acknowledged(samples) if s.intent_id and s.topic != VALIDATION_TOPIC
    }


def step_summary(
    name: str,
    offered: float,
    seconds: float,
    samples: Sequence[Sample],
    tap: DecisionTap | None,
    seed: int = 0,
) -> dict[str, Any]:
    text = [s for s in samples if s.kind == "text"]
    voice = [s for s in samples if s.kind == "voice"]
    first = min((s.sent_at for s in text), default=0.0)
    last = max((s.sent_at for s in text), default=0.0)
    ok_latencies = [s.latency_ms for s in text if is_ok(s)]
    out: dict[str, Any] = {
        "name": name,
        "offered_rps": offered,
        "seconds": seconds,
        "sent": len(text),
        # sent over the span they were sent in; answered 2xx over the same span
        "achieved_rps": round(len(text) / (last - first), 1) if last > first else None,
        "ok_rps": round(len(ok_latencies) / (last - first), 1) if last > first else None,
        "status": dict(Counter(s.status for s in text)),
        "latency_ms": latency(ok_latencies),
        "histogram_ms": _subsample(ok_latencies, seed),
    }
    if tap is not None:
        out["decision_ms"] = decision_latency(text, tap)
        out["acked"] = len(acknowledged(text))
        out["acked_not_in_kafka"] = len(lost(text, tap))
        out["redelivered"] = len(redelivered(text, tap))
        out["routed_to_validation"] = sum(
            1 for s in acknowledged(text) if s.topic == VALIDATION_TOPIC
        )
    if voice:
        out["voice"] = {
            "sent": len(voice),
            "status": dict(Counter(s.status for s in voice)),
            "latency_ms": latency([s.latency_ms for s in voice if is_ok(s)]),
        }
    return out


def decision_latency(samples: Sequence[Sample], tap: DecisionTap) -> dict[str, Any]:
    """Time from sending an intent to its decision's `decided_at`, for the decided ones."""
    waiting = awaiting_decision(samples)
    sent = {s.intent_id: s.sent_at for s in samples if s.intent_id in waiting}
    values = [
        (tap.decisions[i].decided_at - t) * 1000 for i, t in sent.items() if i in tap.decisions
    ]
    return {
        **latency(values),
        "decided": len(values),
        "missing": len(waiting) - len(values),
    }


def lost(samples: Sequence[Sample], tap: DecisionTap) -> list[str]:
    """Acknowledged intents the tap never saw on Kafka."""
    ids = (s.intent_id for s in acknowledged(samples))
    return sorted(i for i in ids if i is not None and i not in tap.reached_kafka)


def redelivered(samples: Sequence[Sample], tap: DecisionTap) -> set[str]:
    """Acknowledged intents the gateway published again, as no decision came in time (the
    broker lost them, or the engine was too far behind)."""
    return {i for s in acknowledged(samples) if (i := s.intent_id) in tap.redelivered}


def _subsample(values: list[float], seed: int) -> list[float]:
    if len(values) <= HISTOGRAM_SAMPLES:
        return [round(v, 2) for v in values]
    return [round(v, 2) for v in random.Random(seed).sample(values, HISTOGRAM_SAMPLES)]
