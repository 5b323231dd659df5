# Copyright: Neural Hive-Mind contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""grpc.health.v1 Check over the network, with optional retries until SERVING."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: grpc_health
short_description: Call grpc.health.v1.Health/Check on a gRPC server over the network
version_added: 0.1.0
description:
  - Opens a gRPC channel to O(host):O(port) and calls C(grpc.health.v1.Health/Check) for
    O(service), the standard health protocol that grpcurl, grpc-health-probe and
    Kubernetes' native gRPC probes use. An open port is not enough, the server must answer
    the RPC with C(SERVING).
  - Fails unless the answer is C(SERVING). With O(retries), calls again after O(delay)
    seconds until it is C(SERVING) or the attempts run out; each attempt uses a new channel,
    so a server that was down is not hidden behind gRPC's reconnect back-off.
  - Runs where the module runs (normally the controller); only reads, never changes anything.
options:
  host:
    description: Host name or IP address of the gRPC server.
    type: str
    required: true
  port:
    description: Port of the gRPC server.
    type: int
    required: true
  service:
    description:
      - Service name to ask about. The empty string asks about the server as a whole.
      - The specialists register V(neural_hive.specialist.SpecialistService) and V("").
    type: str
    default: ""
  timeout_s:
    description: Deadline of each RPC in seconds (connection included).
    type: float
    default: 5
  retries:
    description: Further attempts after the first one fails or is not C(SERVING).
    type: int
    default: 0
  delay:
    description: Seconds to wait between attempts.
    type: float
    default: 1
  use_proxy:
    description:
      - Let gRPC use an HTTP CONNECT proxy from C(grpc_proxy), C(https_proxy) or
        C(http_proxy) in the environment. Off by default, as cluster-internal addresses are
        not reachable through an outbound proxy.
    type: bool
    default: false
attributes:
  check_mode:
    support: full
    description: The module only reads, so it runs the same in check mode.
  diff_mode:
    support: none
    description: Nothing changes, so there is no diff.
requirements:
  - grpcio
  - grpcio-health-checking
notes:
  - The result is never RV(ignore:changed).
seealso:
  - name: gRPC health checking protocol
    description: The protocol this module speaks.
    link: https://github.com/grpc/grpc/blob/master/doc/health-checking.md
author:
  - Neural Hive-Mind contributors
"""

EXAMPLES = r"""
- name: Specialist answers grpc.health.v1 Check SERVING
  neural_hive.deploy.grpc_health:
    host: specialist-business.specialist-business.svc.cluster.local
    port: 50051
    timeout_s: 2

- name: Wait up to about 30 s for the service to become SERVING
  neural_hive.deploy.grpc_health:
    host: 127.0.0.1
    port: 50051
    service: neural_hive.specialist.SpecialistService
    retries: 30
    delay: 1
  register: health

- name: Show it
  ansible.builtin.debug:
    msg: "{{ health.status }} after {{ health.attempts }} attempt(s), {{ health.elapsed_ms }} ms"
"""

RETURN = r"""
passed:
  description:
    - Whether the check passed. Also returned on failure (V(false)), so that a task with
      C(failed_when=false) can record the outcome and go on.
  returned: always
  type: bool
  sample: true
status:
  description:
    - The serving status of the last answer (C(SERVING), C(NOT_SERVING), C(UNKNOWN),
      C(SERVICE_UNKNOWN)), or V(null) when the last RPC failed (see RV(grpc_code)).
  returned: always
  type: str
  sample: SERVING
grpc_code:
  description: gRPC status code of the last RPC (C(OK) when the server answered).
  returned: always
  type: str
  sample: DEADLINE_EXCEEDED
target:
  description: The address that was called.
  returned: always
  type: str
  sample: 10.0.0.5:50051
service:
  description: The service name that was asked about.
  returned: always
  type: str
  sample: ""
attempts:
  description: How many RPCs were made.
  returned: always
  type: int
  sample: 1
