"""Reading and validating the labelled NLU data (JSON lines).

The project's data set is ``data/nlu/<lang>.jsonl``: one object per line with ``text``,
``lang``, ``domain``, ``classification`` and ``split`` (``"train"`` or ``"heldout"``).
The split was assigned once with :func:`assign_splits` and is stored in the files; training
reads only ``"train"`` lines (:func:`training_examples`).
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

from neural_hive.nlu.types import CLASSIFICATIONS, LANGUAGES, Language

Split = Literal["train", "heldout"]
SPLITS: Final[tuple[Split, ...]] = ("train", "heldout")
#: Fraction of every (lang, domain, classification) group that is held out.
HELDOUT_FRACTION: Final = 0.2


class DataError(ValueError):
    """A labelled file is missing, empty or has a malformed line."""


@dataclass(frozen=True, slots=True)
class Example:
    text: str
    lang: Language
    domain: str
    classification: str
    #: ``None`` for files that carry no split (e.g. an external evaluation file).
    split: Split | None = None


def _parse(line: str, where: str) -> Example:
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        raise DataError(f"{where}: not valid JSON ({exc.msg})") from None
    if not isinstance(obj, dict):
        raise DataError(f"{where}: expected a JSON object")
    text, lang = obj.get("text"), obj.get("lang")
    domain, cls = obj.get("domain"), obj.get("classification")
    split = obj.get("split")
    if not isinstance(text, str) or not text.strip():
        raise DataError(f"{where}: 'text' must be a non-empty string")
    if lang not in LANGUAGES:
        raise DataError(f"{where}: 'lang' must be one of {', '.join(LANGUAGES)}")
    if domain not in CLASSIFICATIONS:
        raise DataError(f"{where}: 'domain' must be one of {', '.join(CLASSIFICATIONS)}")
    if cls not in CLASSIFICATIONS[domain]:
        raise DataError(
            f"{where}: 'classification' for {domain} must be one of "
            f"{', '.join(CLASSIFICATIONS[domain])}"
        )
    if split is not None and split not in SPLITS:
        raise DataError(f"{where}: 'split' must be one of {', '.join(SPLITS)}")
    return Example(text=text, lang=lang, domain=domain, classification=cls, split=split)


def read_examples(path: Path, split: Split | None = None) -> list[Example]:
    """Read a ``.jsonl`` file, or every ``*.jsonl`` file in a directory (sorted).

    With ``split``, keep only lines of that split; lines without a ``split`` field are
    then kept too (a file made for evaluation only).
    """
    if path.is_dir():
        files = sorted(path.glob("*.jsonl"))
        if not files:
            raise DataError(f"{path}: no .jsonl files in this directory")
    elif path.is_file():
        files = [path]
    else:
        raise DataError(f"{path}: no such file or directory")
    examples: list[Example] = []
    for file in files:
        try:
            lines = file.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise DataError(f"{file}: cannot read ({exc})") from None
        for number, line in enumerate(lines, start=1):
            if line.strip():
                example = _parse(line, f"{file}:{number}")
                if split is None or example.split in (None, split):
                    examples.append(example)
    if not examples:
        raise DataError(f"{path}: no labelled examples")
    return examples


def training_examples(data_dir: Path) -> list[Example]:
    """The training part of a data set: the ``"split": "train"`` lines of ``<data_dir>/*.jsonl``.

    Held-out lines are dropped as they are read, and every line must carry a split, so
    an unsplit file cannot leak evaluation data into training.
    """
    examples = read_examples(data_dir)
    unsplit = sum(e.split is None for e in examples)
    if unsplit:
        raise DataError(f"{data_dir}: {unsplit} lines have no 'split'; training needs one")
    train = [e for e in examples if e.split == "train"]
    if not train:
        raise DataError(f"{data_dir}: no 'train' lines")
    return train


def split_key(text: str) -> str:
    """The stable hash that orders a group's lines for :func:`assign_splits`."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def assign_splits(
    examples: Iterable[Example], fraction: float = HELDOUT_FRACTION
) -> dict[str, Split]:
    """The split rule (applied once to build the data set; the result is stored).

    Within every (lang, domain, classification) group, the ``round(fraction * n)`` lines
    with the smallest SHA-256 of their text are held out, the rest are training lines:
    stratified, independent of file order and reproducible. Returns text -> split.
    """
    groups: dict[tuple[str, str, str], list[str]] = defaultdict(list)
    for e in examples:
        groups[(e.lang, e.domain, e.classification)].append(e.text)
    out: dict[str, Split] = {}
    for texts in groups.values():
        ordered = sorted(texts, key=split_key)
        cut = round(fraction * len(ordered))
        for i, text in enumerate(ordered):
            out[text] = "heldout" if i < cut else "train"
    return out


def write_examples(path: Path, examples: Sequence[Example]) -> None:
    """Write examples as JSON lines (UTF-8, one object per line, fixed key order)."""
    with path.open("w", encoding="utf-8") as fh:
        for e in examples:
            obj: dict[str, str] = {
                "text": e.text,
                "lang": e.lang,
                "domain": e.domain,
                "classification": e.classification,
            }
            if e.split is not None:
                obj["split"] = e.split
            fh.write(json.dumps(obj, ensure_ascii=False) + "\n")
