"""The shared part of the protocol-ping modules (redis_ping, kafka_ping): checking the
common options, retrying one ping over a socket, and the result every probe returns."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from typing import Any

#: Common options of the ping modules (merged into each module's argument_spec).
PING_OPTIONS: dict[str, dict[str, Any]] = {
    "host": {"type": "str", "required": True},
    "timeout_s": {"type": "float", "default": 5.0},
    "retries": {"type": "int", "default": 0},
    "delay": {"type": "float", "default": 1.0},
}


class PingError(Exception):
    """The peer answered, but not as the protocol says."""


def check_params(module: Any) -> None:
    p = module.params
    if not 0 < p["port"] < 65536:
        module.fail_json(msg=f"port must be between 1 and 65535, got {p['port']}")
    if p["timeout_s"] <= 0:
        module.fail_json(msg=f"timeout_s must be positive, got {p['timeout_s']:g}")
    if p["retries"] < 0 or p["delay"] < 0:
        module.fail_json(msg="retries and delay must not be negative")


def ping_with_retries(
    module: Any, what: str, protocol: str, ping: Callable[[], Any]
) -> tuple[Any, dict[str, Any]]:
    """Call ``ping`` until it answers or the retries run out.

    Returns the answer and the common result fields (``passed``, ``target``,
    ``attempts``, ``elapsed_ms``); fails the module with a message that says why the last
    attempt failed (``what`` names the check, ``protocol`` the kind of server expected).
    """
    p = module.params
    start = time.monotonic()
    target = f"{p['host']}:{p['port']}"
    attempts, error, reply = 0, None, None
    while True:
        attempts += 1
        try:
            reply = ping()
            error = None
            break
        except TimeoutError:
            error = f"no reply within {p['timeout_s']:g}s (is it a {protocol}?)"
        except ConnectionRefusedError:
            error = "connection refused (nothing listens on that port)"
        except socket.gaierror as exc:
            error = f"cannot resolve {p['host']!r}: {exc.strerror or exc}"
        except (OSError, PingError) as exc:
            error = str(exc)
        if attempts > p["retries"]:
            break
        time.sleep(p["delay"])
    result = {
        "changed": False,
        "passed": error is None,
        "target": target,
        "attempts": attempts,
        "elapsed_ms": round((time.monotonic() - start) * 1000, 1),
    }
    if error is not None:
        suffix = f" (after {attempts} attempts)" if attempts > 1 else ""
        module.fail_json(msg=f"{what} to {target} failed: {error}{suffix}", **result)
    return reply, result
