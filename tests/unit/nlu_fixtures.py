"""Shared pieces of the NLU tests (the trained-model fixtures live in tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from neural_hive.nlu.data import Example, read_examples

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "data" / "nlu"


@pytest.fixture(scope="session")
def heldout() -> list[Example]:
    return read_examples(DATA, "heldout")
