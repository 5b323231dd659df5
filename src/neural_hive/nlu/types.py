"""Labels and result types shared by the NLU modules."""

from __future__ import annotations

from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field

Language = Literal["pt", "en", "es"]
LANGUAGES: Final[tuple[Language, ...]] = ("pt", "en", "es")

DOMAINS: Final[tuple[str, ...]] = ("BUSINESS", "TECHNICAL", "INFRASTRUCTURE", "SECURITY")

#: Finer classification per domain (documented in data/nlu/README.md).
CLASSIFICATIONS: Final[dict[str, tuple[str, ...]]] = {
    "BUSINESS": ("report", "pricing", "billing", "marketing", "finance", "workflow"),
    "TECHNICAL": ("bug", "feature", "api", "performance", "testing", "refactoring"),
    "INFRASTRUCTURE": ("deployment", "scaling", "network", "storage", "ci_cd", "monitoring"),
    "SECURITY": (
        "access",
        "authentication",
        "secrets",
        "vulnerability",
        "incident",
        "compliance",
    ),
}

EntityLabel = Literal["EMAIL", "PHONE", "CPF", "CNPJ", "ID", "MONEY", "DATE", "IP", "URL", "TICKET"]


class Entity(BaseModel):
    """A span found by the entity rules; ``start``/``end`` are character offsets."""

    model_config = ConfigDict(frozen=True)

    label: EntityLabel
    text: str
    start: int = Field(ge=0)
    end: int = Field(ge=0)


class NluResult(BaseModel):
    """What the gateway gets for one text."""

    model_config = ConfigDict(frozen=True)

    lang: Language
    lang_detected: bool = Field(description="True when the language was detected, not given")
    domain: str
    confidence: float = Field(ge=0.0, le=1.0)
    classification: str
    classification_confidence: float = Field(ge=0.0, le=1.0)
    scores: dict[str, float]
    entities: list[Entity]
    keywords: list[str]
