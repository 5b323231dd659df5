"""Prometheus metrics of the gateway (its own registry, created with the app)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

_LATENCY = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0)


class GatewayMetrics:
    def __init__(self) -> None:
        self.registry = r = CollectorRegistry()
        self.intents = Counter(
            "neural_hive_gateway_intents",
            "Intents answered, by status",
            ["status", "domain", "source"],
            registry=r,
        )
        self.refused = Counter(
            "neural_hive_gateway_refused", "Intents refused, by reason", ["reason"], registry=r
        )
        self.dedup_degraded = Counter(
            "neural_hive_gateway_dedup_degraded",
            "Intents accepted without dedup (Redis unreachable)",
            registry=r,
        )
        self.redelivered = Counter(
            "neural_hive_gateway_redelivered",
            "Acknowledged intents published again because no decision came in time",
            registry=r,
        )
        self.redelivery_abandoned = Counter(
            "neural_hive_gateway_redelivery_abandoned",
            "Intents left undecided after every redelivery attempt",
            registry=r,
        )
        self.nlu_seconds = Histogram(
            "neural_hive_gateway_nlu_seconds", "NLU time per intent", buckets=_LATENCY, registry=r
        )
        self.publish_seconds = Histogram(
            "neural_hive_gateway_publish_seconds",
            "Time for the broker to acknowledge an intent",
            buckets=_LATENCY,
            registry=r,
        )
        self.confidence = Histogram(
            "neural_hive_gateway_confidence",
            "NLU domain confidence",
            buckets=tuple(i / 10 for i in range(1, 11)),
            registry=r,
        )
