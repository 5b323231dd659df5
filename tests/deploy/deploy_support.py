"""Run the project's playbooks for the deploy tests: ansible-playbook with the repository's
ansible.cfg, from the repository root, the outcome read from its output."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
INVENTORIES = sorted(p.parent.name for p in (REPO / "inventories").glob("*/hosts.yml"))

#: Base image ids for the image_build role's tag computation, so that playbooks/deploy.yml
#: runs without building anything (the tags are content hashes of the sources and these).
BASE_IMAGES = {
    "base_image_ids": {
        f: f"sha256:{i}" * 8 for i, f in enumerate(["python", "media", "build", "redis"], 1)
    },
    "base_image_refs": {},
}
#: What the production inventory takes from the operator's vault.
PRODUCTION_SECRETS = {
    "vault_neural_hive_gateway_jwt_secret": "dummy-jwt-secret-for-the-tests-only-0123456789",
    "vault_neural_hive_redis_password": "dummy redis/password",
}
#: Image references for renders that skip the image_build role.
IMAGES = {
    f: f"registry.example.com/neural-hive/{f}:0123456789abcdef"
    for f in ("specialist", "consensus", "gateway", "broker", "redis")
}


@dataclass
class Run:
    rc: int
    output: str
    wall_s: float

    def recap(self) -> dict[str, int]:
        """The localhost PLAY RECAP counters (ok, changed, failed...)."""
        match = re.search(r"^localhost\s+:\s+(.*)$", self.output, re.MULTILINE)
        assert match, self.output[-3000:]
        return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", match.group(1))}


def env(tmp: Path) -> dict[str, str]:
    """The environment of an ansible-playbook run: the repository's configuration, a
    private temporary directory (kubernetes.core caches API discovery there) and no
    kubeconfig or K8S_AUTH_* from the caller's shell."""
    out = {k: v for k, v in os.environ.items() if not k.startswith(("K8S_AUTH_", "KUBECONFIG"))}
    tmpdir = tmp / "tmp"
    tmpdir.mkdir(exist_ok=True)
    out.update(
        {
            "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"),
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_FORCE_COLOR": "0",
            "ANSIBLE_DEPRECATION_WARNINGS": "0",
            "ANSIBLE_RETRY_FILES_ENABLED": "0",
            "ANSIBLE_LOCAL_TEMP": str(tmpdir),
            "ANSIBLE_REMOTE_TEMP": str(tmpdir),
            "TMPDIR": str(tmpdir),
            "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        }
    )
    return out


def playbook_argv(
    playbook: str, inventory: str, extra: dict[str, Any], args: list[str] | None = None
) -> list[str]:
    return [
        str(BIN / "ansible-playbook"),
        "-i",
        str(REPO / "inventories" / inventory / "hosts.yml"),
        str(REPO / playbook),
        "-e",
        json.dumps(extra),
        *(args or []),
    ]


def run_playbook(
    tmp: Path,
    playbook: str,
    inventory: str,
    extra: dict[str, Any],
    args: list[str] | None = None,
    timeout: float = 240,
) -> Run:
    start = time.monotonic()
    proc = subprocess.run(
        playbook_argv(playbook, inventory, extra, args),
        cwd=REPO,
        env=env(tmp),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return Run(proc.returncode, proc.stdout + proc.stderr, time.monotonic() - start)
