"""`neural-hive-consensus`: run the consensus engine (flags override NEURAL_HIVE_* variables)."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys

from neural_hive.common.cli import load_settings


def parse_args(argv: list[str] | None) -> dict[str, object]:
    p = argparse.ArgumentParser(prog="neural-hive-consensus", description=__doc__)
    p.add_argument("--kafka-bootstrap-servers", help="NEURAL_HIVE_KAFKA_BOOTSTRAP_SERVERS")
    p.add_argument("--redis-url", help="NEURAL_HIVE_REDIS_URL")
    p.add_argument(
        "--specialist",
        action="append",
        metavar="TYPE=HOST:PORT",
        help="a specialist's gRPC address, repeatable (NEURAL_HIVE_SPECIALISTS, JSON)",
    )
    p.add_argument("--http-port", type=int, help="NEURAL_HIVE_HTTP_PORT (8000)")
    p.add_argument("--quorum", type=int, help="NEURAL_HIVE_QUORUM (3)")
    p.add_argument("--evaluation-timeout-ms", type=int, help="NEURAL_HIVE_EVALUATION_TIMEOUT_MS")
    p.add_argument("--log-level", help="NEURAL_HIVE_LOG_LEVEL (info)")
    args = vars(p.parse_args(argv))
    pairs = args.pop("specialist") or []
    out = {k: v for k, v in args.items() if v is not None}
    if pairs:
        bad = [x for x in pairs if "=" not in x]
        if bad:
            p.error(f"--specialist expects TYPE=HOST:PORT, got {bad[0]!r}")
        out["specialists"] = dict(x.split("=", 1) for x in pairs)
    return out


def _log_tasks() -> None:
    """SIGUSR1: log where every asyncio task waits (an engine that stopped deciding while
    /ready says ready is told apart this way: `kill -USR1 <pid>`)."""
    import io
    import logging

    for task in asyncio.all_tasks():
        out = io.StringIO()
        task.print_stack(file=out)
        logging.getLogger(__name__).warning(
            "task stack", extra={"fields": {"task": task.get_name(), "stack": out.getvalue()}}
        )


async def _run(settings: object) -> None:
    from neural_hive.consensus.engine import ConsensusEngine
    from neural_hive.consensus.settings import ConsensusSettings

    assert isinstance(settings, ConsensusSettings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    loop.add_signal_handler(signal.SIGUSR1, _log_tasks)
    engine = ConsensusEngine(settings)
    try:
        if await engine.start(stop):
            await engine.run(stop)
    finally:
        await engine.stop()


def main(argv: list[str] | None = None) -> int:
    overrides = parse_args(argv)
    from neural_hive.consensus.settings import ConsensusSettings

    settings = load_settings("neural-hive-consensus", ConsensusSettings, overrides)
    asyncio.run(_run(settings))
    return 0


if __name__ == "__main__":
    sys.exit(main())
