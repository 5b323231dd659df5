"""Adapting the rendered Kubernetes manifests to what `podman kube play` (4.3) does."""

from __future__ import annotations

import copy
from typing import Any

import yaml

#: The kinds podman kube play acts on; it ignores the others (Service, NetworkPolicy...).
PLAYED_KINDS = ("ConfigMap", "Deployment", "Pod", "PersistentVolumeClaim")


def podman_kube(text: str) -> str:
    """The multi-document manifest podman should play, as YAML text.

    Podman 4.3 publishes every ``containerPort`` without a ``hostPort`` on the host at the
    same number, so two workloads on port 8000 collide. On its network every pod is
    reached at its own address anyway: keep only the ports that name a ``hostPort``.
    Only the kinds podman plays are kept; the rest of each document is unchanged.
    """
    out = []
    for doc in yaml.safe_load_all(text):
        if not doc or doc.get("kind") not in PLAYED_KINDS:
            continue
        doc = copy.deepcopy(doc)
        spec = doc.get("spec", {})
        pod = spec.get("template", {}).get("spec", spec) if doc["kind"] == "Deployment" else spec
        for container in pod.get("containers", []) or []:
            ports = [p for p in container.get("ports", []) if p.get("hostPort")]
            if ports:
                container["ports"] = ports
            else:
                container.pop("ports", None)
        out.append(yaml.safe_dump(doc, sort_keys=False, default_flow_style=False))
    return "---\n" + "---\n".join(out)


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"podman_kube": podman_kube}
