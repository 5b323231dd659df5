"""`neural-hive-gateway`: run the intent gateway (flags override NEURAL_HIVE_* variables)."""

from __future__ import annotations

import argparse
import sys

from neural_hive.common.cli import load_settings


def parse_args(argv: list[str] | None) -> dict[str, object]:
    p = argparse.ArgumentParser(prog="neural-hive-gateway", description=__doc__)
    p.add_argument("--host", help="NEURAL_HIVE_HOST (0.0.0.0)")
    p.add_argument("--port", type=int, help="NEURAL_HIVE_PORT (8000)")
    p.add_argument(
        "--profile",
        choices=["local", "staging", "production"],
        help="NEURAL_HIVE_PROFILE (production; local turns auth off by default)",
    )
    p.add_argument("--nlu-model-path", help="NEURAL_HIVE_NLU_MODEL_PATH")
    p.add_argument("--asr-model-path", help="NEURAL_HIVE_ASR_MODEL_PATH (a Whisper .pt file)")
    p.add_argument("--kafka-bootstrap-servers", help="NEURAL_HIVE_KAFKA_BOOTSTRAP_SERVERS")
    p.add_argument("--redis-url", help="NEURAL_HIVE_REDIS_URL")
    p.add_argument("--log-level", help="NEURAL_HIVE_LOG_LEVEL (info)")
    return {k: v for k, v in vars(p.parse_args(argv)).items() if v is not None}


def main(argv: list[str] | None = None) -> int:
    overrides = parse_args(argv)
    from neural_hive.gateway.settings import GatewaySettings

    if "asr_model_path" in overrides:
        from neural_hive.asr.settings import AsrSettings

        overrides["asr"] = load_settings(
            "neural-hive-gateway", AsrSettings, {"model_path": overrides.pop("asr_model_path")}
        )
    settings = load_settings("neural-hive-gateway", GatewaySettings, overrides)
    import uvicorn

    from neural_hive.gateway.app import create_app

    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        access_log=False,
        log_config=None,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
