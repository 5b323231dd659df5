"""Benchmark the gateway: text intents against an empty FastAPI route served the same way.

Starts real redis-server and the Tansu broker, the `neural-hive-gateway` console script
(JWT auth on, a trained NLU model) and, as the baseline, `neural_hive.loadtest.empty_app`
under the same uvicorn settings. wrk (Debian package) drives each with --clients connections in
alternating rounds; every request carries a distinct text and correlation id, so neither
the NLU cache nor dedup short-cuts the work. Also: gateway start to ready, and its RSS.

    python bench/gateway_bench.py --model models/nlu [--rounds 3] [--seconds 10]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import jwt
from common import median, rss_mb, write_report

from neural_hive.devstack import BIN, free_port, start_redis, start_tansu, stop_process

SECRET = "bench-secret-0123456789-abcdefghijklmnop"
TEXTS = [
    "Preciso do relatório de vendas do trimestre por região",
    "The checkout API returns 500 when the cart is empty",
    "Escalar el deployment de pagos a seis réplicas antes del viernes",
    "Revogar o acesso do ex-funcionário ao repositório",
    "Can we get the churn numbers per segment for the board meeting",
    "La consulta de facturas tarda treinta segundos en cargar",
]
WRK_SCRIPT = """
local texts = {%s}
local n = 0
local tid = 0
local threads = 0
function setup(thread) threads = threads + 1; thread:set("tid", threads) end
function request()
  n = n + 1
  local text = texts[(n %% #texts) + 1] .. " (ref " .. tid .. "-" .. n .. ")"
  local body = '{"text": "' .. text .. '", "correlation_id": "b-' .. tid .. '-' .. n .. '-%s"}'
  return wrk.format("POST", "/intentions", {["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer %s"}, body)
end
"""


def wait_http(url: str, timeout: float = 60, expect: int = 200) -> float:
    start = time.perf_counter()
    while time.perf_counter() - start < timeout:
        try:
            if httpx.get(url, timeout=1).status_code == expect:
                return time.perf_counter() - start
        except httpx.HTTPError:
            pass
        time.sleep(0.01)
    raise TimeoutError(url)


def run_wrk(url: str, script: Path, clients: int, seconds: float) -> dict[str, float]:
    out = subprocess.run(
        [
            "wrk",
            "-t",
            "2",
            "-c",
            str(clients),
            "-d",
            f"{max(1, round(seconds))}s",
            "--latency",
            "-s",
            str(script),
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout

    def ms(label: str) -> float:
        m = re.search(rf"^\s+{label}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        if not m:
            raise ValueError(f"no {label}% in wrk output:\n{out}")
        return float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]

    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors: .*", out)
    return {
        "rps": rps,
        "p50_ms": ms("50"),
        "p99_ms": ms("99"),
        "non_2xx": float(bad.group(1)) if bad else 0.0,
        "socket_errors": 1.0 if errors else 0.0,
    }


def main(args: argparse.Namespace) -> None:
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install wrk")
    now = int(time.time())
    token = jwt.encode({"sub": "bench", "iat": now, "exp": now + 3600}, SECRET, "HS256")
    texts = ", ".join(f'"{t}"' for t in TEXTS)
    script = Path(tempfile.mkdtemp()) / "intents.lua"
    script.write_text(WRK_SCRIPT % (texts, os.getpid(), token))
    redis, broker = start_redis(), start_tansu()
    gw_port, empty_port = free_port(), free_port()
    env = {
        **os.environ,
        "NEURAL_HIVE_HOST": "127.0.0.1",
        "NEURAL_HIVE_PORT": str(gw_port),
        "NEURAL_HIVE_KAFKA_BOOTSTRAP_SERVERS": broker.address,
        "NEURAL_HIVE_KAFKA_IDEMPOTENCE": "false",
        "NEURAL_HIVE_REDIS_URL": redis.extra["url"],
        "NEURAL_HIVE_NLU_MODEL_PATH": str(args.model),
        "NEURAL_HIVE_JWT_SECRET": SECRET,
        "NEURAL_HIVE_LOG_LEVEL": "warning",
    }
    starts = []
    for _ in range(args.starts - 1):
        p = subprocess.Popen([str(BIN / "neural-hive-gateway")], env=env)
        starts.append(wait_http(f"http://127.0.0.1:{gw_port}/ready"))
        stop_process(p)
    gateway = subprocess.Popen([str(BIN / "neural-hive-gateway")], env=env)
    empty = subprocess.Popen(
        [
            str(BIN / "uvicorn"),
            "neural_hive.loadtest.empty_app:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(empty_port),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
    )
    rounds: dict[str, list[dict[str, float]]] = {"gateway": [], "empty": []}
    try:
        starts.append(wait_http(f"http://127.0.0.1:{gw_port}/ready"))
        wait_http(f"http://127.0.0.1:{empty_port}/docs")
        idle = rss_mb(gateway.pid)
        run_wrk(f"http://127.0.0.1:{gw_port}", script, args.clients, 2)  # warm-up
        for r in range(args.rounds):
            for name, port in (("empty", empty_port), ("gateway", gw_port)):
                res = run_wrk(f"http://127.0.0.1:{port}", script, args.clients, args.seconds)
                rounds[name].append(res)
                print(
                    f"round {r + 1} {name:8s} {res['rps']:7.0f} req/s  p50 {res['p50_ms']:.1f} ms"
                    f"  p99 {res['p99_ms']:.1f} ms  non-2xx {res['non_2xx']:.0f}",
                    flush=True,
                )
        loaded = rss_mb(gateway.pid)
    finally:
        for proc in (gateway, empty):
            stop_process(proc)
        broker.stop()
        redis.stop()

    def med(name: str, key: str) -> float:
        return round(median([x[key] for x in rounds[name]]), 2)

    ratio = med("gateway", "rps") / med("empty", "rps")
    write_report(
        "gateway",
        {
            "clients": args.clients,
            "rounds": rounds,
            "ratio": ratio,
            "start_to_ready_s": starts,
            "rss_idle": idle,
            "rss_loaded": loaded,
        },
        [
            ("text intents/s (median of rounds)", f"{med('gateway', 'rps'):.0f}", ">= 500"),
            (
                "gateway P50 / P99",
                f"{med('gateway', 'p50_ms')} / {med('gateway', 'p99_ms')} ms",
                "P99 < 50 ms",
            ),
            ("gateway non-2xx answers", f"{sum(x['non_2xx'] for x in rounds['gateway']):.0f}", "0"),
            ("empty FastAPI route req/s", f"{med('empty', 'rps'):.0f}", "baseline"),
            (
                "empty route P50 / P99",
                f"{med('empty', 'p50_ms')} / {med('empty', 'p99_ms')} ms",
                "baseline",
            ),
            ("throughput ratio gateway / empty", f"{ratio:.2f}", "report"),
            (
                "RSS idle / after load (peak), no ASR model",
                f"{idle['rss_mb']} / {loaded['rss_mb']} MB ({loaded['peak_rss_mb']} MB)",
                "< 400 MB",
            ),
            (f"start to ready (median of {len(starts)})", f"{median(starts):.2f} s", "< 3 s"),
        ],
    )


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", type=Path, default=Path("models/nlu"))
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--seconds", type=float, default=10)
    p.add_argument("--clients", type=int, default=32)
    p.add_argument("--starts", type=int, default=3)
    main(p.parse_args())
