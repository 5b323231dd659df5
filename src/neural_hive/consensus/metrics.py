"""Prometheus metrics of the consensus engine (its own registry, created at start)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

_LATENCY = (0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1.0, 2.5, 5.0)


class ConsensusMetrics:
    def __init__(self) -> None:
        self.registry = r = CollectorRegistry()
        self.consumed = Counter(
            "neural_hive_consensus_intents", "Intent records consumed", ["topic"], registry=r
        )
        self.decisions = Counter(
            "neural_hive_consensus_decisions", "Decisions made", ["decision"], registry=r
        )
        self.guardrails = Counter(
            "neural_hive_consensus_guardrails", "Guardrails triggered", ["guardrail"], registry=r
        )
        self.dead_letters = Counter(
            "neural_hive_consensus_dead_letters",
            "Records sent to a dead-letter topic",
            ["reason"],
            registry=r,
        )
        self.specialist_failures = Counter(
            "neural_hive_consensus_specialist_failures",
            "Specialist calls without an opinion",
            ["specialist_type", "code"],
            registry=r,
        )
        self.publish_retries = Counter(
            "neural_hive_consensus_publish_retries",
            "Decision records sent again after the broker refused them",
            registry=r,
        )
        self.repeats_skipped = Counter(
            "neural_hive_consensus_repeats_skipped",
            "Redelivered intents not decided again (a decision was already recorded)",
            registry=r,
        )
        self.redis_failures = Counter(
            "neural_hive_consensus_redis_failures", "Decisions not written to Redis", registry=r
        )
        self.fanout_seconds = Histogram(
            "neural_hive_consensus_fanout_seconds",
            "Time to gather the specialists' opinions",
            buckets=_LATENCY,
            registry=r,
        )
        self.decision_seconds = Histogram(
            "neural_hive_consensus_decision_seconds",
            "Record consumed to decision published",
            buckets=_LATENCY,
            registry=r,
        )
