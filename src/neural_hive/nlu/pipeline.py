"""Building and training the per-language spaCy pipelines.

Each language gets ``spacy.blank(lang)`` + a lookup lemmatizer + one exclusive text
classifier over the finer labels (``DOMAIN/class``, 24 of them); the domain score is the
sum of its classes' probabilities.

The classifier is a bag-of-features linear model (spaCy's ``TextCatBOW`` design: hashed
sparse features -> ``SparseLinear`` -> softmax) whose features generalise across wording:
accent- and case-folded word forms, lemmas, word bigrams and character n-grams of the
folded words (robust to inflection, missing accents and typos). It loads in a fraction of
a second and needs no tok2vec.

The lemmatizer looks a token up as written and then lower-cased. Its table (from
spacy-lookups-data) is pruned at training time to the entries whose lemma occurs in the
training data: the classifier has no weight for any other lemma, and the full tables
(~800k Portuguese forms) would cost ~250 MB of RSS and seconds of load time.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import random
import time
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from neural_hive.nlu.data import Example, training_examples
from neural_hive.nlu.types import CLASSIFICATIONS, DOMAINS, LANGUAGES, Language

if TYPE_CHECKING:
    from spacy.language import Language as SpacyLanguage
    from spacy.tokens import Doc, Token
    from thinc.api import Model

LEMMATIZER_COMPONENT: Final = "lemmatizer"
LEMMATIZER_FACTORY: Final = "neural_hive_lemmatizer"
TEXTCAT_COMPONENT: Final = "textcat"
FEATURES_ARCH: Final = "neural_hive.TextCatFeatures.v1"
META_FILE: Final = "neural_hive_nlu.json"
FORMAT_VERSION: Final = 2

FINE_LABELS: Final[tuple[str, ...]] = tuple(
    f"{domain}/{cls}" for domain in DOMAINS for cls in CLASSIFICATIONS[domain]
)


def fold(text: str) -> str:
    """Lower-case and drop accents ("Não" -> "nao")."""
    decomposed = unicodedata.normalize("NFD", text.lower())
    return "".join(c for c in decomposed if unicodedata.category(c) != "Mn")


_FEATURES_KEY: Final = "neural_hive_features"
_DIGITS = str.maketrans("0123456789", "0000000000")


def doc_features(doc: Doc, char_min: int, char_max: int, bigrams: bool) -> list[str]:
    """The string features of one document (before hashing).

    ``w:`` folded word, ``l:`` folded lemma (when it differs), ``b:`` folded lemma
    bigram, ``c:`` character n-grams of the folded word padded with ``<``/``>``.
    Digits are all mapped to ``0``.
    """
    feats: list[str] = []
    lemmas: list[str] = []
    for token in doc:
        if token.is_punct or token.is_space:
            continue
        word = fold(token.text).translate(_DIGITS)
        lemma = fold(token.lemma_).translate(_DIGITS) if token.lemma_ else word
        feats.append("w:" + word)
        if lemma != word:
            feats.append("l:" + lemma)
        lemmas.append(lemma)
        padded = f"<{word}>"
        for n in range(char_min, char_max + 1):
            feats.extend("c:" + padded[i : i + n] for i in range(len(padded) - n + 1))
    if bigrams:
        feats.extend(f"b:{a} {b}" for a, b in itertools.pairwise(lemmas))
    return feats


def _features_layer(char_min: int, char_max: int, bigrams: bool) -> Model[Any, Any]:
    """thinc layer: docs -> (hashed keys, values, lengths) for ``SparseLinear``."""
    import numpy
    from spacy.strings import hash_string  # type: ignore[attr-defined]
    from thinc.api import Model

    def forward(model: Model[Any, Any], docs: list[Doc], is_train: bool) -> tuple[Any, Any]:
        batch_keys: list[Any] = []
        batch_vals: list[Any] = []
        for doc in docs:
            # Cached on the doc: training sees the same docs every epoch.
            cached = doc.user_data.get(_FEATURES_KEY)
            if cached is None:
                counts = Counter(doc_features(doc, char_min, char_max, bigrams))
                keys = numpy.fromiter(
                    (hash_string(f) for f in counts), dtype=numpy.uint64, count=len(counts)
                )
                vals = numpy.fromiter(counts.values(), dtype=numpy.float32, count=len(counts))
                vals /= math.sqrt(float((vals * vals).sum())) or 1.0
                cached = (keys, vals)
                if is_train:
                    doc.user_data[_FEATURES_KEY] = cached
            batch_keys.append(cached[0])
            batch_vals.append(cached[1])
        lengths = numpy.asarray([len(k) for k in batch_keys], dtype=numpy.int32)
        keys_all = numpy.concatenate(batch_keys) if batch_keys else numpy.zeros(0, "uint64")
        vals_all = numpy.concatenate(batch_vals) if batch_vals else numpy.zeros(0, "float32")

        def backprop(d_out: Any) -> list[Any]:
            return []

        return (keys_all, vals_all.astype(numpy.float32), lengths), backprop

    return Model("neural_hive_features", forward)


def build_features_textcat(
    exclusive_classes: bool,
    char_min: int,
    char_max: int,
    bigrams: bool,
    length: int,
    nO: int | None = None,
) -> Model[Any, Any]:
    """The ``neural_hive.TextCatFeatures.v1`` architecture (spaCy's BOW classifier
    with this module's features instead of token-ORTH n-grams)."""
    from functools import partial

    from spacy.ml.models.textcat import resize_and_set_ref
    from thinc.api import Logistic, SparseLinear_v2, chain, resizable, softmax_activation
    from thinc.layers.resizable import resize_linear_weighted

    length = 2 ** (length - 1).bit_length()
    sparse_linear = SparseLinear_v2(nO=nO, length=length)
    fill = {"b": -10000.0 if exclusive_classes else 0.0, "W": 0.0}
    resizable_layer: Model[Any, Any] = resizable(
        sparse_linear, resize_layer=partial(resize_linear_weighted, fill_defaults=fill)
    )
    output = softmax_activation() if exclusive_classes else Logistic()
    model: Model[Any, Any] = chain(
        _features_layer(char_min, char_max, bigrams), resizable_layer, output
    )
    if nO is not None:
        model.set_dim("nO", nO)
    model.set_ref("output_layer", sparse_linear)
    model.attrs["multi_label"] = not exclusive_classes
    model.attrs["resize_output"] = partial(resize_and_set_ref, resizable_layer=resizable_layer)
    return model


def _make_lemmatizer(nlp: SpacyLanguage, model: Any, name: str, mode: str, overwrite: bool) -> Any:
    from spacy.pipeline import Lemmatizer

    class FoldingLemmatizer(Lemmatizer):
        """Lookup lemmatizer that retries a missed token lower-cased."""

        @classmethod
        def get_lookups_config(cls, mode: str) -> tuple[list[str], list[str]]:
            if mode == "lookup_lower":
                return (["lemma_lookup"], [])
            result: tuple[list[str], list[str]] = super().get_lookups_config(mode)
            return result

        def lookup_lower_lemmatize(self, token: Token) -> list[str]:
            table = self.lookups.get_table("lemma_lookup", {})
            text = token.text
            found = table.get(text)
            if found is None:
                lower = text.lower()
                found = table.get(lower, lower)
            return [found]

    return FoldingLemmatizer(nlp.vocab, model, name, mode=mode, overwrite=overwrite)


def register_components() -> None:
    """Register the lemmatizer factory and the classifier architecture (idempotent;
    done lazily, not at import)."""
    from spacy.language import Language as SpacyLanguage
    from spacy.util import registry

    if not SpacyLanguage.has_factory(LEMMATIZER_FACTORY):
        SpacyLanguage.factory(
            LEMMATIZER_FACTORY,
            default_config={"model": None, "mode": "lookup_lower", "overwrite": False},
            func=_make_lemmatizer,
        )
    if FEATURES_ARCH not in registry.architectures:
        registry.architectures.register(FEATURES_ARCH, func=build_features_textcat)


@dataclass(frozen=True, slots=True)
class TrainConfig:
    seed: int = 7
    epochs: int = 12
    dropout: float = 0.0
    batch_size: int = 32
    learn_rate: float = 0.02
    char_min: int = 3
    char_max: int = 5
    bigrams: bool = True
    length: int = 2**16
    languages: Sequence[Language] = field(default=LANGUAGES)


def build_pipeline(lang: Language, cfg: TrainConfig | None = None) -> SpacyLanguage:
    """An untrained pipeline for ``lang`` (labels added, not initialised)."""
    import spacy

    cfg = cfg or TrainConfig()
    register_components()
    nlp = spacy.blank(lang)
    nlp.add_pipe(LEMMATIZER_FACTORY, name=LEMMATIZER_COMPONENT)
    model = {
        "@architectures": FEATURES_ARCH,
        "exclusive_classes": True,
        "char_min": cfg.char_min,
        "char_max": cfg.char_max,
        "bigrams": cfg.bigrams,
        "length": cfg.length,
        "nO": None,
    }
    textcat = nlp.add_pipe("textcat", name=TEXTCAT_COMPONENT, config={"model": model})
    for label in FINE_LABELS:
        textcat.add_label(label)  # type: ignore[attr-defined]
    return nlp


@dataclass(frozen=True, slots=True)
class TrainReport:
    counts: dict[str, int]
    seconds: float
    temperature: float


def _cats(example: Example) -> dict[str, Any]:
    fine = f"{example.domain}/{example.classification}"
    return {"cats": {label: float(label == fine) for label in FINE_LABELS}}


def _prune_lemmas(nlp: SpacyLanguage, texts: Sequence[str]) -> None:
    """Keep only the lemma-table entries whose lemma is the lemma of a training word."""
    from spacy.lookups import Lookups

    lemmatizer = nlp.get_pipe(LEMMATIZER_COMPONENT)
    table = lemmatizer.lookups.get_table("lemma_lookup")  # type: ignore[attr-defined]
    keep: set[str] = set()
    for text in texts:
        for token in lemmatizer(nlp.make_doc(text)):
            keep.add(token.lemma_)
    lookups = Lookups()
    pruned = lookups.add_table("lemma_lookup")
    for key, value in table.items():
        if value in keep:
            pruned[key] = value
    lemmatizer.lookups = lookups  # type: ignore[attr-defined]


def _initialized(lang: Language, cfg: TrainConfig, texts: Sequence[str]) -> SpacyLanguage:
    from spacy.training import Example as SpacyExample

    nlp = build_pipeline(lang, cfg)
    sample = [
        SpacyExample.from_dict(nlp.make_doc(t), {"cats": {lab: 0.0 for lab in FINE_LABELS}})
        for t in texts[:10]
    ]
    for eg in sample:
        eg.reference.cats[FINE_LABELS[0]] = 1.0
    nlp.initialize(lambda: sample)
    _prune_lemmas(nlp, texts)
    return nlp


def train_models(examples: Sequence[Example], cfg: TrainConfig) -> dict[Language, SpacyLanguage]:
    """Train one pipeline per language in ``cfg.languages``, deterministically.

    The text classifier is trained once on the lines of every language given, each
    tokenised and lemmatised by its own language's front end (the three hand-written
    corpora describe the same kinds of requests, and technical vocabulary and cognates
    are shared), and its weights are then copied into every language's pipeline.
    """
    from spacy.training import Example as SpacyExample
    from spacy.util import fix_random_seed  # type: ignore[attr-defined]

    fix_random_seed(cfg.seed)
    rng = random.Random(cfg.seed)  # noqa: S311 - shuffling, not security
    langs = [lang for lang in cfg.languages if any(e.lang == lang for e in examples)]
    if not langs:
        raise ValueError("no training lines for the requested languages")
    nlps = {
        lang: _initialized(lang, cfg, [e.text for e in examples if e.lang == lang])
        for lang in langs
    }
    main = nlps[langs[0]]
    optimizer = main.resume_training()
    optimizer.learn_rate = cfg.learn_rate
    pool = [e for e in examples if e.lang in nlps]
    prepared = []
    for e in pool:
        nlp = nlps[e.lang]
        doc = nlp.get_pipe(LEMMATIZER_COMPONENT)(nlp.make_doc(e.text))
        prepared.append(SpacyExample.from_dict(doc, _cats(e)))
    for _ in range(cfg.epochs):
        rng.shuffle(prepared)
        losses: dict[str, float] = {}
        for start in range(0, len(prepared), cfg.batch_size):
            main.update(
                prepared[start : start + cfg.batch_size],
                sgd=optimizer,
                drop=cfg.dropout,
                losses=losses,
                exclude=[LEMMATIZER_COMPONENT],
            )
    weights = main.get_pipe(TEXTCAT_COMPONENT).to_bytes()  # type: ignore[attr-defined]
    for lang in langs[1:]:
        nlps[lang].get_pipe(TEXTCAT_COMPONENT).from_bytes(weights)  # type: ignore[attr-defined]
    return nlps


def data_fingerprint(examples: Sequence[Example]) -> str:
    digest = hashlib.sha256()
    for e in examples:
        digest.update(f"{e.lang}\t{e.domain}\t{e.classification}\t{e.text}\n".encode())
    return digest.hexdigest()


# --- confidence calibration -------------------------------------------------------------

TEMPERATURES: Final[tuple[float, ...]] = tuple(round(0.3 + 0.1 * i, 2) for i in range(28))


def apply_temperature(probs: dict[str, float], temperature: float) -> dict[str, float]:
    """Re-scale a softmax output as if its logits were divided by ``temperature``."""
    if temperature == 1.0:
        return dict(probs)
    logits = {k: math.log(max(v, 1e-12)) / temperature for k, v in probs.items()}
    top = max(logits.values())
    exp = {k: math.exp(v - top) for k, v in logits.items()}
    total = sum(exp.values())
    return {k: v / total for k, v in exp.items()}


def domain_nll(fine: dict[str, float], domain: str) -> float:
    p = sum(v for k, v in fine.items() if k.split("/", 1)[0] == domain)
    return -math.log(max(p, 1e-9))


def fit_temperature(examples: Sequence[Example], cfg: TrainConfig, folds: int = 3) -> float:
    """Temperature for the domain probabilities that minimises the negative log-likelihood
    of out-of-fold predictions on the training lines (held-out data is never used)."""
    order = sorted(examples, key=lambda e: hashlib.sha256(e.text.encode()).hexdigest())
    outputs: list[tuple[dict[str, float], str]] = []
    for k in range(folds):
        test = order[k::folds]
        nlps = train_models([e for i, e in enumerate(order) if i % folds != k], cfg)
        for e in test:
            outputs.append((dict(nlps[e.lang](e.text).cats), e.domain))

    def loss(t: float) -> float:
        return sum(domain_nll(apply_temperature(p, t), d) for p, d in outputs)

    return min(TEMPERATURES, key=loss)


def train(
    data_dir: Path,
    output: Path,
    cfg: TrainConfig | None = None,
    calibrate: bool = True,
) -> TrainReport:
    """Train on the ``train`` lines of ``<data_dir>/*.jsonl`` and write the artifact
    (one spaCy pipeline per language and ``neural_hive_nlu.json``) to ``output``."""
    cfg = cfg or TrainConfig()
    started = time.perf_counter()
    examples = [e for e in training_examples(data_dir) if e.lang in cfg.languages]
    nlps = train_models(examples, cfg)
    temperature = fit_temperature(examples, cfg) if calibrate else 1.0
    output.mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    for lang, nlp in nlps.items():
        nlp.to_disk(output / lang)
        counts[lang] = sum(e.lang == lang for e in examples)
    meta = {
        "format": FORMAT_VERSION,
        "languages": sorted(counts),
        "train_counts": counts,
        "temperature": temperature,
        "data_sha256": data_fingerprint(examples),
        "config": {
            "seed": cfg.seed,
            "epochs": cfg.epochs,
            "learn_rate": cfg.learn_rate,
            "batch_size": cfg.batch_size,
            "char_ngrams": [cfg.char_min, cfg.char_max],
            "bigrams": cfg.bigrams,
            "length": cfg.length,
        },
    }
    (output / META_FILE).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
    return TrainReport(
        counts=counts, seconds=time.perf_counter() - started, temperature=temperature
    )
