"""CONTRACT tests of the Kubernetes path (deploy_kubernetes, playbooks/deploy.yml,
playbooks/rollback.yml, the teardown and verify roles) against a MOCK Kubernetes API server.

The API server is a mock (kube_mock.MockKube, an in-memory HTTP server in this process)
because no Kubernetes API server can run on these machines (DESIGN section 7). These tests
prove the roles' task flow and what they send to the API: server-side apply with one fixed
field manager, namespaces and Secrets first, explicit rollout waits, dry runs in check mode,
the report of a failed rollout, the rollback patch, the teardown's deletions, the verify
role's reading of EndpointSlices. They do not prove that a real cluster accepts the objects:
test_manifests.py validates them against the Kubernetes schemas and checkov, and the Molecule
scenario `kind` runs them on a real cluster where Docker and kind exist.

The model is cut to three workloads (the gateway, one specialist, the consensus engine; Redis
and Kafka outside) to keep the runs short; the roles loop over whatever the model holds.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import Renders
from deploy_support import BASE_IMAGES, IMAGES, REPO, Run, run_playbook
from kube_mock import REVISION, MockKube

MODEL = yaml.safe_load((REPO / "roles/neural_hive/defaults/main.yml").read_text())
WORKLOADS = ["gateway-intencoes", "specialist-business", "consensus-engine"]
FIELD_MANAGER = "neural-hive-ansible"
APPLY_PLAYBOOK = "tests/deploy/playbooks/apply.yml"
ROLE_PLAYBOOK = "tests/deploy/playbooks/role.yml"

BASE_EXTRA: dict[str, Any] = {
    **BASE_IMAGES,
    "deploy_kubernetes_context": "mock",
    "deploy_kubernetes_kind_cluster": "",
    "deploy_kubernetes_wait_sleep": 1,
    "neural_hive_own_backing_services": False,
    "neural_hive_specialist_workloads": MODEL["neural_hive_specialist_workloads"][:1],
    # fixed references: the content hashes of the sources change with every edit
    "manifests_images": IMAGES,
}


@pytest.fixture(scope="module")
def model_manifests(renders: Renders) -> Path:
    """The kind inventory's manifests as test_manifests.py renders them (in the background,
    from the start of the session): the tests that start from a deployed system use the
    objects of the model's three workloads."""
    render = renders.get("kind")
    assert render.returncode == 0, render.output[-3000:]
    return render.manifests


@pytest.fixture(scope="module")
def model_documents(model_manifests: Path) -> list[dict[str, Any]]:
    return [
        d
        for d in documents(model_manifests)
        if d["metadata"].get("namespace", d["metadata"]["name"]) in WORKLOADS
    ]


def documents(root: Path) -> list[dict[str, Any]]:
    return [d for p in sorted(root.rglob("*.yaml")) for d in yaml.safe_load_all(p.read_text()) if d]


