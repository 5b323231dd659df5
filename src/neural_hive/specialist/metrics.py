"""Prometheus metrics of one specialist process (its own registry, created at start)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

_SCORE_BUCKETS = tuple(i / 10 for i in range(1, 11))
_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)


class SpecialistMetrics:
    def __init__(self, specialist_type: str) -> None:
        self.registry = CollectorRegistry()
        labels = {"specialist_type": specialist_type}
        self.evaluations = Counter(
            "neural_hive_specialist_evaluations",
            "Plans evaluated, by recommendation",
            ["recommendation"],
            registry=self.registry,
        )
        self.errors = Counter(
            "neural_hive_specialist_errors",
            "Evaluations refused, by gRPC status code",
            ["code"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "neural_hive_specialist_evaluation_seconds",
            "EvaluatePlan processing time",
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.confidence = Histogram(
            "neural_hive_specialist_confidence",
            "Confidence of the opinions given",
            buckets=_SCORE_BUCKETS,
            registry=self.registry,
        )
        self.risk = Histogram(
            "neural_hive_specialist_risk",
            "Risk of the opinions given",
            buckets=_SCORE_BUCKETS,
            registry=self.registry,
        )
        info = Gauge(
            "neural_hive_specialist_info",
            "Specialist identity",
            list(labels),
            registry=self.registry,
        )
        info.labels(**labels).set(1)
