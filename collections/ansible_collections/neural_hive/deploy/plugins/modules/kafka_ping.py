# Copyright: Neural Hive-Mind contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""Kafka protocol ping (an ApiVersions request) with the standard library only."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: kafka_ping
short_description: Check that a Kafka broker answers an ApiVersions request
version_added: 0.1.0
description:
  - Connects to O(host):O(port) over TCP and sends a Kafka C(ApiVersions) request (API key
    18), the first request every Kafka client makes. Succeeds when the broker answers with
    error code 0 and a list of supported APIs; returns how many there are.
  - Works with Apache Kafka and Kafka-protocol brokers such as Tansu or Redpanda. An open
    port is not enough, the server must speak the Kafka protocol.
  - When the broker does not support the requested O(api_version) it answers
    C(UNSUPPORTED_VERSION) with its own range; the module then asks again with the highest
    version both sides know.
  - Uses only the Python standard library; only reads, never changes anything.
options:
  host:
    description: Host name or IP address of the broker (one bootstrap address).
    type: str
    required: true
  port:
    description: Port of the broker's plaintext listener.
    type: int
    default: 9092
  api_version:
    description:
      - Version of the ApiVersions request to send. Version 3 (the flexible encoding) is
        what current clients send; 0 is understood by every broker.
    type: int
    choices: [0, 1, 2, 3]
    default: 3
  client_id:
    description: Client id sent in the request header (shows in broker logs).
    type: str
    default: neural-hive-verify
  timeout_s:
    description: Timeout in seconds for the connection and for the reply.
    type: float
    default: 5
  retries:
    description: Further attempts after the first one fails.
    type: int
    default: 0
  delay:
    description: Seconds to wait between attempts.
    type: float
    default: 1
attributes:
  check_mode:
    support: full
    description: The module only reads, so it runs the same in check mode.
  diff_mode:
    support: none
    description: Nothing changes, so there is no diff.
notes:
  - Plaintext listeners only (no TLS, no SASL).
seealso:
  - name: Kafka protocol guide
    description: The ApiVersions request and its encodings.
    link: https://kafka.apache.org/protocol.html#The_Messages_ApiVersions
author:
  - Neural Hive-Mind contributors
"""

EXAMPLES = r"""
- name: The broker answers the Kafka protocol
  neural_hive.deploy.kafka_ping:
    host: kafka.neural-hive-kafka.svc.cluster.local
    port: 9092
    timeout_s: 2
  register: kafka

- name: It supports Produce, Fetch and Metadata
  ansible.builtin.assert:
    that: "['0', '1', '3'] is subset(kafka.api_keys.keys())"
"""

RETURN = r"""
passed:
  description:
    - Whether the check passed. Also returned on failure (V(false)), so that a task with
      C(failed_when=false) can record the outcome and go on.
  returned: always
  type: bool
  sample: true
api_versions_count:
  description: Number of APIs (request types) the broker supports.
  returned: success
  type: int
  sample: 62
api_keys:
  description: Supported versions, as C([min, max]), keyed by API key (as a string).
  returned: success
  type: dict
  sample: {"0": [0, 11], "1": [0, 16], "18": [0, 4]}
api_version:
  description: Version of the ApiVersions request that was answered.
  returned: success
  type: int
  sample: 3
throttle_time_ms:
  description: Throttle time the broker reported (versions 1 and later).
  returned: when the broker reports it
  type: int
  sample: 0
target:
  description: The address that was called.
  returned: always
  type: str
  sample: 10.0.0.8:9092
attempts:
  description: How many connections were made.
  returned: always
  type: int
  sample: 1
elapsed_ms:
  description: Wall time of the whole module run, retries included, in milliseconds.
  returned: always
  type: float
  sample: 2.1
