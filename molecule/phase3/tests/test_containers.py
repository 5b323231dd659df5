"""Testinfra checks inside the running containers of the phase-3 rollout.

Run by the phase3 scenario's verify step (molecule/phase3/verify.yml), which passes the
container names in NEURAL_HIVE_MOLECULE_CONTAINERS. Images without a shell (the broker,
FROM scratch) are checked from the host with `podman inspect` instead.
"""

from __future__ import annotations

import json
import os
import subprocess

import pytest
import testinfra

CONTAINERS = [c for c in os.environ.get("NEURAL_HIVE_MOLECULE_CONTAINERS", "").split(",") if c]
if not CONTAINERS:
    pytest.skip(
        "NEURAL_HIVE_MOLECULE_CONTAINERS is not set: run through `molecule verify -s phase3`",
        allow_module_level=True,
    )
PYTHON_SERVICES = [
    c for c in CONTAINERS if c.rsplit("-", 1)[-1] in {"gateway", "specialist", "consensus"}
]


def inspect(name: str) -> dict:
    out = subprocess.run(
        ["podman", "inspect", "--type", "container", name],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout)[0]


@pytest.mark.parametrize("name", CONTAINERS)
def test_container_runs_non_root_on_a_read_only_root(name: str) -> None:
    info = inspect(name)
    assert info["State"]["Status"] == "running"
    user = info["Config"]["User"].split(":")[0]
    assert user not in ("", "0", "root"), f"{name} runs as {info['Config']['User']!r}"
    assert info["HostConfig"]["ReadonlyRootfs"] is True
    assert info["HostConfig"]["Privileged"] is False


@pytest.mark.parametrize("name", PYTHON_SERVICES)
def test_service_process_is_not_root_and_cannot_write_its_image(name: str) -> None:
    host = testinfra.get_host(f"podman://{name}")
    assert host.check_output("id -u") != "0"
    assert host.run("touch /opt/neural-hive/probe").rc != 0, "the root filesystem is writable"
    cmdline = host.file("/proc/1/cmdline").content_string.replace("\0", " ")
    assert "neural-hive-" in cmdline


@pytest.mark.parametrize("name", PYTHON_SERVICES)
def test_image_holds_no_compiler_and_no_package_cache(name: str) -> None:
    host = testinfra.get_host(f"podman://{name}")
    for tool in ("gcc", "cc", "make"):
        assert not host.exists(tool), f"{tool} in {name}"
    assert not host.file("/root/.cache/pip").exists
    assert host.run("ls /var/lib/apt/lists/*_Packages*").rc != 0, "apt lists left in the image"


def test_gateway_has_its_models_and_a_writable_tmp() -> None:
    gateways = [c for c in PYTHON_SERVICES if c.endswith("-gateway")]
    assert gateways, "no gateway container"
    host = testinfra.get_host(f"podman://{gateways[0]}")
    meta = host.file("/opt/neural-hive/models/nlu/neural_hive_nlu.json")
    assert sorted(json.loads(meta.content_string)["languages"]) == ["en", "es", "pt"]
    assert host.exists("ffmpeg")
    assert host.run("touch /tmp/probe && rm /tmp/probe").rc == 0


def test_redis_evicts_expiring_keys_before_its_memory_limit_kills_it() -> None:
    caches = [c for c in CONTAINERS if c.endswith("-cache")]
    assert caches, "no redis container"
    host = testinfra.get_host(f"podman://{caches[0]}")
    assert host.check_output("redis-cli config get maxmemory-policy").split() == [
        "maxmemory-policy",
        "volatile-lru",
    ]
    limit = inspect(caches[0])["HostConfig"]["Memory"]
    maxmemory = int(host.check_output("redis-cli config get maxmemory").split()[1])
    assert 0 < maxmemory < limit, f"maxmemory {maxmemory} not under the container's {limit}"
