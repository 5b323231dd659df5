"""`neural-hive-specialist`: run one specialist (flags override NEURAL_HIVE_* variables)."""

from __future__ import annotations

import argparse
import asyncio
import sys

from neural_hive.common.cli import load_settings
from neural_hive.specialist.scorers import SpecialistType


def parse_args(argv: list[str] | None) -> dict[str, object]:
    p = argparse.ArgumentParser(prog="neural-hive-specialist", description=__doc__)
    p.add_argument(
        "--type",
        dest="specialist_type",
        choices=[t.value for t in SpecialistType],
        help="which specialist to run (NEURAL_HIVE_SPECIALIST_TYPE)",
    )
    p.add_argument("--host", help="listen address (NEURAL_HIVE_HOST, default 0.0.0.0)")
    p.add_argument("--grpc-port", type=int, help="gRPC port (NEURAL_HIVE_GRPC_PORT, 50051)")
    p.add_argument("--http-port", type=int, help="HTTP port (NEURAL_HIVE_HTTP_PORT, 8000)")
    p.add_argument("--log-level", help="log level (NEURAL_HIVE_LOG_LEVEL, info)")
    return {k: v for k, v in vars(p.parse_args(argv)).items() if v is not None}


def main(argv: list[str] | None = None) -> int:
    overrides = parse_args(argv)
    from neural_hive.specialist.server import run
    from neural_hive.specialist.settings import SpecialistSettings

    settings = load_settings("neural-hive-specialist", SpecialistSettings, overrides)
    asyncio.run(run(settings))
    return 0


if __name__ == "__main__":
    sys.exit(main())
