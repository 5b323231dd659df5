"""The gateway-facing API: load a trained artifact once, classify texts cheaply."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from neural_hive.nlu.entities import extract_entities
from neural_hive.nlu.langdetect import detect_language
from neural_hive.nlu.pipeline import (
    FORMAT_VERSION,
    META_FILE,
    apply_temperature,
    fold,
    register_components,
)
from neural_hive.nlu.types import CLASSIFICATIONS, DOMAINS, LANGUAGES, Language, NluResult

if TYPE_CHECKING:
    from spacy.language import Language as SpacyLanguage
    from spacy.tokens import Doc


class ModelError(RuntimeError):
    """The model directory is missing, incomplete or from another format version."""


MAX_KEYWORDS = 8


@contextmanager
def torch_blocked() -> Iterator[None]:
    """Keep ``import torch`` from happening while spaCy is imported and models load.

    thinc imports torch when it is installed (~250 MB RSS, ~1 s), and these models do
    not use it. While the block is active ``sys.modules["torch"]`` is ``None``, so
    thinc sees torch as unavailable. Nothing is done when torch is already imported,
    and the entry is removed afterwards: a later ``import torch`` (the ASR component)
    works normally.
    """
    if "torch" in sys.modules:
        yield
        return
    sys.modules["torch"] = None  # type: ignore[assignment]
    try:
        yield
    finally:
        if sys.modules.get("torch", 0) is None:
            del sys.modules["torch"]


class IntentClassifier:
    """Language detection, domain/classification, entities and keywords for one text.

    >>> clf = IntentClassifier.load("models/nlu")          # doctest: +SKIP
    >>> clf.classify("o deploy de ontem derrubou o checkout").domain  # doctest: +SKIP
    'INFRASTRUCTURE'
    """

    def __init__(
        self,
        pipelines: Mapping[Language, SpacyLanguage],
        meta: Mapping[str, Any] | None = None,
        default_language: Language = "pt",
    ) -> None:
        if not pipelines:
            raise ModelError("no language pipelines")
        self._pipelines = dict(pipelines)
        self.meta: dict[str, Any] = dict(meta or {})
        self.default_language: Language = (
            default_language if default_language in self._pipelines else next(iter(pipelines))
        )
        self.temperature = float(self.meta.get("temperature", 1.0))
        self._stop_words = {
            lang: frozenset(fold(w) for w in nlp.Defaults.stop_words)
            for lang, nlp in self._pipelines.items()
        }

    @property
    def languages(self) -> tuple[Language, ...]:
        return tuple(lang for lang in LANGUAGES if lang in self._pipelines)

    @classmethod
    def load(cls, path: str | Path, default_language: Language = "pt") -> IntentClassifier:
        """Load every language found in a directory written by ``neural-hive-nlu train``.

        spaCy is imported with torch blocked (see :func:`torch_blocked`).
        """
        with torch_blocked():
            return cls._load(Path(path), default_language)

    @classmethod
    def _load(cls, root: Path, default_language: Language) -> IntentClassifier:
        import spacy

        meta_path = root / META_FILE
        if not meta_path.is_file():
            raise ModelError(f"{root}: not an NLU model directory (no {META_FILE})")
        meta = json.loads(meta_path.read_text())
        if meta.get("format") != FORMAT_VERSION:
            raise ModelError(f"{root}: model format {meta.get('format')!r}, need {FORMAT_VERSION}")
        register_components()
        pipelines: dict[Language, SpacyLanguage] = {}
        for lang in LANGUAGES:
            if lang in meta.get("languages", []):
                pipelines[lang] = spacy.load(root / lang)
        return cls(pipelines, meta, default_language)

    def resolve_language(self, text: str, lang: str | None) -> tuple[Language, bool]:
        if lang is not None:
            short = lang.lower().replace("_", "-").split("-")[0]
            for known in self.languages:
                if short == known:
                    return known, False
        detected, _ = detect_language(text, self.default_language)
        if detected not in self._pipelines:
            detected = self.default_language
        return detected, True

    def fine_scores(self, doc: Doc, lang: Language) -> dict[str, float]:
        return apply_temperature(dict(doc.cats), self.temperature)

    def classify(self, text: str, lang: str | None = None) -> NluResult:
        """Classify ``text``; ``lang`` (pt/en/es, "pt-BR" accepted) skips detection."""
        language, detected = self.resolve_language(text, lang)
        nlp = self._pipelines[language]
        doc = nlp(text)
        fine = self.fine_scores(doc, language)
        domain_scores = {
            d: sum(fine.get(f"{d}/{c}", 0.0) for c in CLASSIFICATIONS[d]) for d in DOMAINS
        }
        domain = max(DOMAINS, key=lambda d: domain_scores[d])
        within = {c: fine.get(f"{domain}/{c}", 0.0) for c in CLASSIFICATIONS[domain]}
        classification = max(within, key=lambda c: within[c])
        total = sum(within.values()) or 1.0
        entities = extract_entities(text)
        return NluResult(
            lang=language,
            lang_detected=detected,
            domain=domain,
            confidence=round(min(1.0, domain_scores[domain]), 6),
            classification=classification,
            classification_confidence=round(min(1.0, within[classification] / total), 6),
            scores={d: round(v, 6) for d, v in domain_scores.items()},
            entities=entities,
            keywords=self._keywords(doc, language, [(e.start, e.end) for e in entities]),
        )

    def _keywords(self, doc: Doc, lang: Language, spans: list[tuple[int, int]]) -> list[str]:
        stop = self._stop_words[lang]
        seen: list[str] = []
        for token in doc:
            if not token.is_alpha or len(token.text) < 3:
                continue
            if any(s <= token.idx < e for s, e in spans):
                continue
            if fold(token.text) in stop:
                continue
            lemma = (token.lemma_ or token.text).lower()
            if fold(lemma) in stop or lemma in seen:
                continue
            seen.append(lemma)
            if len(seen) == MAX_KEYWORDS:
                break
        return seen
