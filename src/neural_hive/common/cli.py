"""What every console script does first: build its settings, or explain and exit 2."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TypeVar

from pydantic import ValidationError
from pydantic_settings import BaseSettings

from neural_hive.common.logging import configure

S = TypeVar("S", bound=BaseSettings)


def load_settings(prog: str, factory: Callable[..., S], overrides: dict[str, object]) -> S:
    """Settings from flags (overrides) over NEURAL_HIVE_* variables; invalid ones print
    which setting is wrong and exit with status 2. Logging is configured from them."""
    try:
        settings = factory(**overrides)
    except ValidationError as exc:
        print(f"{prog}: invalid settings:\n{exc}", file=sys.stderr)
        raise SystemExit(2) from None
    configure(str(getattr(settings, "log_level", "info")))
    return settings
