"""Time from container start to ready for every workload of the local (Podman) target.

Needs the stack that `ansible-playbook site.yml` deployed. Replays each workload in turn the way
deploy_podman does (`podman kube play --replace` of the file it played, with the same
network aliases), then polls each one's readiness as deploy_podman does (HTTP /ready
200, grpc.health.v1 SERVING, TCP accept) and reports, per workload, the seconds from its
container's StartedAt to the first ready answer. Rounds give medians.

    python bench/podman_readiness.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import time
import urllib.request
from datetime import datetime
from pathlib import Path
from typing import Any

import grpc
from common import median, write_report
from grpc_health.v1 import health_pb2, health_pb2_grpc

# name -> (container, probe, port); the same workloads as roles/neural_hive.
WORKLOADS = {
    "redis": ("redis-pod-0-cache", "tcp", 6379),
    "kafka": ("kafka-pod-0-broker", "tcp", 9092),
    "gateway-intencoes": ("gateway-intencoes-pod-0-gateway", "http", 8000),
    "consensus-engine": ("consensus-engine-pod-0-consensus", "http", 8000),
    **{
        f"specialist-{t}": (f"specialist-{t}-pod-0-specialist", "grpc", 50051)
        for t in ("business", "technical", "behavior", "evolution", "architecture")
    },
}
NETWORK = "neural-hive"
NAMESPACES = {"redis": "neural-hive-redis", "kafka": "neural-hive-kafka"}
PLAYED = Path(__file__).resolve().parents[1] / "inventories" / "local" / ".neural-hive" / "podman"


def inspect(container: str) -> dict[str, Any]:
    out = subprocess.run(
        ["podman", "inspect", "--type", "container", container],
        check=True,
        capture_output=True,
        text=True,
    )
    return dict(json.loads(out.stdout)[0])


def ready(probe: str, host: str, port: int) -> bool:
    try:
        if probe == "tcp":
            socket.create_connection((host, port), timeout=0.5).close()
            return True
        if probe == "http":
            with urllib.request.urlopen(f"http://{host}:{port}/ready", timeout=0.5) as r:
                return bool(r.status == 200)
        with grpc.insecure_channel(f"{host}:{port}") as ch:
            reply = health_pb2_grpc.HealthStub(ch).Check(
                health_pb2.HealthCheckRequest(service=""), timeout=0.5
            )
            return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)
    except (OSError, grpc.RpcError):
        return False


def started_at(info: dict[str, Any]) -> float:
    # podman prints e.g. 2026-11-25T04:40:01.123456789Z; keep microseconds
    raw = info["State"]["StartedAt"]
    head, _, frac = raw.partition(".")
    frac = (frac.rstrip("Z").split("+")[0].split("-")[0] + "000000")[:6]
    stamp = datetime.fromisoformat(f"{head}.{frac}+00:00") if frac else datetime.fromisoformat(head)
    return stamp.timestamp()


def play(name: str) -> None:
    ns = NAMESPACES.get(name, name)
    aliases = [name, f"{name}.{ns}", f"{name}.{ns}.svc", f"{name}.{ns}.svc.cluster.local"]
    network = f"{NETWORK}:" + ",".join(f"alias={a}" for a in aliases)
    argv = ["podman", "kube", "play", "--replace", "--build=false", "--network", network]
    subprocess.run([*argv, str(PLAYED / f"{name}.yaml")], check=True, capture_output=True)


def one_round() -> dict[str, float]:
    """Play the workloads one after the other (backing services first, as deploy_podman
    lists them), timing each from its container's start to its first ready answer."""
    seconds: dict[str, float] = {}
    for name, (container, probe, port) in WORKLOADS.items():
        play(name)
        deadline = time.time() + 60
        seconds[name] = float("inf")
        while time.time() < deadline:
            info = inspect(container)
            host = info["NetworkSettings"]["Networks"].get(NETWORK, {}).get("IPAddress")
            if host and info["State"]["Status"] == "running" and ready(probe, host, port):
                seconds[name] = round(time.time() - started_at(info), 2)
                break
            time.sleep(0.05)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    rounds = [one_round() for _ in range(args.rounds)]
    medians = {name: median([r[name] for r in rounds]) for name in WORKLOADS}
    table = [(f"{name} start to ready (s)", f"{medians[name]:.2f}", "< 5") for name in WORKLOADS]
    write_report("podman_readiness", {"rounds": rounds, "median_s": medians}, table)


if __name__ == "__main__":
    main()