@dataclass
class Cluster:
    mock: MockKube
    tmp: Path
    extra: dict[str, Any] = field(default_factory=dict)

    def run(self, playbook: str, args: list[str] | None = None, **extra: Any) -> Run:
        return run_playbook(self.tmp, playbook, "kind", {**self.extra, **extra}, args)

    @property
    def manifests(self) -> Path:
        return Path(self.extra["neural_hive_work_dir"]) / "manifests"

    def preload(self, docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Store the objects in the mock as a deploy would."""
        docs = copy.deepcopy(docs)
        for doc in sorted(docs, key=lambda d: d["kind"] != "Namespace"):
            self.mock.apply(doc, FIELD_MANAGER)
        return docs


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    mock = MockKube()
    server = mock.start()
    kubeconfig = mock.write_kubeconfig(tmp_path / "kubeconfig", server)
    extra = {
        **BASE_EXTRA,
        "neural_hive_work_dir": str(tmp_path / "work"),
        "deploy_kubernetes_kubeconfig": str(kubeconfig),
    }
    yield Cluster(mock, tmp_path, extra)
    mock.stop()


def _object_key(doc: dict[str, Any]) -> tuple[str, str, str]:
    return doc["kind"], doc["metadata"]["name"], doc["metadata"].get("namespace", "")


def test_contract_deploy_in_check_mode_then_for_real_then_again(
    cluster: Cluster, model_manifests: Path
) -> None:
    """Deploy to an empty (mock) cluster that serves the Prometheus Operator CRDs, four times:
    1. --check (deploy_kubernetes on rendered manifests): dry runs only, nothing stored; the
       workloads whose namespace does not exist yet are named;
    2. for real (playbooks/deploy.yml): every rendered object is applied with server-side
       apply under the one field manager, namespaces first, each Secret before its
       Deployment, then the rollouts are waited on;
    3. --check --diff with one setting changed (the kubernetes branch of deploy.yml): dry
       runs only, the change is shown;
    4. deploy_kubernetes again, nothing changed: nothing changes at all."""
    check = cluster.run(
        ROLE_PLAYBOOK,
        ["--check"],
        test_role="deploy_kubernetes",
        deploy_kubernetes_manifests_dir=str(model_manifests),
    )
    assert check.rc == 0, check.output[-5000:]
    assert not cluster.mock.objects
    assert cluster.mock.writes()
    assert all(w.query.get("dryRun") == "All" for w in cluster.mock.writes())
    for name in WORKLOADS:
        assert f"Namespace {name} does not exist yet" in check.output
    cluster.mock.requests.clear()

    run = cluster.run("playbooks/deploy.yml")
    assert run.rc == 0, run.output[-5000:]
    docs = documents(cluster.manifests)
    kinds = {d["kind"] for d in docs}
    assert {
        "ServiceMonitor",
        "PrometheusRule",
        "NetworkPolicy",
        "HorizontalPodAutoscaler",
        "Ingress",
    } <= kinds
    for doc in docs:
        stored = cluster.mock.get(
            doc["kind"], doc["metadata"]["name"], doc["metadata"].get("namespace", "")
        )
        assert stored is not None, _object_key(doc)
        assert stored["metadata"]["managedFields"][0]["manager"] == FIELD_MANAGER
        if doc["kind"] not in ("Deployment", "Service"):
            assert stored.get("spec") == doc.get("spec"), _object_key(doc)
            assert stored.get("data") == doc.get("data"), _object_key(doc)
    writes = cluster.mock.writes()
    assert writes
    assert all(
        w.method == "PATCH"
        and w.content_type == "application/apply-patch+yaml"
        and w.query.get("fieldManager") == FIELD_MANAGER
        and w.query.get("force", "").lower() == "true"
        and "dryRun" not in w.query
        for w in writes
    ), {(w.method, w.content_type, json.dumps(w.query)) for w in writes}
    order = [_object_key(w.body) for w in writes]
    last_patch = cluster.mock.requests.index(writes[-1])
    for name in WORKLOADS:
        first_in_namespace = min(i for i, (_, _, ns) in enumerate(order) if ns == name)
        assert order.index(("Namespace", name, "")) < first_in_namespace
        if ("Secret", f"{name}-secrets", name) in order:
            assert order.index(("Secret", f"{name}-secrets", name)) < order.index(
                ("Deployment", name, name)
            )
    waits = [
        r
        for r in cluster.mock.requests[last_patch + 1 :]
        if r.method == "GET" and r.path.endswith("/deployments")
    ]
    assert waits, "no wait for the rollouts"
    assert "Prometheus Operator CRDs found" in run.output

    before = copy.deepcopy(cluster.mock.objects)
    writes_before = len(cluster.mock.writes())
    diff = cluster.run(APPLY_PLAYBOOK, ["--check", "--diff"], neural_hive_log_level="debug")
    assert diff.rc == 0, diff.output[-5000:]
    assert cluster.mock.objects == before
    new_writes = cluster.mock.writes()[writes_before:]
    assert new_writes
    assert all(w.query.get("dryRun") == "All" for w in new_writes)
    assert "+  NEURAL_HIVE_LOG_LEVEL: debug" in diff.output, diff.output[-5000:]
    assert diff.recap()["changed"] > 0
    # the real output folder was left alone: check mode rendered beside it
    assert (
        "NEURAL_HIVE_LOG_LEVEL: info"
        in (cluster.manifests / "consensus-engine/resources.yaml").read_text()
    )

    again = cluster.run(ROLE_PLAYBOOK, test_role="deploy_kubernetes")
    assert again.rc == 0, again.output[-5000:]
    assert again.recap()["changed"] == 0, again.output[-5000:]
    assert cluster.mock.objects == before


def test_contract_failed_rollout_reports_the_deployment_events_and_logs(
    cluster: Cluster, model_manifests: Path
) -> None:
    """deploy_kubernetes on a cluster where the gateway's pods crash-loop: the play fails
    after the wait's timeout and shows the gateway's Deployment conditions, pod states,
    events and logs (the crashed container's too), no other workload's, and no secret."""
    cluster.mock.crashloop = {"gateway-intencoes"}
    run = cluster.run(
        ROLE_PLAYBOOK,
        test_role="deploy_kubernetes",
        deploy_kubernetes_wait_timeout=2,
        deploy_kubernetes_manifests_dir=str(model_manifests),
    )
    assert run.rc != 0
    out = run.output
    assert "gateway-intencoes did not roll out within 2 s" in out
    assert "== gateway-intencoes: Deployment gateway-intencoes/gateway-intencoes" in out
    assert "condition Available=False MinimumReplicasUnavailable" in out
    assert "waiting CrashLoopBackOff" in out
    assert "3 restarts" in out
    assert "Warning BackOff pod/gateway-intencoes-" in out
    assert "(x7)" in out
    assert "RuntimeError: mock crash on start" in out
    assert "cannot reach kafka:9092 (mock)" in out  # the previous container's log
    assert "== specialist-business" not in out, "only the failing workload is reported"
    assert "dummy-jwt" not in out
    assert "NEURAL_HIVE_JWT_SECRET:" not in out


def test_contract_rollback_returns_each_deployment_to_its_previous_revision(
    cluster: Cluster, model_documents: list[dict[str, Any]]
) -> None:
    docs = cluster.preload(model_documents)
    first = {
        d["metadata"]["name"]: copy.deepcopy(d["spec"]["template"])
        for d in docs
        if d["kind"] == "Deployment"
    }
    for doc in docs:  # a second revision of every Deployment
        if doc["kind"] == "Deployment":
            doc["spec"]["template"]["metadata"]["annotations"]["checksum/config"] = "changed"
            cluster.mock.apply(doc, FIELD_MANAGER)
    assert {
        cluster.mock.get("Deployment", n, n)["metadata"]["annotations"][REVISION] for n in WORKLOADS
    } == {"2"}

    run = cluster.run("playbooks/rollback.yml")
    assert run.rc == 0, run.output[-5000:]
    patches = [w for w in cluster.mock.writes() if w.content_type == "application/json-patch+json"]
    assert sorted(w.path.rsplit("/", 1)[1] for w in patches) == sorted(WORKLOADS)
    for name in WORKLOADS:
        deployment = cluster.mock.get("Deployment", name, name)
        assert deployment["spec"]["template"] == first[name]
        assert deployment["metadata"]["annotations"][REVISION] == "3"
        assert f"{name}: back to revision 1" in run.output


def test_contract_teardown_deletes_only_the_namespaces_it_created(
    cluster: Cluster, model_documents: list[dict[str, Any]]
) -> None:
    cluster.preload(model_documents)
    namespace = cluster.mock.get("Namespace", "specialist-business")
    del namespace["metadata"]["labels"][
        "app.kubernetes.io/part-of"
    ]  # as if someone else had made it
    cluster.mock.objects[("v1", "Namespace", "", "specialist-business")] = namespace
    cluster.mock.add(
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {
                "name": "unrelated",
                "labels": {"app.kubernetes.io/part-of": "neural-hive-mind"},
            },
        }
    )

    run = cluster.run("playbooks/teardown.yml")
    assert run.rc == 0, run.output[-5000:]
    assert [n["metadata"]["name"] for n in cluster.mock.find("Namespace")] == [
        "specialist-business",
        "unrelated",
    ]
    assert not cluster.mock.find("Deployment", "gateway-intencoes")
    assert cluster.mock.find("Deployment", "specialist-business")


def test_contract_verify_reads_endpoints_and_dumps_failing_workloads(
    cluster: Cluster, model_documents: list[dict[str, Any]]
) -> None:
    """The verify role's kubernetes files (deploy_kubernetes_reach=direct: the pods' IPs):
    they set the facts the checks read, record checks 7-12 from the EndpointSlices, and the
    dump shows a workload's Deployment, pods, events and logs."""
    cluster.preload(model_documents)
    report = cluster.tmp / "verify.json"
    run = cluster.run(
        "tests/deploy/playbooks/verify_kubernetes.yml",
        deploy_kubernetes_reach="direct",
        test_report=str(report),
    )
    assert run.rc == 0, run.output[-5000:]
    facts = json.loads(report.read_text())
    pods = {d["metadata"]["namespace"]: d for d in cluster.mock.find("Pod")}
    for name in WORKLOADS:
        assert facts["states"][name] == "running"
        assert facts["addresses"][name] == pods[name]["status"]["podIP"]
        assert (
            facts["service_addresses"][name]
            == cluster.mock.get("Service", name, name)["spec"]["clusterIP"]
        )
    assert facts["gateway_base"] == f"http://{facts['service_addresses']['gateway-intencoes']}:8000"
    checks = {c["check"]: c for c in facts["results"]}
    for name in WORKLOADS:
        service = checks[f"service {name} has an endpoint"]
        assert service["result"] == "passed", service
        assert service["detail"].startswith("1 ready (127.77.0."), service
    assert "== gateway-intencoes: Deployment gateway-intencoes/gateway-intencoes" in run.output
    assert "INFO ready" in run.output  # the pod's log


def test_contract_discovery_decides_what_is_rendered_and_guards_the_openshift_target(
    tmp_path: Path,
) -> None:
    """The API's discovery documents set what the render may use: the Prometheus Operator
    CRDs and OpenShift Routes; a target of openshift on a cluster without Routes stops."""
    for openshift in (False, True):
        mock = MockKube(monitoring=False, openshift=openshift)
        kubeconfig = mock.write_kubeconfig(tmp_path / "kubeconfig", mock.start())
        try:
            run = run_playbook(
                tmp_path,
                ROLE_PLAYBOOK,
                "kind",
                {
                    **BASE_EXTRA,
                    "neural_hive_work_dir": str(tmp_path / "work"),
                    "deploy_kubernetes_kubeconfig": str(kubeconfig),
                    "neural_hive_target": "openshift",
                    "test_role": "deploy_kubernetes",
                    "test_tasks_from": "discover.yml",
                },
            )
        finally:
            mock.stop()
        assert "Prometheus Operator CRDs absent: no ServiceMonitor or PrometheusRule" in run.output
        if openshift:
            assert run.rc == 0, run.output[-3000:]
            assert "OpenShift Routes served" in run.output
        else:
            assert run.rc != 0
            assert "the cluster does not serve route.openshift.io/v1" in run.output
        assert not mock.writes()
