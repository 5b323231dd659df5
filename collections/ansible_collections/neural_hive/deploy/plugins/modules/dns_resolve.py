#!/usr/bin/python
"""Resolve a name to IPv4 addresses by asking one DNS server directly (standard library)."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: dns_resolve
short_description: Ask one DNS server for a name's IPv4 addresses
description:
  - Sends a DNS A query over UDP to the given server and returns the addresses it answers.
  - Used to prove that a Service name resolves where the workloads look it up, for example
    on a podman network whose DNS server is the network's gateway address.
  - Reads only; supports check mode.
options:
  name:
    description: The name to resolve.
    type: str
    required: true
  server:
    description: The DNS server's IPv4 address.
    type: str
    required: true
  port:
    description: The DNS server's port.
    type: int
    default: 53
  timeout_s:
    description: Seconds to wait for the answer.
    type: float
    default: 2.0
  expect:
    description: Fail unless this address is among the answers.
    type: str
author:
  - Neural Hive-Mind team
"""

EXAMPLES = r"""
- name: Check that the specialist's Service name resolves on the podman network
  neural_hive.deploy.dns_resolve:
    name: specialist-business.specialist-business.svc.cluster.local
    server: 10.89.42.1
    expect: 10.89.42.7
"""

RETURN = r"""
passed:
  description: Whether the check passed (also returned on failure).
  type: bool
  returned: always
addresses:
  description: The IPv4 addresses in the answer.
  type: list
  elements: str
  returned: always
elapsed_ms:
  description: Time the query took.
  type: float
  returned: always
"""

import secrets
import socket
import struct
import time

from ansible.module_utils.basic import AnsibleModule


def _query(name: str) -> tuple[int, bytes]:
    ident = secrets.randbelow(65536)
    header = struct.pack("!HHHHHH", ident, 0x0100, 1, 0, 0, 0)  # recursion desired
    qname = b"".join(bytes([len(p)]) + p.encode("idna") for p in name.rstrip(".").split("."))
    return ident, header + qname + b"\x00" + struct.pack("!HH", 1, 1)


def _skip_name(data: bytes, pos: int) -> int:
    while True:
        length = data[pos]
        if length & 0xC0 == 0xC0:  # compression pointer
            return pos + 2
        if length == 0:
            return pos + 1
        pos += 1 + length


def _answers(data: bytes, ident: int) -> tuple[int, list[str]]:
    rid, flags, qdcount, ancount, _, _ = struct.unpack("!HHHHHH", data[:12])
    if rid != ident:
        raise ValueError("answer id does not match the query")
    pos = 12
    for _ in range(qdcount):
        pos = _skip_name(data, pos) + 4
    out = []
    for _ in range(ancount):
        pos = _skip_name(data, pos)
        rtype, _, _, rdlen = struct.unpack("!HHIH", data[pos : pos + 10])
        pos += 10
        if rtype == 1 and rdlen == 4:
            out.append(socket.inet_ntoa(data[pos : pos + 4]))
        pos += rdlen
    return flags & 0x000F, out


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "name": {"type": "str", "required": True},
            "server": {"type": "str", "required": True},
            "port": {"type": "int", "default": 53},
            "timeout_s": {"type": "float", "default": 2.0},
            "expect": {"type": "str"},
        },
        supports_check_mode=True,
    )
    p = module.params
    start = time.monotonic()
    ident, packet = _query(p["name"])
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.settimeout(p["timeout_s"])
            sock.sendto(packet, (p["server"], p["port"]))
            data, _ = sock.recvfrom(4096)
        rcode, addresses = _answers(data, ident)
    except (OSError, ValueError, struct.error, IndexError) as exc:
        module.fail_json(
            passed=False,
            msg=f"DNS query for {p['name']} to {p['server']}:{p['port']} failed: {exc}",
            addresses=[],
            elapsed_ms=round((time.monotonic() - start) * 1000, 1),
        )
    elapsed = round((time.monotonic() - start) * 1000, 1)
    if not addresses:
        module.fail_json(
            passed=False,
            msg=f"{p['name']} does not resolve at {p['server']} (rcode {rcode})",
            addresses=[],
            elapsed_ms=elapsed,
        )
    if p["expect"] and p["expect"] not in addresses:
        module.fail_json(
            passed=False,
            msg=f"{p['name']} resolves to {', '.join(addresses)}, not {p['expect']}",
            addresses=addresses,
            elapsed_ms=elapsed,
        )
    module.exit_json(
        passed=True,
        changed=False,
        addresses=addresses,
        elapsed_ms=elapsed,
        msg=f"{p['name']} -> {', '.join(addresses)}",
    )


if __name__ == "__main__":
    main()
