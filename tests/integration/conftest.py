"""Fixtures shared by the integration tests that talk to the gateway as deployed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from gateway_support import Gateway, deployed_gateway


@pytest.fixture(scope="module")
def gateway(
    tmp_path_factory: pytest.TempPathFactory, nlu_model_dir: Path, bootstrap: str, redis_url: str
) -> Iterator[Gateway]:
    """The gateway as deployed: auth on, an NLU model, a tiny random ASR model (a module
    that needs another kind of gateway defines its own `gateway` fixture)."""
    with deployed_gateway(
        tmp_path_factory.mktemp("asr"), nlu_model_dir, bootstrap, redis_url
    ) as gw:
        yield gw
