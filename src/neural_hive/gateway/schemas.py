"""Request and response bodies of the gateway's HTTP API."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from neural_hive.common.plan import Priority, SecurityLevel

Language = Literal["pt", "en", "es"]


class IntentConstraints(BaseModel):
    model_config = ConfigDict(extra="allow")

    priority: Priority = "normal"
    deadline: datetime | None = None
    security_level: SecurityLevel = "internal"
    max_retries: int | None = Field(default=None, ge=0, le=10)


class Qos(BaseModel):
    model_config = ConfigDict(extra="forbid")

    delivery_mode: Literal["at_least_once", "exactly_once"] = "at_least_once"
    timeout_ms: int | None = Field(default=None, ge=1, le=600_000)


class IntentRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=10_000, description="The request, pt, en or es")
    language: Language | None = Field(default=None, description="Detected when not given")
    correlation_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=128,
        pattern=r"^[A-Za-z0-9._:\-]+$",
        description="Idempotency key: a repeat answers duplicate_detected",
    )
    constraints: IntentConstraints | None = None
    qos: Qos | None = None
    context: dict[str, str] | None = Field(default=None, max_length=32)


class IntentStatus(StrEnum):
    PROCESSED = "processed"
    ROUTED_TO_VALIDATION = "routed_to_validation"
    DUPLICATE_DETECTED = "duplicate_detected"


class IntentResponse(BaseModel):
    intent_id: str
    correlation_id: str
    status: IntentStatus
    domain: str | None = None
    classification: str | None = None
    confidence: float | None = None
    language: str | None = None
    topic: str | None = None
    processing_time_ms: float
    transcript: str | None = None


class IntentRecord(BaseModel):
    intent_id: str
    status: Literal["pending", "decided"]
    envelope: dict[str, Any]
    decision: dict[str, Any] | None = None


class ErrorBody(BaseModel):
    detail: Any
