"""Consensus engine settings: flags override NEURAL_HIVE_* environment variables."""

from __future__ import annotations

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from neural_hive.common.contracts import DECISION_TOPIC, INTENT_TOPICS
from neural_hive.specialist.scorers import SpecialistType


def cluster_address(kind: SpecialistType) -> str:
    name = f"specialist-{kind.value}"
    return f"{name}.{name}.svc.cluster.local:50051"


class ConsensusSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="NEURAL_HIVE_", extra="ignore")

    host: str = "0.0.0.0"  # noqa: S104 - listens on all interfaces inside its container
    http_port: int = Field(default=8000, ge=0, le=65535)
    log_level: str = "info"

    kafka_bootstrap_servers: str = "kafka.neural-hive-kafka.svc.cluster.local:9092"
    kafka_idempotence: bool = True  # off for brokers without idempotent producers (Tansu)
    kafka_create_topics: bool = True
    kafka_topic_partitions: int = Field(default=3, ge=1)
    consumer_group: str = "consensus-engine"
    # Kafka's own default; real brokers refuse less than group.min.session.timeout.ms (6 s).
    # Tansu completes a group join only after half of it, so the local target sets 2 s.
    kafka_session_timeout_ms: int = Field(default=10_000, ge=1_000)
    intent_topics: list[str] = Field(default_factory=lambda: list(INTENT_TOPICS))
    decision_topic: str = DECISION_TOPIC
    # How long a poll may wait on the broker for records: a fetch returns as soon as records
    # arrive, so this costs no latency, while a short wait made the engine poll an idle
    # Tansu 100 times a second (and Tansu's in-memory fetch costs grow with its log).
    fetch_max_wait_ms: int = Field(default=100, ge=0)
    max_batch: int = Field(default=256, ge=1, le=1000)  # a specialist takes 1000 plans a call

    redis_url: SecretStr = SecretStr("redis://redis.neural-hive-redis.svc.cluster.local:6379/0")
    decision_ttl_s: int = Field(default=86_400, ge=60)

    specialists: dict[str, str] = Field(
        default_factory=lambda: {k.value: cluster_address(k) for k in SpecialistType}
    )
    evaluation_timeout_ms: int = Field(default=2000, ge=10)
    quorum: int = Field(default=3, ge=1)
    weights: dict[str, float] = Field(default_factory=dict)
    min_confidence: float = Field(default=0.6, ge=0, le=1)
    critical_risk: float = Field(default=0.7, ge=0, le=1)
    confident_reject: float = Field(default=0.8, ge=0, le=1)
    max_divergence: float = Field(default=0.6, ge=0, le=1)

    @model_validator(mode="after")
    def _check(self) -> ConsensusSettings:
        known = {k.value for k in SpecialistType}
        unknown = sorted((set(self.specialists) | set(self.weights)) - known)
        if unknown:
            raise ValueError(f"unknown specialist type(s) {unknown}; known: {sorted(known)}")
        if self.quorum > len(self.specialists):
            raise ValueError(
                f"quorum {self.quorum} exceeds the {len(self.specialists)} configured specialists"
            )
        return self
