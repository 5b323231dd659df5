# Copyright: Neural Hive-Mind contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""Redis protocol ping (RESP PING, optional AUTH) with the standard library only."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: redis_ping
short_description: Check that a Redis server answers PING with PONG
version_added: 0.1.0
description:
  - Connects to O(host):O(port) over TCP, authenticates with C(AUTH) when O(password) is
    set, sends the RESP command C(PING) and expects C(+PONG). An open port is not enough,
    the server must speak the Redis protocol and accept the credentials.
  - Fails with the server's own error (for example C(NOAUTH) or C(WRONGPASS)) or the
    network error. With O(retries), tries again after O(delay) seconds.
  - Uses only the Python standard library; only reads, never changes anything.
options:
  host:
    description: Host name or IP address of the Redis server.
    type: str
    required: true
  port:
    description: Port of the Redis server.
    type: int
    default: 6379
  username:
    description: ACL user name for C(AUTH) (Redis 6 and later). Needs O(password).
    type: str
  password:
    description: Password for C(AUTH). Never shown in the result.
    type: str
  timeout_s:
    description: Timeout in seconds for the connection and for each reply.
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
  - Plain TCP only (no TLS).
author:
  - Neural Hive-Mind contributors
"""

EXAMPLES = r"""
- name: Redis answers its protocol ping
  neural_hive.deploy.redis_ping:
    host: redis.neural-hive-redis.svc.cluster.local
    port: 6379
    password: "{{ neural_hive_redis_password | default(omit) }}"
    timeout_s: 2
"""

RETURN = r"""
passed:
  description:
    - Whether the check passed. Also returned on failure (V(false)), so that a task with
      C(failed_when=false) can record the outcome and go on.
  returned: always
  type: bool
  sample: true
response:
  description: The server's reply to PING.
  returned: success
  type: str
  sample: PONG
authenticated:
  description: Whether C(AUTH) was sent and accepted.
  returned: success
  type: bool
target:
  description: The address that was called.
  returned: always
  type: str
  sample: 10.0.0.7:6379
attempts:
  description: How many connections were made.
  returned: always
  type: int
  sample: 1
elapsed_ms:
  description: Wall time of the whole module run, retries included, in milliseconds.
  returned: always
  type: float
  sample: 1.3
"""

import socket

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.neural_hive.deploy.plugins.module_utils.socket_ping import (
    PING_OPTIONS,
    PingError,
    check_params,
    ping_with_retries,
)

MAX_LINE = 64 * 1024


def command(*args: str) -> bytes:
    """A RESP array of bulk strings."""
    out = [f"*{len(args)}\r\n".encode()]
    for arg in args:
        raw = arg.encode()
        out.append(b"$%d\r\n%s\r\n" % (len(raw), raw))
    return b"".join(out)


def read_line(sock: socket.socket, buf: bytearray) -> str:
    while b"\r\n" not in buf:
        if len(buf) > MAX_LINE:
            raise PingError("the reply is not the Redis protocol (no line end)")
        chunk = sock.recv(4096)
        if not chunk:
            raise PingError("the server closed the connection without a reply")
        buf.extend(chunk)
    line, _sep, rest = bytes(buf).partition(b"\r\n")
    buf[:] = rest
    return line.decode("utf-8", errors="replace")


def ping_once(host: str, port: int, timeout_s: float, username, password) -> tuple:
    """(reply, authenticated) or raises PingError / OSError."""
    with socket.create_connection((host, port), timeout=timeout_s) as sock:
        buf = bytearray()
        authenticated = False
        if password is not None:
            args = ("AUTH", username, password) if username else ("AUTH", password)
            sock.sendall(command(*args))
            reply = read_line(sock, buf)
            if reply != "+OK":
                raise PingError(f"AUTH refused: {describe(reply)}")
            authenticated = True
        sock.sendall(command("PING"))
        reply = read_line(sock, buf)
        if reply == "+PONG":
            return "PONG", authenticated
        if reply.startswith("-NOAUTH"):
            raise PingError(f"the server requires a password: {describe(reply)}")
        raise PingError(f"PING answered {describe(reply)}, expected +PONG")


def describe(reply: str) -> str:
    if reply.startswith("-"):
        return reply[1:].strip()[:300]
    return repr(reply[:80]) if reply else "an empty line"


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            **PING_OPTIONS,
            "port": {"type": "int", "default": 6379},
            "username": {"type": "str"},
            "password": {"type": "str", "no_log": True},
        },
        required_by={"username": "password"},
        supports_check_mode=True,
    )
    check_params(module)
    p = module.params
    (reply, authenticated), result = ping_with_retries(
        module,
        "Redis PING",
        "Redis server",
        lambda: ping_once(p["host"], p["port"], p["timeout_s"], p["username"], p["password"]),
    )
    module.exit_json(response=reply, authenticated=authenticated, **result)


if __name__ == "__main__":
    main()
