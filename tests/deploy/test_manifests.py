"""The manifests every inventory renders: deterministic, valid for Kubernetes 1.30 through
the newest version kubernetes-validate knows (strict), clean for checkov's Kubernetes checks
(each remaining exception annotated on its resource with its reason), and hardened as issue 5
asks, NetworkPolicies allowing exactly the flows the system needs."""

from __future__ import annotations

import base64
import copy
import functools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate.utils as kv
import pytest
import yaml
from conftest import VARIANTS, Render, Renders
from deploy_support import INVENTORIES, REPO

JSON = dict[str, Any]

#: kubernetes-validate reads each schema file for every resource; the same files serve
#: every resource of a version, so read each once (the validation itself is unchanged).
kv.schema_contents = functools.lru_cache(maxsize=None)(kv.schema_contents)

VERSIONS = yaml.safe_load((REPO / "roles/manifests/defaults/main.yml").read_text())[
    "manifests_validate_versions"
]
LABELS = ("name", "instance", "component", "part-of", "version", "managed-by")
CRD_KINDS = {"Route", "ServiceMonitor", "PrometheusRule"}

#: The parts of the CRDs' schemas (Route, ServiceMonitor, PrometheusRule) these manifests use:
#: kubernetes-validate knows no CRD, so check at least their shape strictly.
_META = {
    "type": "object",
    "required": ["name", "namespace", "labels"],
    "properties": {
        "name": {"type": "string"},
        "namespace": {"type": "string"},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
    },
    "additionalProperties": False,
}
CRD_SCHEMAS: dict[str, JSON] = {
    "Route": {
        "type": "object",
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "properties": {
            "apiVersion": {"const": "route.openshift.io/v1"},
            "kind": {"const": "Route"},
            "metadata": _META,
            "spec": {
                "type": "object",
                "required": ["to", "tls"],
                "additionalProperties": False,
                "properties": {
                    "host": {"type": "string"},
                    "to": {
                        "type": "object",
                        "required": ["kind", "name"],
                        "additionalProperties": False,
                        "properties": {
                            "kind": {"const": "Service"},
                            "name": {"type": "string"},
                            "weight": {"type": "integer"},
                        },
                    },
                    "port": {
                        "type": "object",
                        "properties": {"targetPort": {"type": ["string", "integer"]}},
                        "additionalProperties": False,
                    },
                    "tls": {
                        "type": "object",
                        "required": ["termination"],
                        "additionalProperties": False,
                        "properties": {
                            "termination": {"enum": ["edge", "passthrough", "reencrypt"]},
                            "insecureEdgeTerminationPolicy": {
                                "enum": ["Allow", "None", "Redirect"]
                            },
                        },
                    },
                    "wildcardPolicy": {"enum": ["None", "Subdomain"]},
                },
            },
        },
        "additionalProperties": False,
    },
    "ServiceMonitor": {
        "type": "object",
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "properties": {
            "apiVersion": {"const": "monitoring.coreos.com/v1"},
            "kind": {"const": "ServiceMonitor"},
            "metadata": _META,
            "spec": {
                "type": "object",
                "required": ["selector", "endpoints"],
                "additionalProperties": False,
                "properties": {
                    "selector": {
                        "type": "object",
                        "properties": {"matchLabels": {"type": "object"}},
                        "additionalProperties": False,
                    },
                    "namespaceSelector": {
                        "type": "object",
                        "properties": {"matchNames": {"type": "array"}},
                        "additionalProperties": False,
                    },
                    "endpoints": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "additionalProperties": False,
                            "properties": {
                                "port": {"type": "string"},
                                "path": {"type": "string"},
                                "interval": {"type": "string", "pattern": "^[0-9]+(ms|s|m|h)$"},
                                "scrapeTimeout": {
                                    "type": "string",
                                    "pattern": "^[0-9]+(ms|s|m|h)$",
                                },
                            },
                        },
                    },
                },
            },
        },
        "additionalProperties": False,
    },
    "PrometheusRule": {
        "type": "object",
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "properties": {
            "apiVersion": {"const": "monitoring.coreos.com/v1"},
            "kind": {"const": "PrometheusRule"},
            "metadata": _META,
            "spec": {
                "type": "object",
                "required": ["groups"],
                "additionalProperties": False,
                "properties": {
                    "groups": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["name", "rules"],
                            "additionalProperties": False,
                            "properties": {
                                "name": {"type": "string"},
                                "rules": {
                                    "type": "array",
                                    "items": {
                                        "type": "object",
                                        "required": ["alert", "expr"],
                                        "additionalProperties": False,
                                        "properties": {
                                            "alert": {"type": "string"},
                                            "expr": {"type": "string"},
                                            "for": {
                                                "type": "string",
                                                "pattern": "^[0-9]+(ms|s|m|h)$",
                                            },
                                            "labels": {"type": "object"},
                                            "annotations": {"type": "object"},
                                        },
                                    },
                                },
                            },
                        },
                    },
                },
            },
        },
        "additionalProperties": False,
    },
}