elapsed_ms:
  description: Wall time of the whole module run, retries included, in milliseconds.
  returned: always
  type: float
  sample: 4.2
"""

import time
import traceback

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

GRPC_IMPORT_ERROR = None
try:
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc
except ImportError:
    GRPC_IMPORT_ERROR = traceback.format_exc()


def target_of(host: str, port: int) -> str:
    if ":" in host and not host.startswith("["):
        return f"[{host}]:{port}"  # IPv6 literal
    return f"{host}:{port}"


def check_once(target: str, service: str, timeout_s: float, use_proxy: bool) -> tuple:
    """One Check RPC on a fresh channel: (status name or None, grpc code name, detail)."""
    options = [("grpc.enable_http_proxy", 1 if use_proxy else 0)]
    channel = grpc.insecure_channel(target, options=options)
    try:
        stub = health_pb2_grpc.HealthStub(channel)
        reply = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=timeout_s)
    except grpc.RpcError as exc:
        code = exc.code()
        return None, code.name if code else "UNKNOWN", exc.details() or ""
    finally:
        channel.close()
    return health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status), "OK", ""


def failure_message(target: str, service: str, status, code: str, detail: str, timeout_s: float):
    what = f"grpc.health.v1.Health/Check at {target} (service {service!r})"
    if status is not None:
        return f"{what} answered {status}, not SERVING"
    if code == "DEADLINE_EXCEEDED":
        return (
            f"{what} got no answer within {timeout_s:g}s (DEADLINE_EXCEEDED): the server "
            "accepts connections but does not respond (stopped, overloaded or not gRPC?)"
        )
    if code == "UNAVAILABLE":
        return f"{what} failed: server unreachable (UNAVAILABLE: {detail})"
    if code == "NOT_FOUND":
        return f"{what} failed: the health server does not know service {service!r} (NOT_FOUND)"
    if code == "UNIMPLEMENTED":
        return f"{what} failed: the server does not implement grpc.health.v1 (UNIMPLEMENTED)"
    return f"{what} failed: {code}: {detail}"


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "host": {"type": "str", "required": True},
            "port": {"type": "int", "required": True},
            "service": {"type": "str", "default": ""},
            "timeout_s": {"type": "float", "default": 5.0},
            "retries": {"type": "int", "default": 0},
            "delay": {"type": "float", "default": 1.0},
            "use_proxy": {"type": "bool", "default": False},
        },
        supports_check_mode=True,
    )
    start = time.monotonic()
    p = module.params
    if GRPC_IMPORT_ERROR is not None:
        module.fail_json(
            msg=missing_required_lib("grpcio and grpcio-health-checking"),
            exception=GRPC_IMPORT_ERROR,
        )
    if not 0 < p["port"] < 65536:
        module.fail_json(msg=f"port must be between 1 and 65535, got {p['port']}")
    if p["timeout_s"] <= 0:
        module.fail_json(msg=f"timeout_s must be positive, got {p['timeout_s']:g}")
    if p["retries"] < 0 or p["delay"] < 0:
        module.fail_json(msg="retries and delay must not be negative")

    target = target_of(p["host"], p["port"])
    attempts = 0
    while True:
        attempts += 1
        status, code, detail = check_once(target, p["service"], p["timeout_s"], p["use_proxy"])
        if status == "SERVING" or attempts > p["retries"]:
            break
        time.sleep(p["delay"])

    result = {
        "changed": False,
        "passed": status == "SERVING",
        "status": status,
        "grpc_code": code,
        "target": target,
        "service": p["service"],
        "attempts": attempts,
        "elapsed_ms": round((time.monotonic() - start) * 1000, 1),
    }
    if status != "SERVING":
        msg = failure_message(target, p["service"], status, code, detail, p["timeout_s"])
        if attempts > 1:
            msg += f" (after {attempts} attempts)"
        module.fail_json(msg=msg, **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
