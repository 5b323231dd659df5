"""Gateway settings: flags override NEURAL_HIVE_* environment variables."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from neural_hive.asr.settings import AsrSettings

Profile = Literal["local", "staging", "production"]


class GatewaySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="NEURAL_HIVE_", extra="ignore")

    profile: Profile = "production"
    host: str = "0.0.0.0"  # noqa: S104 - listens on all interfaces inside its container
    port: int = Field(default=8000, ge=0, le=65535)
    log_level: str = "info"

    # Auth: required unless switched off explicitly (auth_enabled=false) or profile=local.
    auth_enabled: bool | None = None
    jwt_algorithm: Literal["HS256", "RS256"] = "HS256"
    jwt_secret: SecretStr | None = None
    jwks_url: str | None = None
    jwt_audience: str | None = None
    jwt_issuer: str | None = None

    kafka_bootstrap_servers: str = "kafka.neural-hive-kafka.svc.cluster.local:9092"
    kafka_idempotence: bool = True  # off for brokers without idempotent producers (Tansu)
    kafka_create_topics: bool = True
    kafka_topic_partitions: int = Field(default=3, ge=1)
    max_record_bytes: int = Field(default=256 * 1024, ge=1024)

    redis_url: SecretStr = SecretStr("redis://redis.neural-hive-redis.svc.cluster.local:6379/0")
    dedup_ttl_s: int = Field(default=86_400, ge=1)
    intent_ttl_s: int = Field(default=86_400, ge=60)
    nlu_cache_ttl_s: int = Field(default=3_600, ge=0)
    redis_max_connections: int = Field(default=256, ge=1)
    # An acknowledged intent still without a decision after this long is published again
    # (a broker lost it); 0 turns redelivery off. Checked every interval, up to `batch`
    # intents a pass, each at most `max_attempts` times.
    redeliver_after_s: float = Field(default=30.0, ge=0)
    redeliver_interval_s: float = Field(default=5.0, gt=0)
    redeliver_batch: int = Field(default=500, ge=1)
    redeliver_max_attempts: int = Field(default=3, ge=1)

    nlu_model_path: Path = Path("/opt/neural-hive/models/nlu")
    validation_threshold: float = Field(default=0.6, ge=0, le=1)
    mask_pii: bool = True

    max_body_bytes: int = Field(default=64 * 1024, ge=1024)
    # Speech recognition reads its own NEURAL_HIVE_ASR_* variables (neural_hive.asr).
    asr: AsrSettings = Field(default_factory=AsrSettings)

    @property
    def auth_required(self) -> bool:
        if self.auth_enabled is not None:
            return self.auth_enabled
        return self.profile != "local"

    @model_validator(mode="after")
    def _check_auth(self) -> GatewaySettings:
        if self.auth_required:
            if self.jwt_algorithm == "HS256" and self.jwt_secret is None:
                raise ValueError(
                    "auth is on with HS256 but jwt_secret is not set "
                    "(NEURAL_HIVE_JWT_SECRET), or set NEURAL_HIVE_AUTH_ENABLED=false"
                )
            if self.jwt_algorithm == "RS256" and not self.jwks_url:
                raise ValueError(
                    "auth is on with RS256 but jwks_url is not set (NEURAL_HIVE_JWKS_URL)"
                )
        return self
