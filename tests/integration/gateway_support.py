"""A real gateway process for the tests: console script, real HTTP, real Redis and Tansu."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jwt

from neural_hive.devstack import BIN, Service, free_port, stop_process

SECRET = "test-secret-with-enough-entropy-0123456789"


def token(sub: str = "tester", secret: str = SECRET, ttl: int = 300, **claims: Any) -> str:
    now = int(time.time())
    return jwt.encode(
        {"sub": sub, "iat": now, "exp": now + ttl, **claims}, secret, algorithm="HS256"
    )


@dataclass
class Gateway:
    proc: subprocess.Popen[bytes]
    base: str

    def headers(self, **kw: Any) -> dict[str, str]:
        return {"Authorization": f"Bearer {token(**kw)}"}


@contextmanager
def running_gateway(model: Path, bootstrap: str, redis_url: str, **env: str) -> Iterator[Gateway]:
    port = free_port()
    full = {
        **os.environ,
        "NEURAL_HIVE_HOST": "127.0.0.1",
        "NEURAL_HIVE_PORT": str(port),
        "NEURAL_HIVE_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "NEURAL_HIVE_KAFKA_IDEMPOTENCE": "false",
        "NEURAL_HIVE_REDIS_URL": redis_url,
        "NEURAL_HIVE_NLU_MODEL_PATH": str(model),
        "NEURAL_HIVE_JWT_SECRET": SECRET,
        "NEURAL_HIVE_LOG_LEVEL": "warning",
        **env,
    }
    proc = subprocess.Popen([str(BIN / "neural-hive-gateway")], env=full)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"gateway exited with {proc.returncode}")
            try:
                httpx.get(f"{base}/health", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.05)
        yield Gateway(proc, base)
    finally:
        stop_process(proc)


def wait_ready(gw: Gateway, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = httpx.get(f"{gw.base}/ready")
        if r.status_code == 200:
            return dict(r.json())
        time.sleep(0.1)
    raise TimeoutError(f"gateway not ready: {r.text}")


def babbling_asr_env(directory: Path, max_tokens: int) -> dict[str, str]:
    """Gateway settings for a tiny Whisper checkpoint that always emits text (tests only)."""
    from neural_hive.asr.tiny_model import build_tiny_checkpoint

    model = build_tiny_checkpoint(directory / "tiny.pt", babble=True)
    return {
        "NEURAL_HIVE_ASR_MODEL_PATH": str(model),
        "NEURAL_HIVE_ASR_MAX_TOKENS_PER_WINDOW": str(max_tokens),
        "NEURAL_HIVE_ASR_TEMPERATURE_FALLBACK": "false",
    }


@contextmanager
def deployed_gateway(
    directory: Path, model: Path, bootstrap: str, redis_url: str
) -> Iterator[Gateway]:
    """The gateway as deployed, once ready: auth on, an NLU model, a tiny random ASR model."""
    asr = babbling_asr_env(directory, max_tokens=8)
    with running_gateway(model, bootstrap, redis_url, **asr) as gw:
        wait_ready(gw)
        yield gw


@contextmanager
def running_consensus(
    bootstrap: str, redis_url: str, specialists: dict[str, Service], group: str, **env: str
) -> Iterator[subprocess.Popen[bytes]]:
    """The `neural-hive-consensus` console script on a free port (or NEURAL_HIVE_HTTP_PORT
    of `env`), once /ready says 200."""
    port = int(env.get("NEURAL_HIVE_HTTP_PORT") or free_port())
    full_env = {
        **os.environ,
        "NEURAL_HIVE_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "NEURAL_HIVE_KAFKA_IDEMPOTENCE": "false",
        "NEURAL_HIVE_REDIS_URL": redis_url,
        "NEURAL_HIVE_HOST": "127.0.0.1",
        "NEURAL_HIVE_HTTP_PORT": str(port),
        "NEURAL_HIVE_CONSUMER_GROUP": group,
        # Tansu completes a group join after half the session timeout (as the local target)
        "NEURAL_HIVE_KAFKA_SESSION_TIMEOUT_MS": "2000",
        "NEURAL_HIVE_LOG_LEVEL": "warning",
        "NEURAL_HIVE_SPECIALISTS": json.dumps({k: s.address for k, s in specialists.items()}),
        **env,
    }
    proc = subprocess.Popen([str(BIN / "neural-hive-consensus")], env=full_env)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/ready").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        else:
            raise RuntimeError("consensus engine never became ready")
        yield proc
    finally:
        stop_process(proc)
