"""A MOCK Kubernetes API server for the deploy role's contract tests.

No real API server can run on these machines (DESIGN section 7), so the contract tests point
kubernetes.core at this one: an in-memory HTTP server that speaks enough of the API for the
roles' task flow, and records every request so that a test can check what was sent.

What it implements:
- discovery: /version, /api, /apis, /api/v1, /apis/<group>/<version> (APIResourceList with
  the pods/log subresource), optional groups for the Prometheus Operator CRDs and OpenShift
  Routes;
- objects: GET (one, a namespace's list, every namespace's list) with label selectors
  (=, ==, !=, existence) and field selectors (=), POST, DELETE (a Namespace takes everything
  in it along), PATCH as server-side apply (application/apply-patch+yaml, fieldManager,
  force, dryRun=All), JSON patch (add/replace/remove), merge patch;
- pod logs (text), and a tiny "controller": a Deployment whose pod template changes gets a
  ReplicaSet with the next revision (an earlier template reuses its ReplicaSet and takes the
  next revision, as in Kubernetes), pods (Running and Ready, or CrashLoopBackOff with events
  and logs for the workloads named in `crashloop`), a status, and its namespace's Services get
  EndpointSlices.

What it does not model: real field ownership (an apply replaces what the manager applied
before), admission, validation, watches, finalizers, authentication.
"""

from __future__ import annotations

import copy
import hashlib
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import yaml

JSON = dict[str, Any]


@dataclass(frozen=True)
class Kind:
    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool = True
    subresources: tuple[str, ...] = ()

    @property
    def group_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version


CORE = [
    Kind("", "v1", "Namespace", "namespaces", namespaced=False),
    Kind("", "v1", "Node", "nodes", namespaced=False),
    Kind("", "v1", "ServiceAccount", "serviceaccounts"),
    Kind("", "v1", "ConfigMap", "configmaps"),
    Kind("", "v1", "Secret", "secrets"),
    Kind("", "v1", "Service", "services"),
    Kind("", "v1", "Pod", "pods", subresources=("log", "status")),
    Kind("", "v1", "Event", "events"),
    Kind("apps", "v1", "Deployment", "deployments", subresources=("scale", "status")),
    Kind("apps", "v1", "ReplicaSet", "replicasets"),
    Kind("networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies"),
    Kind("networking.k8s.io", "v1", "Ingress", "ingresses"),
    Kind("policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets"),
    Kind("autoscaling", "v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers"),
    Kind("discovery.k8s.io", "v1", "EndpointSlice", "endpointslices"),
]
MONITORING = [
    Kind("monitoring.coreos.com", "v1", "ServiceMonitor", "servicemonitors"),
    Kind("monitoring.coreos.com", "v1", "PrometheusRule", "prometheusrules"),
]
OPENSHIFT = [Kind("route.openshift.io", "v1", "Route", "routes")]

#: metadata the server owns: an apply never sets or removes it
SERVER_METADATA = ("uid", "resourceVersion", "generation", "creationTimestamp", "managedFields")
REVISION = "deployment.kubernetes.io/revision"


