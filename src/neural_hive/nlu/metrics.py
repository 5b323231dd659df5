"""Accuracy and macro-F1 for labelled evaluation."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Scores:
    n: int
    accuracy: float
    macro_f1: float
    classification_accuracy: float


def macro_f1(gold: Sequence[str], pred: Sequence[str], labels: Sequence[str]) -> float:
    """Unweighted mean of per-label F1 over ``labels`` present in gold or predictions."""
    present = [lab for lab in labels if lab in gold or lab in pred]
    if not present:
        return 0.0
    total = 0.0
    for label in present:
        tp = sum(g == label and p == label for g, p in zip(gold, pred, strict=True))
        fp = sum(g != label and p == label for g, p in zip(gold, pred, strict=True))
        fn = sum(g == label and p != label for g, p in zip(gold, pred, strict=True))
        total += 2 * tp / (2 * tp + fp + fn) if tp else 0.0
    return total / len(present)


def score(
    gold: Sequence[str],
    pred: Sequence[str],
    gold_fine: Sequence[str],
    pred_fine: Sequence[str],
    labels: Sequence[str],
) -> Scores:
    n = len(gold)
    if n == 0:
        return Scores(0, 0.0, 0.0, 0.0)
    acc = sum(g == p for g, p in zip(gold, pred, strict=True)) / n
    fine = sum(g == p for g, p in zip(gold_fine, pred_fine, strict=True)) / n
    return Scores(n, acc, macro_f1(gold, pred, labels), fine)
