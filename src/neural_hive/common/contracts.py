"""Names and documents that cross service boundaries: topics, Redis keys, the intent envelope.

The gateway writes what the consensus engine reads, so both import them from here.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from neural_hive.common.plan import Priority, SecurityLevel

ENVELOPE_SCHEMA_VERSION = 1
VALIDATION_TOPIC = "intentions.validation"
DECISION_TOPIC = "plans.consensus"


class Domain(StrEnum):
    BUSINESS = "BUSINESS"
    TECHNICAL = "TECHNICAL"
    INFRASTRUCTURE = "INFRASTRUCTURE"
    SECURITY = "SECURITY"


def intent_topic(domain: Domain | str) -> str:
    return f"intentions.{str(domain).lower()}"


def dlq_topic(source_topic: str) -> str:
    return f"dlq.{source_topic}"


INTENT_TOPICS = tuple(intent_topic(d) for d in Domain)


def intent_key(intent_id: str) -> str:
    """Redis hash holding an intent's `envelope` and `topic` and, once decided, its `decision`."""
    return f"intent:{intent_id}"


# Redis sorted set of the acknowledged intents not yet confirmed, scored by when they were
# last published (ms since the epoch). The gateway adds an intent after the broker's ack, the
# consensus engine removes it with its decision (or, for an intent routed to human validation,
# once it read it back), and the gateway publishes again what stays too long: a broker that
# lost acknowledged records (one without storage that restarted) does not lose the intent
# with them.
PENDING_KEY = "intents:pending"
# Header on an intent published again from Redis: how many times it was (b"1", b"2", ...).
REDELIVERY_HEADER = "redelivery"


class Entity(BaseModel):
    model_config = ConfigDict(extra="allow")

    type: str
    value: str
    start: int | None = None
    end: int | None = None


class IntentBody(BaseModel):
    model_config = ConfigDict(extra="allow")

    text: str = Field(min_length=1, max_length=10_000)
    domain: Domain
    classification: str = Field(default="general", max_length=64)
    language: str = Field(default="en", max_length=8)
    entities: list[Entity] = Field(default_factory=list)
    keywords: list[str] = Field(default_factory=list)


class Actor(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str = "anonymous"
    type: str = "human"


class Constraints(BaseModel):
    model_config = ConfigDict(extra="allow")

    priority: Priority = "normal"
    deadline: datetime | None = None
    security_level: SecurityLevel = "internal"


class IntentEnvelope(BaseModel):
    """What the gateway publishes on `intentions.<domain>` (schema_version 1)."""

    model_config = ConfigDict(extra="allow")

    schema_version: int = ENVELOPE_SCHEMA_VERSION
    id: str = Field(min_length=1, max_length=128)
    correlation_id: str = Field(min_length=1, max_length=128)
    actor: Actor = Field(default_factory=Actor)
    intent: IntentBody
    confidence: float = Field(ge=0.0, le=1.0)
    context: dict[str, Any] = Field(default_factory=dict)
    constraints: Constraints = Field(default_factory=Constraints)
    timestamp: datetime = Field(default_factory=lambda: datetime.now(UTC))
