"""Specialist settings: flags override NEURAL_HIVE_* environment variables."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from neural_hive.specialist.scorers import SpecialistType


class SpecialistSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="NEURAL_HIVE_", extra="ignore")

    specialist_type: SpecialistType
    host: str = "0.0.0.0"  # noqa: S104 - a server in a container listens on all interfaces
    grpc_port: int = Field(default=50051, ge=0, le=65535)
    http_port: int = Field(default=8000, ge=0, le=65535)
    max_message_bytes: int = Field(default=4 * 1024 * 1024, ge=1024)
    log_level: str = "info"
