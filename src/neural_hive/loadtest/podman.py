"""The deployed local (Podman) target as the load and chaos tests see it.

`podman kube play` names a workload's container `<workload>-pod-0-<container>`; its
address is the pod's on the Podman network, which this machine reaches directly.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
from dataclasses import dataclass

SPECIALISTS = tuple(
    f"specialist-{t}" for t in ("business", "technical", "behavior", "evolution", "architecture")
)
WORKLOADS = ("redis", "kafka", "gateway-intencoes", "consensus-engine", *SPECIALISTS)
BASELINE = "neural-hive-loadtest-baseline"


class StackError(RuntimeError):
    """The deployed stack is not what the test needs (a workload missing or stopped)."""


def _podman(*args: str, check: bool = True) -> str:
    done = subprocess.run(["podman", *args], capture_output=True, text=True, check=False)
    if check and done.returncode != 0:
        raise StackError(f"podman {' '.join(args)}: {done.stderr.strip() or done.returncode}")
    return done.stdout


@dataclass(frozen=True)
class PodmanStack:
    network: str = "neural-hive"

    def container(self, workload: str) -> str:
        names = [
            c["Names"][0]
            for c in json.loads(_podman("ps", "-a", "--format", "json") or "[]")
            if c["Names"][0].startswith(f"{workload}-pod-0-") and not c.get("IsInfra")
        ]
        if len(names) != 1:
            raise StackError(
                f"expected one container of {workload!r}, found {names or 'none'}: "
                "deploy first (ansible-playbook site.yml)"
            )
        return str(names[0])

    def address(self, workload: str) -> str:
        info = json.loads(_podman("inspect", "--type", "container", self.container(workload)))
        networks = info[0]["NetworkSettings"]["Networks"]
        if self.network not in networks:
            raise StackError(f"{workload} is not on the podman network {self.network!r}")
        return str(networks[self.network]["IPAddress"])

    def image(self, workload: str) -> str:
        info = json.loads(_podman("inspect", "--type", "container", self.container(workload)))
        return str(info[0]["ImageName"])

    def tap_command(self, *, eager: bool = False) -> list[str]:
        return [
            "podman", "exec", "-i", self.container("consensus-engine"),
            "python", "-m", "neural_hive.consensus.tap", *(["--eager"] if eager else []),
        ]  # fmt: skip

    def pid(self, workload: str) -> int:
        """The container's main process on this machine; 0 when it does not run."""
        state = _podman(
            "inspect", "--format", "{{.State.Status}} {{.State.Pid}}", self.container(workload)
        )
        status, pid = state.split()
        return int(pid) if status == "running" else 0

    def restarts(self, *workloads: str) -> dict[str, int]:
        """How often each workload's container was restarted (its restart policy: a crash
        or the kernel's OOM killer)."""
        return {
            w: int(_podman("inspect", "--format", "{{.RestartCount}}", self.container(w)))
            for w in workloads
        }

    def crash(self, *workloads: str) -> dict[str, int]:
        """SIGKILL each workload's process from outside, as the OOM killer or a crash would:
        unlike `podman kill` (a stop by the user), this leaves the restart policy to act.
        Returns the killed pids."""
        pids = {w: self.pid(w) for w in workloads}
        for w, pid in pids.items():
            if pid <= 0:
                raise StackError(f"{w} does not run: nothing to crash")
            os.kill(pid, signal.SIGKILL)
        return pids

    async def act(self, verb: str, *workloads: str) -> None:
        """`podman stop|start` the workloads' containers."""
        names = [self.container(w) for w in workloads]
        args = [verb, *(["--time", "2"] if verb == "stop" else []), *names]
        proc = await asyncio.create_subprocess_exec(
            "podman", *args, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
        )
        _, err = await proc.communicate()
        if proc.returncode != 0:
            raise StackError(f"podman {' '.join(args)}: {err.decode().strip()}")

    def start_baseline(self, image: str, port: int = 8000) -> str:
        """The empty route in the gateway's image on the same network; returns its URL."""
        _podman("rm", "--force", "--ignore", BASELINE, check=False)
        _podman(
            "run", "--detach", "--rm", "--name", BASELINE, "--network", self.network,
            "--read-only", "--user", "10001:0", image,
            "uvicorn", "neural_hive.loadtest.empty_app:app", "--host", "0.0.0.0",  # noqa: S104 - inside its container
            "--port", str(port), "--no-access-log", "--log-level", "warning",
        )  # fmt: skip
        info = json.loads(_podman("inspect", "--type", "container", BASELINE))
        return f"http://{info[0]['NetworkSettings']['Networks'][self.network]['IPAddress']}:{port}"

    def stop_baseline(self) -> None:
        _podman("rm", "--force", "--ignore", BASELINE, check=False)