"""

import socket
import struct
import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.neural_hive.deploy.plugins.module_utils.socket_ping import (
    PING_OPTIONS,
    PingError,
    check_params,
    ping_with_retries,
)

API_VERSIONS = 18
UNSUPPORTED_VERSION = 35
MAX_RESPONSE = 1024 * 1024
ERRORS = {
    35: "UNSUPPORTED_VERSION",
    33: "UNSUPPORTED_SASL_MECHANISM",
    34: "ILLEGAL_SASL_STATE",
    -1: "UNKNOWN_SERVER_ERROR",
}


def uvarint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def compact_string(s: str) -> bytes:
    raw = s.encode()
    return uvarint(len(raw) + 1) + raw


def encode_request(version: int, correlation_id: int, client_id: str) -> bytes:
    """Size-prefixed ApiVersions request: header v1 (v0-2) or v2 with tagged fields (v3)."""
    cid = client_id.encode()
    header = struct.pack(">hhih", API_VERSIONS, version, correlation_id, len(cid)) + cid
    body = b""
    if version >= 3:
        header += uvarint(0)  # no tagged fields
        body = compact_string("neural-hive-ansible") + compact_string("0.1.0") + uvarint(0)
    message = header + body
    return struct.pack(">i", len(message)) + message


class Reader:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def take(self, fmt: str):
        size = struct.calcsize(fmt)
        if self.pos + size > len(self.data):
            raise PingError("truncated ApiVersions response")
        values = struct.unpack_from(fmt, self.data, self.pos)
        self.pos += size
        return values[0] if len(values) == 1 else values

    def uvarint(self) -> int:
        shift = result = 0
        while True:
            byte = self.take(">B")
            result |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return result
            shift += 7
            if shift > 28:
                raise PingError("malformed varint in ApiVersions response")

    def skip_tagged_fields(self) -> None:
        for _field in range(self.uvarint()):
            self.uvarint()  # tag
            size = self.uvarint()
            if self.pos + size > len(self.data):
                raise PingError("truncated tagged field in ApiVersions response")
            self.pos += size


def decode_response(version: int, body: bytes) -> dict:
    """Body of an ApiVersions response (after the correlation id).

    A broker that refuses the version answers in the v0 layout (KIP-511), so an error
    other than 0 is decoded as v0 whatever was asked.
    """
    r = Reader(body)
    error = r.take(">h")
    flexible = version >= 3 and error == 0
    count = max(r.uvarint() - 1, 0) if flexible else r.take(">i")
    if count < 0 or count > 10_000:
        raise PingError(f"implausible number of APIs in ApiVersions response: {count}")
    keys = {}
    for _index in range(count):
        key, low, high = r.take(">hhh")
        keys[str(key)] = [low, high]
        if flexible:
            r.skip_tagged_fields()
    out = {"error_code": error, "api_keys": keys}
    if version >= 1 and error == 0:
        out["throttle_time_ms"] = r.take(">i")
    return out


def recv_exact(sock: socket.socket, size: int) -> bytes:
    buf = bytearray()
    while len(buf) < size:
        chunk = sock.recv(min(65536, size - len(buf)))
        if not chunk:
            raise PingError(
                "the broker closed the connection without a reply (not a Kafka listener, or "
                "it requires TLS/SASL?)"
            )
        buf.extend(chunk)
    return bytes(buf)


def api_versions(host: str, port: int, version: int, client_id: str, timeout_s: float) -> dict:
    correlation_id = int(time.time() * 1000) & 0x7FFFFFFF
    with socket.create_connection((host, port), timeout=timeout_s) as sock:
        sock.sendall(encode_request(version, correlation_id, client_id))
        size = struct.unpack(">i", recv_exact(sock, 4))[0]
        if not 4 <= size <= MAX_RESPONSE:
            raise PingError(f"the reply is not the Kafka protocol (frame size {size})")
        frame = recv_exact(sock, size)
    got = struct.unpack_from(">i", frame)[0]
    if got != correlation_id:
        raise PingError(f"correlation id mismatch in the reply ({got} != {correlation_id})")
    return decode_response(version, frame[4:])


def ping_once(host: str, port: int, version: int, client_id: str, timeout_s: float) -> dict:
    reply = api_versions(host, port, version, client_id, timeout_s)
    if reply["error_code"] == UNSUPPORTED_VERSION:
        supported = reply["api_keys"].get(str(API_VERSIONS))
        lower = min(version, supported[1]) if supported and supported[0] <= version else 0
        if lower != version:
            reply = api_versions(host, port, lower, client_id, timeout_s)
            version = lower
    if reply["error_code"] != 0:
        code = reply["error_code"]
        name = ERRORS.get(code, "see the Kafka protocol error codes")
        raise PingError(f"ApiVersions v{version} answered error {code} ({name})")
    if not reply["api_keys"]:
        raise PingError("the broker answered ApiVersions with no APIs")
    reply["api_version"] = version
    return reply


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            **PING_OPTIONS,
            "port": {"type": "int", "default": 9092},
            "api_version": {"type": "int", "default": 3, "choices": [0, 1, 2, 3]},
            "client_id": {"type": "str", "default": "neural-hive-verify"},
        },
        supports_check_mode=True,
    )
    check_params(module)
    p = module.params
    reply, result = ping_with_retries(
        module,
        "Kafka ApiVersions",
        "Kafka listener",
        lambda: ping_once(p["host"], p["port"], p["api_version"], p["client_id"], p["timeout_s"]),
    )
    result.update(
        api_versions_count=len(reply["api_keys"]),
        api_keys=reply["api_keys"],
        api_version=reply["api_version"],
    )
    if "throttle_time_ms" in reply:
        result["throttle_time_ms"] = reply["throttle_time_ms"]
    module.exit_json(**result)


if __name__ == "__main__":
    main()