def documents(manifests: Path) -> Iterator[tuple[Path, JSON]]:
    for path in sorted(manifests.rglob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                yield path, doc


def rendered(renders: Renders, variant: str) -> Render:
    render = renders.get(variant)
    assert render.returncode == 0, render.output[-4000:]
    return render


@pytest.fixture(scope="module", params=sorted(VARIANTS))
def variant(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def by_kind(docs: list[JSON], kind: str) -> list[JSON]:
    return [d for d in docs if d["kind"] == kind]


# ---- determinism -------------------------------------------------------------------------


@pytest.mark.parametrize("inventory", INVENTORIES)
def test_every_inventory_renders_byte_identical_manifests_twice(
    renders: Renders, inventory: str
) -> None:
    """Two renders of the same inventory, by two ansible-playbook processes (different hash
    seeds), into two folders: the same files, byte for byte."""
    first, second = rendered(renders, inventory), renders.get(inventory, "b")
    assert second.returncode == 0, second.output[-4000:]
    files_a = sorted(
        p.relative_to(first.manifests) for p in first.manifests.rglob("*") if p.is_file()
    )
    files_b = sorted(
        p.relative_to(second.manifests) for p in second.manifests.rglob("*") if p.is_file()
    )
    assert files_a == files_b
    assert files_a, "nothing rendered"
    for rel in files_a:
        assert (first.manifests / rel).read_bytes() == (second.manifests / rel).read_bytes(), rel


# ---- schema validation -------------------------------------------------------------------


def test_the_versions_reach_the_newest_kubernetes_validate_knows() -> None:
    newest = kv.major_minor(kv.latest_version())
    assert VERSIONS[0].startswith("1.30.")
    assert kv.major_minor(VERSIONS[-1]) == newest, f"validate up to {newest}"


def test_manifests_validate_strictly_for_every_kubernetes_version(
    renders: Renders, variant: str
) -> None:
    """kubernetes-validate --strict (its validate(), which the CLI calls per resource) for
    every version in manifests_validate_versions; the CRD kinds against their schemas above."""
    docs = list(documents(rendered(renders, variant).manifests))
    errors = []
    for path, doc in docs:
        if doc["kind"] in CRD_KINDS:
            try:
                jsonschema.validate(doc, CRD_SCHEMAS[doc["kind"]])
            except jsonschema.ValidationError as e:
                errors.append(f"{path.name} {doc['kind']}/{doc['metadata']['name']}: {e.message}")
            continue
        for version in VERSIONS:
            try:
                kv.validate(doc, version, strict=True)
            except kv.SchemaNotFoundError:
                errors.append(f"{doc['kind']} {doc['apiVersion']} unknown to Kubernetes {version}")
            except kv.ValidationError as e:
                errors.append(
                    f"{path.name} {doc['kind']}/{doc['metadata']['name']} ({version}): {e}"
                )
    assert not errors, "\n".join(errors[:20])


# ---- checkov -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def checkov_reports(renders: Renders) -> tuple[JSON, JSON]:
    """checkov over every variant's manifests as rendered, and over a copy without the
    checkov.io/skip annotations (run in the background once the first renders are done)."""
    for v in VARIANTS:
        rendered(renders, v)
    return renders.checkov()


def _key(check: JSON) -> tuple[str, str, str]:
    variant = Path(check["file_path"]).parts[1]
    return variant, check["resource"], check["check_id"]


def test_checkov_kubernetes_checks_pass(checkov_reports: tuple[JSON, JSON]) -> None:
    report = checkov_reports[0]
    assert report["summary"]["parsing_errors"] == 0
    assert report["summary"]["resource_count"] > 100
    failed = [f"{_key(c)}: {c['check_name']}" for c in report["results"]["failed_checks"]]
    assert not failed, "\n".join(failed)


def test_each_checkov_exception_has_a_reason_and_is_needed(
    checkov_reports: tuple[JSON, JSON],
) -> None:
    """Every skip is written on its resource with a reason, and without the annotations
    checkov fails exactly those checks: no exception is left that nothing needs."""
    annotated, bare = checkov_reports
    skipped = annotated["results"]["skipped_checks"]
    assert skipped
    for check in skipped:
        comment = check.get("check_result", {}).get("suppress_comment", "")
        assert len(comment) > 30, _key(check)
    assert {_key(c) for c in skipped} == {_key(c) for c in bare["results"]["failed_checks"]}


# ---- hardening ---------------------------------------------------------------------------


def _workloads(docs: list[JSON]) -> list[tuple[JSON, JSON]]:
    """(Deployment, its pod spec) per workload."""
    return [(d, d["spec"]["template"]["spec"]) for d in by_kind(docs, "Deployment")]


def test_every_object_carries_the_shared_labels(renders: Renders, variant: str) -> None:
    for _, doc in documents(rendered(renders, variant).manifests):
        labels = doc["metadata"].get("labels", {})
        missing = [k for k in LABELS if f"app.kubernetes.io/{k}" not in labels]
        assert not missing, f"{doc['kind']}/{doc['metadata']['name']} lacks {missing}"


def test_namespaces_enforce_the_restricted_pod_security_standard(
    renders: Renders, variant: str
) -> None:
    docs = [d for _, d in documents(rendered(renders, variant).manifests)]
    namespaces = by_kind(docs, "Namespace")
    assert len(namespaces) == len(by_kind(docs, "Deployment"))
    for ns in namespaces:
        for mode in ("enforce", "audit", "warn"):
            assert ns["metadata"]["labels"][f"pod-security.kubernetes.io/{mode}"] == "restricted"
    for d in docs:
        assert d["kind"] == "Namespace" or d["metadata"]["namespace"] in {
            n["metadata"]["name"] for n in namespaces
        }


def test_no_secret_reaches_a_configmap(renders: Renders, variant: str) -> None:
    docs = [d for _, d in documents(rendered(renders, variant).manifests)]
    secrets = by_kind(docs, "Secret")
    assert secrets
    values = {base64.b64decode(v).decode() for s in secrets for v in s["data"].values()}
    for cm in by_kind(docs, "ConfigMap"):
        for key, value in cm["data"].items():
            assert not any(
                w in key.upper() for w in ("SECRET", "PASSWORD", "TOKEN", "REDIS_URL")
            ), key
            assert value not in values, f"{cm['metadata']['name']}: {key} holds a Secret's value"
    for sa in by_kind(docs, "ServiceAccount"):
        assert sa["automountServiceAccountToken"] is False


def test_pods_are_hardened(renders: Renders, variant: str) -> None:
    docs = [d for _, d in documents(rendered(renders, variant).manifests)]
    openshift = variant.endswith("openshift")
    for deployment, pod in _workloads(docs):
        name = deployment["metadata"]["name"]
        assert pod["automountServiceAccountToken"] is False
        psc = pod["securityContext"]
        assert psc["runAsNonRoot"] is True
        assert psc["seccompProfile"] == {"type": "RuntimeDefault"}
        if openshift:
            assert not {"runAsUser", "runAsGroup", "fsGroup"} & set(psc), (
                f"{name}: a fixed id on OpenShift"
            )
        else:
            assert psc["runAsUser"] >= 10000
        zones = [
            c
            for c in pod["topologySpreadConstraints"]
            if c["topologyKey"] == "topology.kubernetes.io/zone"
        ]
        assert zones, name
        (container,) = pod["containers"]
        sc = container["securityContext"]
        assert sc["allowPrivilegeEscalation"] is False
        assert sc["readOnlyRootFilesystem"] is True
        assert sc["capabilities"] == {"drop": ["ALL"]}
        assert not {"runAsUser", "runAsGroup"} & set(sc) or not openshift
        for kind in ("requests", "limits"):
            assert set(container["resources"][kind]) == {"cpu", "memory"}, name
        assert {"startupProbe", "livenessProbe", "readinessProbe"} <= set(container), name
        ports = {p["name"] for p in container["ports"]}
        if "grpc" in ports:  # the specialists: native gRPC probes
            assert "grpc" in container["readinessProbe"]
            assert "grpc" in container["startupProbe"]
            assert container["livenessProbe"]["httpGet"]["path"] == "/health"
        elif "http" in ports:
            assert container["livenessProbe"]["httpGet"]["path"] == "/health"
            assert container["readinessProbe"]["httpGet"]["path"] == "/ready"
        # every writable path is an emptyDir (the root file system is read-only)
        volumes = {v["name"]: v for v in pod.get("volumes", [])}
        for mount in container.get("volumeMounts", []):
            assert "emptyDir" in volumes[mount["name"]], f"{name}: {mount['mountPath']}"
        for port in container["ports"]:
            assert "hostPort" not in port or variant == "local", f"{name}: hostPort off Podman"


def test_disruption_budgets_autoscalers_and_entry_points(renders: Renders, variant: str) -> None:
    docs = [d for _, d in documents(rendered(renders, variant).manifests)]
    target = {"local": "podman", "production-openshift": "openshift"}.get(variant, "kubernetes")
    deployments = {d["metadata"]["name"]: d for d in by_kind(docs, "Deployment")}
    pdbs = {d["metadata"]["name"]: d for d in by_kind(docs, "PodDisruptionBudget")}
    assert set(pdbs) == set(deployments)
    hpas = {d["metadata"]["name"]: d for d in by_kind(docs, "HorizontalPodAutoscaler")}
    apps = {
        n
        for n, d in deployments.items()
        if d["metadata"]["labels"]["app.kubernetes.io/component"]
        in ("gateway", "specialist", "consensus")
    }
    if target == "podman":
        assert not hpas
        assert all("replicas" in d["spec"] for d in deployments.values())
    else:
        assert set(hpas) == apps
        for name, hpa in hpas.items():
            assert "replicas" not in deployments[name]["spec"], (
                f"{name}: the autoscaler owns replicas"
            )
            assert hpa["spec"]["scaleTargetRef"]["name"] == name
            assert hpa["spec"]["maxReplicas"] >= hpa["spec"]["minReplicas"] >= 1
    ingresses, routes = by_kind(docs, "Ingress"), by_kind(docs, "Route")
    if target == "kubernetes":
        assert [i["metadata"]["name"] for i in ingresses] == ["gateway-intencoes"]
        assert not routes
    elif target == "openshift":
        assert [r["metadata"]["name"] for r in routes] == ["gateway-intencoes"]
        assert not ingresses
        assert routes[0]["spec"]["tls"] == {
            "termination": "edge",
            "insecureEdgeTerminationPolicy": "Redirect",
        }
    else:
        assert not ingresses
        assert not routes
    monitoring = by_kind(docs, "ServiceMonitor") + by_kind(docs, "PrometheusRule")
    if variant == "production-openshift":  # rendered with the CRDs found
        assert {m["metadata"]["name"] for m in monitoring} == set(apps)
    else:
        assert not monitoring, "monitoring kinds need their CRDs: off unless the deploy finds them"


# ---- NetworkPolicy -----------------------------------------------------------------------


def _matches(selector: JSON | None, labels: dict[str, str]) -> bool:
    return selector is not None and all(
        labels.get(k) == v for k, v in (selector.get("matchLabels") or {}).items()
    )


def _peer_matches(peer: JSON, ns: str, pod_labels: dict[str, str], policy_ns: str) -> bool:
    if "ipBlock" in peer:
        return False
    ns_ok = (
        _matches(peer["namespaceSelector"], {"kubernetes.io/metadata.name": ns})
        if "namespaceSelector" in peer
        else ns == policy_ns
    )
    pod_ok = _matches(peer.get("podSelector", {}), pod_labels)
    return ns_ok and pod_ok


def _allowed(
    policies: list[JSON],
    direction: str,
    ns: str,
    labels: dict[str, str],
    peer_ns: str,
    peer_labels: dict[str, str],
    port: int,
) -> bool:
    """Whether the policies of namespace `ns` let its pod (labels) talk to the peer."""
    key, peers_key = ("egress", "to") if direction == "Egress" else ("ingress", "from")
    selecting = [
        p
        for p in policies
        if p["metadata"]["namespace"] == ns
        and direction in p["spec"]["policyTypes"]
        and _matches(p["spec"]["podSelector"], labels)
    ]
    for policy in selecting:
        for rule in policy["spec"].get(key, []):
            ports_ok = not rule.get("ports") or any(p.get("port") == port for p in rule["ports"])
            peers = rule.get(peers_key)
            peers_ok = peers is None or any(
                _peer_matches(pr, peer_ns, peer_labels, ns) for pr in peers
            )
            if ports_ok and peers_ok:
                return True
    return False


def test_network_policies_allow_exactly_the_system_flows(renders: Renders) -> None:
    """On the kind inventory (which owns Redis and Kafka): evaluate every NetworkPolicy for
    every pair of workloads and port; only the flows of docs/security.md get through."""
    docs = [d for _, d in documents(rendered(renders, "kind").manifests)]
    policies = by_kind(docs, "NetworkPolicy")
    pods = {
        d["metadata"]["name"]: (
            d["metadata"]["namespace"],
            d["spec"]["template"]["metadata"]["labels"],
            [p["containerPort"] for p in d["spec"]["template"]["spec"]["containers"][0]["ports"]],
        )
        for d in by_kind(docs, "Deployment")
    }
    for ns, *_ in pods.values():  # every namespace denies everything first
        deny = [
            p
            for p in policies
            if p["metadata"]["namespace"] == ns and p["metadata"]["name"] == "default-deny-all"
        ]
        assert deny
        assert deny[0]["spec"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    flows = set()
    for client, (cns, clabels, _) in pods.items():
        for server, (sns, slabels, ports) in pods.items():
            for port in ports:
                if (
                    client != server
                    and _allowed(policies, "Egress", cns, clabels, sns, slabels, port)
                    and _allowed(policies, "Ingress", sns, slabels, cns, clabels, port)
                ):
                    flows.add((client, server, port))
    specialists = {n for n in pods if n.startswith("specialist-")}
    assert len(specialists) == 5
    expected = {
        ("gateway-intencoes", "kafka", 9092),
        ("gateway-intencoes", "redis", 6379),
        ("consensus-engine", "kafka", 9092),
        ("consensus-engine", "redis", 6379),
    }
    expected |= {("consensus-engine", s, 50051) for s in specialists}
    assert flows == expected
    # DNS for every workload, to kube-dns only
    for name, (ns, labels, _) in pods.items():
        dns = {"k8s-app": "kube-dns"}
        assert _allowed(policies, "Egress", ns, labels, "kube-system", dns, 53), name
        assert not _allowed(
            policies, "Egress", ns, labels, "kube-system", {"k8s-app": "other"}, 53
        ), name
    # the gateway from the ingress controller only, on its HTTP port
    gw_ns, gw_labels, _ = pods["gateway-intencoes"]
    assert _allowed(policies, "Ingress", gw_ns, gw_labels, "ingress-nginx", {"app": "x"}, 8000)
    assert not _allowed(policies, "Ingress", gw_ns, gw_labels, "default", {"app": "x"}, 8000)


def test_production_reaches_the_platforms_kafka_and_redis_only(renders: Renders) -> None:
    docs = [d for _, d in documents(rendered(renders, "production").manifests)]
    egress = {
        p["metadata"]["namespace"]: p
        for p in by_kind(docs, "NetworkPolicy")
        if p["metadata"]["name"] == p["metadata"]["namespace"] + "-egress"
    }
    assert set(egress) == {"gateway-intencoes", "consensus-engine"}
    for policy in egress.values():
        rules = copy.deepcopy(policy["spec"]["egress"])
        kafka = next(r for r in rules if r["ports"] == [{"port": 9092, "protocol": "TCP"}])
        redis = next(r for r in rules if r["ports"] == [{"port": 6380, "protocol": "TCP"}])
        assert kafka["to"][0]["namespaceSelector"] == {
            "matchLabels": {"kubernetes.io/metadata.name": "kafka"}
        }
        assert redis["to"] == [{"ipBlock": {"cidr": "10.40.0.0/24"}}]
