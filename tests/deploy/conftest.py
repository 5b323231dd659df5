"""Renders for the manifest tests, started in the background as soon as the tests are
collected: each inventory twice, into two separate folders (the determinism test compares
them), and production as OpenShift once; two at a time, beside the contract tests; then
checkov over the first copies."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from deploy_support import BIN, IMAGES, INVENTORIES, PRODUCTION_SECRETS, REPO, env, playbook_argv

#: variant -> (inventory, extra vars): every inventory, and production as OpenShift with the
#: Prometheus Operator's CRDs found (so that every kind the role knows is rendered somewhere).
VARIANTS: dict[str, tuple[str, dict[str, Any]]] = {
    **{inventory: (inventory, {}) for inventory in INVENTORIES},
    "production-openshift": (
        "production",
        {"neural_hive_target": "openshift", "deploy_kubernetes_has_monitoring": True},
    ),
}
RENDER_PLAYBOOK = "tests/deploy/playbooks/render.yml"


@dataclass
class Render:
    variant: str
    copy: str
    work_dir: Path
    argv: list[str]
    returncode: int | None = None
    output: str = ""
    done: threading.Event = field(default_factory=threading.Event)

    @property
    def manifests(self) -> Path:
        return self.work_dir / "manifests"

    def run(self) -> None:
        try:
            proc = subprocess.run(
                self.argv,
                cwd=REPO,
                env=env(self.work_dir),
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                timeout=600,
                check=False,
            )
            self.returncode, self.output = proc.returncode, proc.stdout
        finally:
            self.done.set()

    def wait(self, timeout: float = 600) -> Render:
        assert self.done.wait(timeout), f"render {self.variant}/{self.copy} did not finish"
        return self


class Renders:
    def __init__(self, workers: int) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="neural-hive-renders-"))
        self.started: dict[tuple[str, str], Render] = {}
        self.pool = ThreadPoolExecutor(max_workers=workers)
        self.futures: list[Future[None]] = []
        self._checkov: Future[tuple[dict[str, Any], dict[str, Any]]] | None = None

    def start(self) -> None:
        # the first copies first (the contract tests use kind's), then the second ones
        for copy in ("a", "b"):
            for variant, (inventory, extra) in VARIANTS.items():
                if copy == "b" and variant not in INVENTORIES:
                    continue
                work = self.root / variant / copy
                work.mkdir(parents=True)
                variables = {
                    **PRODUCTION_SECRETS,
                    **extra,
                    "neural_hive_work_dir": str(work),
                    "manifests_images": IMAGES,
                    # fixed, so that the two copies (separate work dirs) get the same one
                    "neural_hive_gateway_jwt_secret": "dummy-jwt-secret-for-the-render-tests-0123",
                }
                render = Render(
                    variant, copy, work, playbook_argv(RENDER_PLAYBOOK, inventory, variables)
                )
                self.started[variant, copy] = render
                self.futures.append(self.pool.submit(render.run))

        # checkov as soon as every first copy is there, beside the other renders
        self._checkov = ThreadPoolExecutor(max_workers=1).submit(self._run_checkov)

    def get(self, variant: str, copy: str = "a") -> Render:
        return self.started[variant, copy].wait()

    def checkov(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """checkov's reports over every variant's first copy as rendered ("annotated") and
        over the same without the checkov.io/skip annotations ("bare")."""
        assert self._checkov is not None
        return self._checkov.result(timeout=900)

    def _run_checkov(self) -> tuple[dict[str, Any], dict[str, Any]]:
        root = self.root / "checkov"
        for name in ("annotated", "bare"):
            for variant in VARIANTS:
                render = self.get(variant)
                if render.returncode != 0:
                    raise RuntimeError(f"render {variant} failed")
                for path in render.manifests.rglob("*.yaml"):
                    dest = root / name / variant / path.relative_to(render.manifests)
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    docs = list(yaml.safe_load_all(path.read_text()))
                    if name == "bare":
                        for doc in docs:
                            annotations = (doc or {}).get("metadata", {}).get("annotations") or {}
                            for key in [k for k in annotations if k.startswith("checkov.io/skip")]:
                                del annotations[key]
                    dest.write_text(yaml.safe_dump_all(docs))
        procs = [
            subprocess.Popen(
                [
                    str(BIN / "checkov"),
                    "-d",
                    str(root / name),
                    "--framework",
                    "kubernetes",
                    "--skip-download",
                    "-o",
                    "json",
                    *(["--quiet"] if name == "bare" else []),
                ],
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
            )
            for name in ("annotated", "bare")
        ]
        reports = []
        for proc in procs:
            out, _ = proc.communicate(timeout=600)
            report = json.loads(out)
            reports.append(dict(report[0] if isinstance(report, list) else report))
        return reports[0], reports[1]

    def close(self) -> None:
        for future in self.futures:
            future.cancel()
        self.pool.shutdown(wait=True)
        shutil.rmtree(self.root, ignore_errors=True)


_RENDERS: Renders | None = None


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Start the renders at once when a test that needs them was collected."""
    global _RENDERS
    if _RENDERS is None and any("renders" in getattr(i, "fixturenames", ()) for i in items):
        _RENDERS = Renders(workers=2)
        _RENDERS.start()


@pytest.fixture(scope="session")
def renders() -> Iterator[Renders]:
    global _RENDERS
    if _RENDERS is None:
        _RENDERS = Renders(workers=2)
        _RENDERS.start()
    yield _RENDERS
    _RENDERS.close()
    _RENDERS = None