class ApiError(Exception):
    def __init__(self, code: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.code, self.reason, self.message = code, reason, message

    def status(self) -> JSON:
        return {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    content_type: str
    body: Any


def _selector_matches(selector: str, labels: dict[str, str]) -> bool:
    for term in filter(None, (t.strip() for t in selector.split(","))):
        if "!=" in term:
            key, value = term.split("!=", 1)
            if labels.get(key) == value:
                return False
        elif "=" in term:
            key, value = term.replace("==", "=").split("=", 1)
            if labels.get(key) != value:
                return False
        elif term.startswith("!"):
            if term[1:] in labels:
                return False
        elif term not in labels:
            return False
    return True


def _field(obj: JSON, path: str) -> str:
    value: Any = obj
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return "" if value is None else str(value)


def _json_pointer(doc: Any, pointer: str) -> tuple[Any, str]:
    parts = [p.replace("~1", "/").replace("~0", "~") for p in pointer.lstrip("/").split("/")]
    for part in parts[:-1]:
        doc = doc[int(part)] if isinstance(doc, list) else doc.setdefault(part, {})
    return doc, parts[-1]


def _merge(base: Any, patch: Any) -> Any:
    if not isinstance(base, dict) or not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = dict(base)
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = _merge(base.get(key), value)
    return out


def _template_hash(template: JSON) -> str:
    return hashlib.sha256(json.dumps(template, sort_keys=True).encode()).hexdigest()[:10]


@dataclass
class MockKube:
    monitoring: bool = True
    openshift: bool = False
    server_version: str = "v1.33.1"
    #: workloads (Deployment names) whose pods crash-loop instead of becoming ready
    crashloop: set[str] = field(default_factory=set)
    #: first three octets of the pods' IPs (127.x: nothing answers, fast)
    pod_net: str = "127.77.0"
    objects: dict[tuple[str, str, str, str], JSON] = field(default_factory=dict)
    requests: list[Request] = field(default_factory=list)
    _counter: int = 0
    _lock: threading.RLock = field(default_factory=threading.RLock)
    _server: ThreadingHTTPServer | None = None

    # ---- the kinds this server serves -------------------------------------------------
    @property
    def kinds(self) -> list[Kind]:
        return (
            CORE + (MONITORING if self.monitoring else []) + (OPENSHIFT if self.openshift else [])
        )

    def kind_of(self, api_version: str, kind: str) -> Kind:
        for k in self.kinds:
            if k.group_version == api_version and k.kind == kind:
                return k
        raise ApiError(404, "NotFound", f"the server could not find the kind {api_version} {kind}")

    # ---- lifecycle ----------------------------------------------------------------------
    def start(self) -> str:
        mock = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                code, payload, ctype = mock.handle(
                    self.command, self.path, self.headers.get("Content-Type", ""), raw
                )
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = _handle

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()

    def write_kubeconfig(self, path: Path, server: str) -> Path:
        path.write_text(
            yaml.safe_dump(
                {
                    "apiVersion": "v1",
                    "kind": "Config",
                    "clusters": [{"name": "mock", "cluster": {"server": server}}],
                    "users": [{"name": "mock", "user": {"token": "contract-test"}}],
                    "contexts": [{"name": "mock", "context": {"cluster": "mock", "user": "mock"}}],
                    "current-context": "mock",
                }
            )
        )
        return path

    # ---- what the tests read ------------------------------------------------------------
    def get(self, kind: str, name: str, namespace: str = "") -> JSON | None:
        with self._lock:
            for (_, k, ns, n), obj in self.objects.items():
                if (k, ns, n) == (kind, namespace, name):
                    return copy.deepcopy(obj)
        return None

    def find(self, kind: str, namespace: str | None = None) -> list[JSON]:
        with self._lock:
            return [
                copy.deepcopy(o)
                for (_, k, ns, _), o in sorted(self.objects.items())
                if k == kind and (namespace is None or ns == namespace)
            ]

    def writes(self) -> list[Request]:
        return [r for r in self.requests if r.method in ("POST", "PATCH", "PUT", "DELETE")]

    def apply(self, obj: JSON, manager: str) -> JSON:
        """Server-side apply from the test itself, as an HTTP PATCH would."""
        with self._lock:
            kind = self.kind_of(obj["apiVersion"], obj["kind"])
            meta = obj["metadata"]
            query = {"fieldManager": manager, "force": "true"}
            return self._patch(
                kind,
                meta.get("namespace", ""),
                meta["name"],
                "application/apply-patch+yaml",
                obj,
                query,
            )

    def add(self, obj: JSON) -> None:
        """Store an object as if something else had created it."""
        with self._lock:
            kind = self.kind_of(obj["apiVersion"], obj["kind"])
            self._store(kind, self._stamp(copy.deepcopy(obj), None))

    # ---- HTTP ---------------------------------------------------------------------------
    def handle(
        self, method: str, raw_path: str, content_type: str, raw: bytes
    ) -> tuple[int, Any, str]:
        url = urlsplit(raw_path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        body: Any = None
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                body = yaml.safe_load(raw)
        with self._lock:
            self.requests.append(Request(method, url.path, query, content_type.split(";")[0], body))
            try:
                result = self._route(method, url.path, query, content_type.split(";")[0], body)
            except ApiError as e:
                return e.code, e.status(), "application/json"
        if isinstance(result, tuple):
            return result
        return 200, result, "application/json"

    def _route(self, method: str, path: str, query: dict[str, str], ctype: str, body: Any) -> Any:
        parts = [p for p in path.split("/") if p]
        if parts == ["version"]:
            major, minor = self.server_version.lstrip("v").split(".")[:2]
            return {
                "major": major,
                "minor": minor,
                "gitVersion": self.server_version,
                "platform": "linux/amd64",
            }
        if parts == ["api"]:
            return {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []}
        if parts == ["apis"]:
            return self._group_list()
        if parts[:1] == ["api"] and len(parts) == 2:
            return self._resource_list("", parts[1])
        if parts[:1] == ["apis"] and len(parts) == 3:
            return self._resource_list(parts[1], parts[2])
        if parts[:1] == ["api"]:
            group, version, rest = "", parts[1], parts[2:]
        elif parts[:1] == ["apis"] and len(parts) > 3:
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            raise ApiError(404, "NotFound", f"no route for {path}")
        namespace = ""
        if rest[0] == "namespaces" and len(rest) >= 3:
            namespace, rest = rest[1], rest[2:]
        plural, name, sub = (
            rest[0],
            (rest[1] if len(rest) > 1 else ""),
            (rest[2] if len(rest) > 2 else ""),
        )
        kind = next(
            (k for k in self.kinds if (k.group, k.version, k.plural) == (group, version, plural)),
            None,
        )
        if kind is None:
            raise ApiError(
                404, "NotFound", f"the server could not find the requested resource ({path})"
            )
        if sub == "log":
            return 200, self._log(namespace, name, query).encode(), "text/plain"
        if not name:
            if method == "GET":
                return self._list(kind, namespace, query)
            if method == "POST":
                return 201, self._create(kind, namespace, body, query), "application/json"
            raise ApiError(405, "MethodNotAllowed", f"{method} on a collection")
        if method == "GET":
            return self._read(kind, namespace, name)
        if method == "DELETE":
            return self._delete(kind, namespace, name)
        if method == "PATCH":
            return self._patch(kind, namespace, name, ctype, body, query)
        if method == "PUT":
            return self._put(kind, namespace, name, body, query)
        raise ApiError(405, "MethodNotAllowed", method)

    # ---- discovery ----------------------------------------------------------------------
    def _group_list(self) -> JSON:
        groups: dict[str, list[str]] = {}
        for k in self.kinds:
            if k.group and k.version not in groups.setdefault(k.group, []):
                groups[k.group].append(k.version)
        return {
            "kind": "APIGroupList",
            "apiVersion": "v1",
            "groups": [
                {
                    "name": g,
                    "versions": [{"groupVersion": f"{g}/{v}", "version": v} for v in vs],
                    "preferredVersion": {"groupVersion": f"{g}/{vs[0]}", "version": vs[0]},
                }
                for g, vs in groups.items()
            ],
        }

    def _resource_list(self, group: str, version: str) -> JSON:
        kinds = [k for k in self.kinds if (k.group, k.version) == (group, version)]
        if not kinds:
            raise ApiError(404, "NotFound", f"no API {group}/{version}")
        verbs = ["create", "delete", "get", "list", "patch", "update", "watch"]
        resources: list[JSON] = []
        for k in kinds:
            resources.append(
                {
                    "name": k.plural,
                    "singularName": k.kind.lower(),
                    "namespaced": k.namespaced,
                    "kind": k.kind,
                    "verbs": verbs,
                    "shortNames": [],
                }
            )
            for sub in k.subresources:
                resources.append(
                    {
                        "name": f"{k.plural}/{sub}",
                        "singularName": "",
                        "namespaced": k.namespaced,
                        "kind": k.kind if sub != "scale" else "Scale",
                        "verbs": ["get", "patch"],
                    }
                )
        gv = f"{group}/{version}" if group else version
        return {
            "kind": "APIResourceList",
            "apiVersion": "v1",
            "groupVersion": gv,
            "resources": resources,
        }

    # ---- objects ------------------------------------------------------------------------
    def _key(self, kind: Kind, namespace: str, name: str) -> tuple[str, str, str, str]:
        return (kind.group_version, kind.kind, namespace if kind.namespaced else "", name)

    def _read(self, kind: Kind, namespace: str, name: str) -> JSON:
        obj = self.objects.get(self._key(kind, namespace, name))
        if obj is None:
            raise ApiError(404, "NotFound", f'{kind.plural} "{name}" not found')
        return copy.deepcopy(obj)

    def _list(self, kind: Kind, namespace: str, query: dict[str, str]) -> JSON:
        items = [
            copy.deepcopy(o)
            for (gv, k, ns, _), o in sorted(self.objects.items())
            if (gv, k) == (kind.group_version, kind.kind)
            and (not namespace or ns == namespace)
            and _selector_matches(query.get("labelSelector", ""), o["metadata"].get("labels") or {})
            and all(
                _field(o, f.split("=", 1)[0]) == f.split("=", 1)[1]
                for f in filter(None, query.get("fieldSelector", "").split(","))
            )
        ]
        return {
            "kind": f"{kind.kind}List",
            "apiVersion": kind.group_version,
            "metadata": {"resourceVersion": str(self._counter)},
            "items": items,
        }

    def _check_namespace(self, kind: Kind, namespace: str) -> None:
        if kind.namespaced and (self._key(CORE[0], "", namespace) not in self.objects):
            raise ApiError(404, "NotFound", f'namespaces "{namespace}" not found')

    def _stamp(self, obj: JSON, old: JSON | None) -> JSON:
        """Server-side metadata: kept from the stored object, new resourceVersion."""
        meta = obj.setdefault("metadata", {})
        self._counter += 1
        if old is None:
            meta["uid"] = hashlib.sha1(
                f"{obj['kind']}/{meta.get('namespace', '')}/{meta['name']}".encode()
            ).hexdigest()
            meta["creationTimestamp"] = "2026-01-01T00:00:00Z"
            meta["generation"] = 1
        else:
            for key in SERVER_METADATA:
                if key in old["metadata"]:
                    meta.setdefault(key, copy.deepcopy(old["metadata"][key]))
            if obj.get("spec") != old.get("spec"):
                meta["generation"] = old["metadata"].get("generation", 1) + 1
        meta["resourceVersion"] = str(self._counter)
        return obj

    def _store(self, kind: Kind, obj: JSON) -> None:
        meta = obj["metadata"]
        self.objects[self._key(kind, meta.get("namespace", ""), meta["name"])] = obj
        if kind.kind == "Deployment":
            self._reconcile_deployment(obj)
        if kind.kind in ("Deployment", "Service"):
            self._reconcile_endpoints(meta["namespace"])

    def _create(self, kind: Kind, namespace: str, body: JSON, query: dict[str, str]) -> JSON:
        body = copy.deepcopy(body)
        if kind.namespaced:
            body["metadata"]["namespace"] = namespace
        self._check_namespace(kind, namespace)
        if self._key(kind, namespace, body["metadata"]["name"]) in self.objects:
            raise ApiError(
                409, "AlreadyExists", f'{kind.plural} "{body["metadata"]["name"]}" already exists'
            )
        obj = self._stamp(body, None)
        if query.get("dryRun") != "All":
            self._store(kind, obj)
        return obj

    def _put(
        self, kind: Kind, namespace: str, name: str, body: JSON, query: dict[str, str]
    ) -> JSON:
        old = self._read(kind, namespace, name)
        obj = self._stamp(copy.deepcopy(body), old)
        if query.get("dryRun") != "All":
            self._store(kind, obj)
        return obj

    def _delete(self, kind: Kind, namespace: str, name: str) -> JSON:
        obj = self._read(kind, namespace, name)
        del self.objects[self._key(kind, namespace, name)]
        if kind.kind == "Namespace":
            for key in [k for k in self.objects if k[2] == name]:
                del self.objects[key]
        return obj

    def _patch(
        self, kind: Kind, namespace: str, name: str, ctype: str, body: Any, query: dict[str, str]
    ) -> JSON:
        key = self._key(kind, namespace, name)
        old = self.objects.get(key)
        if ctype == "application/apply-patch+yaml":
            if not query.get("fieldManager"):
                raise ApiError(422, "Invalid", "PATCH with apply-patch+yaml needs a fieldManager")
            self._check_namespace(kind, namespace)
            obj = self._apply(kind, old, copy.deepcopy(body), query)
        elif old is None:
            raise ApiError(404, "NotFound", f'{kind.plural} "{name}" not found')
        elif ctype == "application/json-patch+json":
            obj = copy.deepcopy(old)
            for op in body:
                parent, last = _json_pointer(obj, op["path"])
                if op["op"] in ("add", "replace"):
                    parent[last] = copy.deepcopy(op["value"])
                elif op["op"] == "remove":
                    parent.pop(last, None)
                else:
                    raise ApiError(422, "Invalid", f"unsupported JSON patch op {op['op']}")
        else:  # merge and strategic merge: a deep merge is enough here
            obj = _merge(old, body)
        if old is not None and _comparable(obj) == _comparable(old):
            return copy.deepcopy(old)
        obj = self._stamp(obj, old)
        if query.get("dryRun") != "All":
            self._store(kind, obj)
        return copy.deepcopy(obj)

    def _apply(self, kind: Kind, old: JSON | None, applied: JSON, query: dict[str, str]) -> JSON:
        """Server-side apply, single-manager: what the manager applies replaces what it
        applied before; the server's own metadata, annotations and status stay."""
        manager = query["fieldManager"]
        if old is not None:
            owners = {m["manager"] for m in old["metadata"].get("managedFields", [])}
            if owners - {manager} and query.get("force", "").lower() != "true":
                raise ApiError(
                    409, "Conflict", f"Apply failed with conflicts: managers {sorted(owners)}"
                )
        obj = copy.deepcopy(applied)
        meta = obj.setdefault("metadata", {})
        if old is not None:
            server_annotations = {
                k: v for k, v in (old["metadata"].get("annotations") or {}).items() if k == REVISION
            }
            if server_annotations:
                meta["annotations"] = {**(meta.get("annotations") or {}), **server_annotations}
            if "status" in old:
                obj["status"] = copy.deepcopy(old["status"])
            if kind.kind == "Service" and "clusterIP" in old.get("spec", {}):
                obj.setdefault("spec", {})["clusterIP"] = old["spec"]["clusterIP"]
            if kind.kind == "Deployment" and "replicas" not in applied.get("spec", {}):
                obj["spec"]["replicas"] = old["spec"].get("replicas", 1)
        else:
            if kind.kind == "Deployment":
                obj["spec"].setdefault("replicas", 1)
            if kind.kind == "Service":
                obj["spec"]["clusterIP"] = f"10.96.0.{len(self.find('Service')) + 10}"
        meta["managedFields"] = [
            {
                "manager": manager,
                "operation": "Apply",
                "apiVersion": kind.group_version,
                "fieldsType": "FieldsV1",
            }
        ]
        return obj

    # ---- the "controller" ---------------------------------------------------------------
    def _reconcile_deployment(self, dep: JSON) -> None:
        ns, name = dep["metadata"]["namespace"], dep["metadata"]["name"]
        template = dep["spec"]["template"]
        pod_hash = _template_hash(template)
        rs_kind, pod_kind = self.kind_of("apps/v1", "ReplicaSet"), self.kind_of("v1", "Pod")
        sets = [
            o
            for o in self.find("ReplicaSet", ns)
            if o["metadata"]["labels"].get("app.kubernetes.io/instance") == name
        ]
        revisions = [int(o["metadata"]["annotations"][REVISION]) for o in sets]
        current = next(
            (o for o in sets if o["metadata"]["labels"]["pod-template-hash"] == pod_hash), None
        )
        revision = max(revisions, default=0) + (
            0
            if current and int(current["metadata"]["annotations"][REVISION]) == max(revisions)
            else 1
        )
        labels = {**template["metadata"]["labels"], "pod-template-hash": pod_hash}
        rs = {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {
                "name": f"{name}-{pod_hash}",
                "namespace": ns,
                "labels": labels,
                "annotations": {REVISION: str(revision)},
            },
            "spec": {
                "replicas": dep["spec"]["replicas"],
                "selector": {"matchLabels": labels},
                "template": {
                    **copy.deepcopy(template),
                    "metadata": {**copy.deepcopy(template["metadata"]), "labels": labels},
                },
            },
        }
        self.objects[self._key(rs_kind, ns, rs["metadata"]["name"])] = self._stamp(rs, current)
        for pod in self.find("Pod", ns):
            if pod["metadata"]["labels"].get("app.kubernetes.io/instance") == name:
                del self.objects[self._key(pod_kind, ns, pod["metadata"]["name"])]
        crash = name in self.crashloop
        replicas = dep["spec"]["replicas"]
        container = template["spec"]["containers"][0]["name"]
        for i in range(replicas):
            pod_name = f"{name}-{pod_hash}-{i:05d}"
            ip = f"{self.pod_net}.{len(self.find('Pod')) + 2}"
            ready = "False" if crash else "True"
            state = (
                {
                    "waiting": {
                        "reason": "CrashLoopBackOff",
                        "message": f"back-off 40s restarting failed container={container}",
                    }
                }
                if crash
                else {"running": {"startedAt": "2026-01-01T00:00:01Z"}}
            )
            status = {
                "phase": "Running",
                "podIP": ip,
                "conditions": [
                    {"type": "Ready", "status": ready},
                    {"type": "ContainersReady", "status": ready},
                ],
                "containerStatuses": [
                    {
                        "name": container,
                        "ready": not crash,
                        "restartCount": 3 if crash else 0,
                        "state": state,
                        "lastState": {"terminated": {"exitCode": 1, "reason": "Error"}}
                        if crash
                        else {},
                        "image": template["spec"]["containers"][0]["image"],
                    }
                ],
            }
            pod = {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": pod_name, "namespace": ns, "labels": labels},
                "spec": copy.deepcopy(template["spec"]) | {"nodeName": "mock-node"},
                "status": status,
            }
            self.objects[self._key(pod_kind, ns, pod_name)] = self._stamp(pod, None)
            if crash:
                event = {
                    "apiVersion": "v1",
                    "kind": "Event",
                    "metadata": {"name": f"{pod_name}.backoff", "namespace": ns},
                    "involvedObject": {"kind": "Pod", "name": pod_name, "namespace": ns},
                    "reason": "BackOff",
                    "type": "Warning",
                    "count": 7,
                    "message": "Back-off restarting failed container " + container,
                    "lastTimestamp": "2026-01-01T00:01:00Z",
                }
                self.objects[
                    self._key(self.kind_of("v1", "Event"), ns, event["metadata"]["name"])
                ] = self._stamp(event, None)
        dep["metadata"].setdefault("annotations", {})[REVISION] = str(revision)
        available = 0 if crash else replicas
        dep["status"] = {
            "observedGeneration": dep["metadata"]["generation"],
            "replicas": replicas,
            "updatedReplicas": replicas,
            "readyReplicas": available,
            "availableReplicas": available,
            "conditions": [
                {
                    "type": "Available",
                    "status": "False" if crash else "True",
                    "reason": "MinimumReplicasUnavailable" if crash else "MinimumReplicasAvailable",
                    "message": "Deployment does not have minimum availability."
                    if crash
                    else "Deployment has minimum availability.",
                },
                {
                    "type": "Progressing",
                    "status": "True",
                    "reason": "ReplicaSetUpdated" if crash else "NewReplicaSetAvailable",
                    "message": f'ReplicaSet "{rs["metadata"]["name"]}" is progressing.',
                },
            ],
        }
        if crash:
            dep["status"]["unavailableReplicas"] = replicas
            del dep["status"]["readyReplicas"], dep["status"]["availableReplicas"]

    def _reconcile_endpoints(self, ns: str) -> None:
        slice_kind = self.kind_of("discovery.k8s.io/v1", "EndpointSlice")
        for svc in self.find("Service", ns):
            selector = svc["spec"].get("selector") or {}
            pods = [
                p
                for p in self.find("Pod", ns)
                if all(p["metadata"]["labels"].get(k) == v for k, v in selector.items())
            ]
            name = svc["metadata"]["name"]
            eps = {
                "apiVersion": "discovery.k8s.io/v1",
                "kind": "EndpointSlice",
                "metadata": {
                    "name": f"{name}-mock1",
                    "namespace": ns,
                    "labels": {
                        **(svc["metadata"].get("labels") or {}),
                        "kubernetes.io/service-name": name,
                        "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io",
                    },
                },
                "addressType": "IPv4",
                "endpoints": [
                    {
                        "addresses": [p["status"]["podIP"]],
                        "conditions": {"ready": p["status"]["conditions"][0]["status"] == "True"},
                        "targetRef": {
                            "kind": "Pod",
                            "name": p["metadata"]["name"],
                            "namespace": ns,
                        },
                    }
                    for p in pods
                ],
                "ports": [
                    {"name": port["name"], "port": port["port"], "protocol": "TCP"}
                    for port in svc["spec"]["ports"]
                ],
            }
            key = self._key(slice_kind, ns, eps["metadata"]["name"])
            self.objects[key] = self._stamp(eps, self.objects.get(key))

    def _log(self, ns: str, name: str, query: dict[str, str]) -> str:
        pod = self.objects.get(self._key(self.kind_of("v1", "Pod"), ns, name))
        if pod is None:
            raise ApiError(404, "NotFound", f'pods "{name}" not found')
        deployment = pod["metadata"]["labels"].get("app.kubernetes.io/instance", "")
        if deployment not in self.crashloop:
            return "INFO started\nINFO ready\n"
        if query.get("previous", "").lower() == "true":
            return "INFO starting\nERROR previous container: cannot reach kafka:9092 (mock)\n"
        return (
            "INFO starting\nTraceback (most recent call last):\nRuntimeError: mock crash on start\n"
        )


def _comparable(obj: JSON) -> JSON:
    out = copy.deepcopy(obj)
    for key in SERVER_METADATA:
        out.get("metadata", {}).pop(key, None)
    return out
