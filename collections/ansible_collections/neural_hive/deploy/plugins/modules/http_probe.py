#!/usr/bin/python
"""One HTTP request with a millisecond timing and the JSON body, for the verify checks."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: http_probe
short_description: Send one HTTP request and check its status
description:
  - Sends one HTTP request (standard library) and fails unless the status is one of
    O(expect_status). Returns the status, the body parsed as JSON when it is JSON, and the
    time the request took in milliseconds (the builtin uri module reports whole seconds).
  - Reads only, unless the request itself changes something on the server (a POST);
    supports check mode and then still sends the request, as a probe must.
options:
  url:
    description: The URL.
    type: str
    required: true
  method:
    description: The HTTP method.
    type: str
    default: GET
  body:
    description: A body sent as JSON (a dict or list) or as it is (a string).
    type: raw
  content_type:
    description: Content-Type of the body; JSON when the body is a dict or list.
    type: str
  jwt_secret:
    description:
      - HS256 secret to mint a short-lived bearer token with (the gateway's auth).
    type: str
  headers:
    description: Extra request headers.
    type: dict
    default: {}
  expect_status:
    description: Statuses that count as a pass.
    type: list
    elements: int
    default: [200]
  timeout_s:
    description: Seconds to wait for the answer.
    type: float
    default: 5.0
  retries:
    description: Extra attempts while the status is not expected or the connection fails.
    type: int
    default: 0
  delay_s:
    description: Seconds between attempts.
    type: float
    default: 0.5
author:
  - Neural Hive-Mind team
"""

EXAMPLES = r"""
- name: Check that bad input gets a 4xx
  neural_hive.deploy.http_probe:
    url: http://10.89.42.9:8000/intentions
    method: POST
    body: {"text": ""}
    expect_status: [401, 422]
"""

RETURN = r"""
passed:
  description: Whether the check passed (also returned on failure).
  type: bool
  returned: always
status:
  description: The HTTP status, 0 when no answer came.
  type: int
  returned: always
json:
  description: The body parsed as JSON, when it is JSON.
  type: raw
  returned: when the body is JSON
elapsed_ms:
  description: Time of the last attempt in milliseconds.
  type: float
  returned: always
"""

import json
import time
import urllib.error
import urllib.request
from typing import Any

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.neural_hive.deploy.plugins.module_utils.jwt_hs256 import mint_hs256


def _send(p: dict[str, Any]) -> tuple[int, bytes, str]:
    headers = dict(p["headers"])
    if p["jwt_secret"]:
        headers["Authorization"] = "Bearer " + mint_hs256(
            p["jwt_secret"], "neural-hive-verify", 300
        )
    data = None
    if p["body"] is not None:
        if isinstance(p["body"], (dict, list)):
            data = json.dumps(p["body"]).encode()
            headers.setdefault("Content-Type", p["content_type"] or "application/json")
        else:
            data = str(p["body"]).encode()
            if p["content_type"]:
                headers.setdefault("Content-Type", p["content_type"])
    request = urllib.request.Request(p["url"], data=data, headers=headers, method=p["method"])
    try:
        with urllib.request.urlopen(request, timeout=p["timeout_s"]) as response:
            return response.status, response.read(), ""
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(), ""
    except (OSError, ValueError) as exc:
        return 0, b"", str(exc)


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "url": {"type": "str", "required": True},
            "method": {"type": "str", "default": "GET"},
            "body": {"type": "raw"},
            "content_type": {"type": "str"},
            "jwt_secret": {"type": "str", "no_log": True},
            "headers": {"type": "dict", "default": {}},
            "expect_status": {"type": "list", "elements": "int", "default": [200]},
            "timeout_s": {"type": "float", "default": 5.0},
            "retries": {"type": "int", "default": 0},
            "delay_s": {"type": "float", "default": 0.5},
        },
        supports_check_mode=True,
    )
    p = module.params
    for attempt in range(p["retries"] + 1):
        start = time.monotonic()
        status, raw, error = _send(p)
        elapsed = round((time.monotonic() - start) * 1000, 1)
        if status in p["expect_status"] or attempt == p["retries"]:
            break
        time.sleep(p["delay_s"])
    result: dict[str, Any] = {"changed": False, "status": status, "elapsed_ms": elapsed}
    try:
        result["json"] = json.loads(raw) if raw else None
    except ValueError:
        result["body"] = raw[:500].decode("utf-8", "replace")
    where = f"{p['method']} {p['url']}"
    if status not in p["expect_status"]:
        reason = error or f"status {status}"
        module.fail_json(
            passed=False, msg=f"{where}: {reason}, expected {p['expect_status']}", **result
        )
    module.exit_json(passed=True, msg=f"{where}: {status}", **result)


if __name__ == "__main__":
    main()
