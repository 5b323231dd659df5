"""Run the project's Ansible collection for real: `ansible` and `ansible-playbook`
subprocesses with the repository's ansible.cfg, on localhost with the venv's Python,
their results read back from the ansible.posix.json stdout callback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from neural_hive.devstack import BIN

REPO = Path(__file__).resolve().parents[2]
COLLECTION = "neural_hive.deploy"


@dataclass
class Run:
    rc: int
    stdout: str
    stderr: str
    wall_s: float
    doc: dict[str, Any]

    def task_results(self) -> list[dict[str, Any]]:
        """The localhost result of every task of every play, in order."""
        return [
            task["hosts"]["localhost"]
            for play in self.doc.get("plays", [])
            for task in play["tasks"]
            if "localhost" in task["hosts"]
        ]

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def write_inventory(directory: Path) -> Path:
    inventory = directory / "hosts.ini"
    inventory.write_text(
        f"localhost ansible_connection=local ansible_python_interpreter={sys.executable}\n"
    )
    return inventory


def _env() -> dict[str, str]:
    return {
        **os.environ,
        "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"),
        "ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json",
        "ANSIBLE_LOAD_CALLBACK_PLUGINS": "1",
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_DEPRECATION_WARNINGS": "0",
        "ANSIBLE_RETRY_FILES_ENABLED": "0",
    }


def _parse(stdout: str) -> dict[str, Any]:
    """The callback's JSON document; other callbacks (profile_tasks from ansible.cfg)
    may print lines around it."""
    start = stdout.find("{\n")
    if start < 0:
        raise AssertionError(f"no JSON document in ansible's output:\n{stdout[-3000:]}")
    doc, _ = json.JSONDecoder().raw_decode(stdout[start:])
    return dict(doc)


def _run(argv: list[str], timeout: float) -> Run:
    start = time.monotonic()
    proc = subprocess.run(
        argv, cwd=REPO, env=_env(), capture_output=True, text=True, timeout=timeout, check=False
    )
    wall = time.monotonic() - start
    return Run(proc.returncode, proc.stdout, proc.stderr, wall, _parse(proc.stdout))


def run_module(
    inventory: Path, module: str, args: dict[str, Any], timeout: float = 60
) -> tuple[dict[str, Any], Run]:
    """One ad-hoc `ansible localhost -m neural_hive.deploy.<module>`: (result, run)."""
    run = _run(
        [
            str(BIN / "ansible"),
            "localhost",
            "-i",
            str(inventory),
            "-m",
            f"{COLLECTION}.{module}",
            "-a",
            json.dumps(args),
        ],
        timeout,
    )
    results = run.task_results()
    assert len(results) == 1, run.output[-3000:]
    return results[0], run


def run_playbook(
    inventory: Path, directory: Path, tasks: list[dict[str, Any]], timeout: float = 120
) -> tuple[list[dict[str, Any]], Run]:
    """A one-play playbook on localhost: (each task's result, run)."""
    playbook = directory / "play.yml"
    playbook.write_text(
        yaml.safe_dump(
            [{"name": "probe", "hosts": "localhost", "gather_facts": False, "tasks": tasks}],
            sort_keys=False,
        )
    )
    run = _run([str(BIN / "ansible-playbook"), "-i", str(inventory), str(playbook)], timeout)
    return run.task_results(), run
