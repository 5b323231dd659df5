"""Natural-language understanding for the intent gateway.

Language detection, domain and finer classification (trained spaCy text classifiers),
rule-based entity extraction, keywords and PII masking. Importing this package is cheap:
spaCy is only imported when a model is trained or loaded.
"""

from neural_hive.nlu.entities import extract_entities, mask_pii
from neural_hive.nlu.langdetect import detect_language
from neural_hive.nlu.types import (
    CLASSIFICATIONS,
    DOMAINS,
    LANGUAGES,
    Entity,
    NluResult,
)

__all__ = [
    "CLASSIFICATIONS",
    "DOMAINS",
    "LANGUAGES",
    "Entity",
    "IntentClassifier",
    "NluResult",
    "detect_language",
    "extract_entities",
    "mask_pii",
]


def __getattr__(name: str) -> object:
    # IntentClassifier pulls in spaCy; import it only when asked for.
    if name == "IntentClassifier":
        from neural_hive.nlu.classifier import IntentClassifier

        return IntentClassifier
    raise AttributeError(name)
