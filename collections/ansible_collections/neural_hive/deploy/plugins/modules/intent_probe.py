# Copyright: Neural Hive-Mind contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""The functional check: one text intent through gateway, Kafka, consensus and specialists."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: intent_probe
short_description: Send a text intent to the gateway and wait for its consensus decision
version_added: 0.1.0
description:
  - The functional check of the Neural Hive-Mind deployment. It sends C(POST /intentions)
    to the intent gateway with O(text) and O(language), then polls
    C(GET /intentions/{id}) until the consensus engine has written its decision (or
    O(timeout_s) passes). A decision proves that the intent was classified, published to
    Kafka, consumed by the consensus engine, evaluated by the specialists over gRPC and
    recorded in Redis.
  - Fails when the gateway refuses the intent, when no decision arrives in time, when the
    decision has fewer than O(expect_opinions) specialist opinions, or when the status is
    not one of O(expect_status).
  - An intent the gateway routes to C(intentions.validation) (confidence below its
    threshold) is never evaluated by the consensus engine; waiting for its decision fails at
    once with a message that says so.
  - Authenticates with a bearer token minted inside the module from the HS256 shared
    secret O(jwt_secret), with a ready-made O(token), or not at all (gateways whose auth
    is off). Neither the secret nor any token appears in the result.
options:
  url:
    description: Base URL of the gateway, for example V(http://gateway:8000).
    type: str
    required: true
    aliases: [base_url]
  text:
    description: The request, in Portuguese, English or Spanish (1 to 10000 characters).
    type: str
    required: true
  language:
    description: Language of O(text). Omitted, the gateway detects it.
    type: str
    choices: [pt, en, es]
  correlation_id:
    description:
      - Idempotency key. Sending the same one twice makes the gateway answer the second time
        with RV(status=duplicate_detected) and the first intent's id.
      - 1 to 128 characters of C([A-Za-z0-9._:-]).
    type: str
  constraints:
    description: Optional C(constraints) object of the request (priority, security_level, ...).
    type: dict
  jwt_secret:
    description:
      - HS256 shared secret of the gateway (its C(NEURAL_HIVE_JWT_SECRET)). A short-lived
        token is minted from it for this probe.
    type: str
  jwt_subject:
    description: C(sub) claim of the minted token.
    type: str
    default: neural-hive-verify
  jwt_audience:
    description: C(aud) claim of the minted token, when the gateway checks the audience.
    type: str
  jwt_issuer:
    description: C(iss) claim of the minted token, when the gateway checks the issuer.
    type: str
  jwt_ttl_s:
    description: Lifetime of the minted token in seconds.
    type: int
    default: 300
  token:
    description: A bearer token to send as it is (for example one signed with RS256).
    type: str
  wait_for_decision:
    description: Poll for the consensus decision. When false, return after the POST.
    type: bool
    default: true
  expect_opinions:
    description: Fail when the decision carries fewer specialist opinions than this.
    type: int
    default: 5
  expect_status:
    description: Fail unless the gateway's status is one of these. Empty accepts any.
    type: list
    elements: str
    choices: [processed, routed_to_validation, duplicate_detected]
    default: []
  expect_domain:
    description: Fail unless the gateway classifies the intent into this domain.
    type: str
    choices: [BUSINESS, TECHNICAL, INFRASTRUCTURE, SECURITY]
  timeout_s:
    description: Seconds to wait for the decision, counted from the POST.
    type: float
    default: 30
  poll_interval_s:
    description: Seconds between two C(GET /intentions/{id}).
    type: float
    default: 0.1
  request_timeout_s:
    description: Timeout of each HTTP request in seconds.
    type: float
    default: 10
  validate_certs:
    description: Verify the gateway's TLS certificate (https URLs).
    type: bool
    default: true
  ca_path:
    description: PEM file of the CA that signed the gateway's certificate.
    type: path
  use_proxy:
    description: Use the proxy from the environment (C(https_proxy), C(http_proxy)).
    type: bool
    default: false
attributes:
  check_mode:
    support: full
    description:
      - The probe runs in check mode too. It does submit an intent (that is the check) but
        changes no configuration, so RV(ignore:changed) is always false.
  diff_mode:
    support: none
    description: Nothing is configured, so there is no diff.
notes:
  - Uses only Ansible's own HTTP client and the standard library (the token is signed with
    C(hmac)); nothing to install.
author:
  - Neural Hive-Mind contributors
"""

EXAMPLES = r"""
- name: An intent in Portuguese gets a five-opinion decision
  neural_hive.deploy.intent_probe:
    url: http://gateway-intencoes.gateway-intencoes.svc.cluster.local:8000
    text: Precisamos escalar o cluster de Kubernetes de produção antes da Black Friday
    language: pt
    jwt_secret: "{{ neural_hive_jwt_secret }}"
    expect_opinions: 5
    timeout_s: 20
  register: probe

- name: The same correlation id again is detected as a duplicate
  neural_hive.deploy.intent_probe:
    url: http://127.0.0.1:8000
    text: Please build a dashboard with monthly revenue per customer segment
    language: en
    correlation_id: "verify-dup-{{ ansible_date_time.epoch }}"
    jwt_secret: "{{ neural_hive_jwt_secret }}"
    expect_status: [duplicate_detected]
    wait_for_decision: false
"""

RETURN = r"""
passed:
  description:
    - Whether the check passed. Also returned on failure (V(false)), so that a task with
      C(failed_when=false) can record the outcome and go on.
  returned: always
  type: bool
  sample: true
intent_id:
  description: Id of the intent (for a duplicate, the first intent's id).
  returned: always
  type: str
  sample: 0b0f7a0e-4a63-4a8e-9a53-4ad0c2d6a9f1
correlation_id:
  description: The correlation id (the intent id when none was sent).
  returned: success
  type: str
status:
  description: The gateway's status.
  returned: success
  type: str
  sample: processed
http_status:
  description: HTTP status of the POST (202 accepted, 200 duplicate).
  returned: always
  type: int
  sample: 202
language:
  description: Language of the intent, as given or detected.
  returned: success
  type: str
  sample: pt
domain:
  description: Domain the gateway classified the intent into.
  returned: success
  type: str
  sample: INFRASTRUCTURE
classification:
  description: The finer classification.
  returned: success
  type: str
  sample: scaling
confidence:
  description: Calibrated confidence of the classification.
  returned: success
  type: float
  sample: 0.93
topic:
  description: Kafka topic the intent was published to (not for duplicates).
  returned: when the gateway says
  type: str
  sample: intentions.infrastructure
decided:
  description: Whether the decision was read.
  returned: always
  type: bool
decision:
  description: The final consensus decision.
  returned: when decided
  type: str
  sample: approve
decision_id:
  description: Id of the decision.
  returned: when decided
  type: str
recommendations:
  description: Each specialist's recommendation, by specialist type.
  returned: when decided
  type: dict
  sample: {business: approve, technical: conditional}
votes:
  description: Number of votes for each recommendation.
  returned: when decided
  type: dict
  sample: {approve: 4, conditional: 1, review_required: 0, reject: 0}
opinions:
  description: Number of specialist opinions in the decision.
  returned: when decided
  type: int
  sample: 5
missing_specialists:
  description: Specialists that gave no opinion, with the error.
  returned: when decided
  type: list
  elements: dict
aggregated_confidence:
  description: Weighted confidence of the opinions.
  returned: when decided
  type: float
aggregated_risk:
  description: Weighted risk of the opinions.
  returned: when decided
  type: float
quorum_met:
  description: Whether the quorum of opinions was reached.
  returned: when decided
  type: bool
guardrails_triggered:
  description: Guardrails that changed the decision.
  returned: when decided
  type: list
  elements: str
time_to_decision_ms:
  description: From just before the POST to the GET that saw the decision, in milliseconds.
  returned: when decided
  type: float
  sample: 85.3
intent_to_decision_ms:
  description: The engine's own measure, from the Kafka record's timestamp to the decision.
  returned: when decided
  type: int
post_ms:
  description: Round trip of the POST in milliseconds.
  returned: always
  type: float
elapsed_ms:
  description: Wall time of the whole module run in milliseconds.
  returned: always
  type: float
"""

import json
import re
import time

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.urls import fetch_url
from ansible_collections.neural_hive.deploy.plugins.module_utils.jwt_hs256 import mint_hs256

CORRELATION_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")


class Probe:
    def __init__(self, module: AnsibleModule) -> None:
        self.module = module
        self.p = module.params
        self.base = self.p["url"].rstrip("/")
        self.started = time.monotonic()
        self.result: dict = {"changed": False, "passed": False, "decided": False}
        self.headers = {"Accept": "application/json"}
        if self.p["jwt_secret"]:
            token = mint_hs256(
                self.p["jwt_secret"],
                self.p["jwt_subject"],
                self.p["jwt_ttl_s"],
                self.p["jwt_audience"],
                self.p["jwt_issuer"],
            )
            self.headers["Authorization"] = f"Bearer {token}"
        elif self.p["token"]:
            self.headers["Authorization"] = f"Bearer {self.p['token']}"

    def fail(self, msg: str) -> None:
        self.result["elapsed_ms"] = self.ms(self.started)
        self.module.fail_json(msg=msg, **self.result)

    @staticmethod
    def ms(since: float) -> float:
        return round((time.monotonic() - since) * 1000, 1)

    def request(self, method: str, path: str, body: dict | None = None) -> tuple:
        """(HTTP status, decoded JSON body or None, raw text); status -1 when no answer."""
        headers = dict(self.headers)
        data = None
        if body is not None:
            data = json.dumps(body)
            headers["Content-Type"] = "application/json"
        resp, info = fetch_url(
            self.module,
            self.base + path,
            data=data,
            headers=headers,
            method=method,
            timeout=self.p["request_timeout_s"],
            use_proxy=self.p["use_proxy"],
            ca_path=self.p["ca_path"],
        )
        status = int(info.get("status", -1))
        # On an HTTP error fetch_url has already read the body into info["body"].
        raw = info["body"] if "body" in info or resp is None else resp.read()
        if isinstance(raw, bytes):
            raw = raw.decode("utf-8", errors="replace")
        try:
            doc = json.loads(raw) if raw else None
        except ValueError:
            doc = None
        if status == -1:
            raw = info.get("msg", "no answer")
        return status, doc, raw

    def refused(self, what: str, status: int, doc, raw: str) -> str:
        if status == -1:
            return f"{what}: no answer from {self.base}: {raw}"
        detail = doc.get("detail") if isinstance(doc, dict) else None
        if detail is not None and not isinstance(detail, str):
            detail = json.dumps(detail)  # a validation error: a list of problems
        detail = (detail or raw or "").strip()[:500]
        hint = ""
        if status == 401:
            hint = " (set jwt_secret or token to what the gateway expects)"
        return f"{what}: HTTP {status}{hint}: {detail}"

    def submit(self) -> None:
        body: dict = {"text": self.p["text"]}
        for key in ("language", "correlation_id", "constraints"):
            if self.p[key] is not None:
                body[key] = self.p[key]
        self.posted = time.monotonic()
        status, doc, raw = self.request("POST", "/intentions", body)
        self.result["post_ms"] = self.ms(self.posted)
        self.result["http_status"] = status
        if status not in (200, 202) or not isinstance(doc, dict) or "intent_id" not in doc:
            self.fail(self.refused("POST /intentions was not accepted", status, doc, raw))
        for key in (
            "intent_id",
            "correlation_id",
            "status",
            "language",
            "domain",
            "classification",
            "confidence",
            "topic",
        ):
            if doc.get(key) is not None:
                self.result[key] = doc[key]

    def check_acceptance(self) -> None:
        r, p = self.result, self.p
        if p["expect_status"] and r.get("status") not in p["expect_status"]:
            self.fail(
                f"intent {r['intent_id']}: status {r.get('status')!r}, expected one of "
                f"{', '.join(p['expect_status'])}"
            )
        if p["expect_domain"] and r.get("domain") != p["expect_domain"]:
            self.fail(
                f"intent {r['intent_id']}: classified as {r.get('domain')!r} "
                f"({r.get('classification')}, confidence {r.get('confidence')}), "
                f"expected {p['expect_domain']}"
            )

    def wait_decision(self) -> dict:
        r = self.result
        if r.get("status") == "routed_to_validation":
            self.fail(
                f"intent {r['intent_id']} was routed to intentions.validation (confidence "
                f"{r.get('confidence')} is below the gateway's threshold): the consensus "
                "engine does not evaluate it, so no decision will come; use a clearer text "
                "or wait_for_decision=false"
            )
        deadline = self.posted + self.p["timeout_s"]
        path = f"/intentions/{r['intent_id']}"
        last = "no answer yet"
        while True:
            status, doc, raw = self.request("GET", path)
            if status == 200 and isinstance(doc, dict):
                if doc.get("decision"):
                    r["time_to_decision_ms"] = self.ms(self.posted)
                    return doc["decision"]
                last = f"intent stored, status {doc.get('status')!r}, no decision yet"
            elif status in (401, 403):
                self.fail(self.refused(f"GET {path} was refused", status, doc, raw))
            else:
                last = self.refused(f"GET {path}", status, doc, raw)
            if time.monotonic() + self.p["poll_interval_s"] > deadline:
                self.fail(
                    f"intent {r['intent_id']} ({r.get('domain')}, published to "
                    f"{r.get('topic', 'its topic')}) has no consensus decision after "
                    f"{self.p['timeout_s']:g}s; last GET: {last}. Is the consensus engine "
                    "consuming and can it reach Redis?"
                )
            time.sleep(self.p["poll_interval_s"])

    def record_decision(self, d: dict) -> None:
        r = self.result
        opinions = d.get("opinions") or []
        r.update(
            decided=True,
            decision=d.get("decision"),
            decision_id=d.get("decision_id"),
            recommendations={
                o.get("specialist_type"): o.get("recommendation")
                for o in opinions
                if isinstance(o, dict)
            },
            votes=d.get("votes"),
            opinions=len(opinions),
            missing_specialists=d.get("missing_specialists") or [],
            aggregated_confidence=d.get("aggregated_confidence"),
            aggregated_risk=d.get("aggregated_risk"),
            quorum_met=(d.get("quorum") or {}).get("met"),
            guardrails_triggered=d.get("guardrails_triggered") or [],
            intent_to_decision_ms=d.get("intent_to_decision_ms"),
        )
        if r["opinions"] < self.p["expect_opinions"]:
            missing = "; ".join(
                f"{m.get('specialist_type')}: {m.get('code')} {m.get('reason') or ''}".strip()
                for m in r["missing_specialists"]
            )
            self.fail(
                f"intent {r['intent_id']}: the decision ({r['decision']}) has "
                f"{r['opinions']} specialist opinion(s), expected at least "
                f"{self.p['expect_opinions']}; missing: {missing or 'none listed'}"
            )


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "url": {"type": "str", "required": True, "aliases": ["base_url"]},
            "text": {"type": "str", "required": True},
            "language": {"type": "str", "choices": ["pt", "en", "es"]},
            "correlation_id": {"type": "str"},
            "constraints": {"type": "dict"},
            "jwt_secret": {"type": "str", "no_log": True},
            "jwt_subject": {"type": "str", "default": "neural-hive-verify"},
            "jwt_audience": {"type": "str"},
            "jwt_issuer": {"type": "str"},
            "jwt_ttl_s": {"type": "int", "default": 300},
            "token": {"type": "str", "no_log": True},
            "wait_for_decision": {"type": "bool", "default": True},
            "expect_opinions": {"type": "int", "default": 5},
            "expect_status": {
                "type": "list",
                "elements": "str",
                "default": [],
                "choices": ["processed", "routed_to_validation", "duplicate_detected"],
            },
            "expect_domain": {
                "type": "str",
                "choices": ["BUSINESS", "TECHNICAL", "INFRASTRUCTURE", "SECURITY"],
            },
            "timeout_s": {"type": "float", "default": 30.0},
            "poll_interval_s": {"type": "float", "default": 0.1},
            "request_timeout_s": {"type": "float", "default": 10.0},
            "validate_certs": {"type": "bool", "default": True},
            "ca_path": {"type": "path"},
            "use_proxy": {"type": "bool", "default": False},
        },
        mutually_exclusive=[("jwt_secret", "token")],
        supports_check_mode=True,
    )
    p = module.params
    if not re.match(r"^https?://[^/\s]+", p["url"]):
        module.fail_json(msg=f"url must be an http:// or https:// base URL, got {p['url']!r}")
    if not 1 <= len(p["text"]) <= 10_000:
        module.fail_json(msg=f"text must be 1 to 10000 characters, got {len(p['text'])}")
    if p["correlation_id"] is not None and not CORRELATION_ID.match(p["correlation_id"]):
        module.fail_json(
            msg="correlation_id must be 1 to 128 characters of letters, digits and ._:-"
        )
    if p["jwt_secret"] is not None and not p["jwt_secret"]:
        module.fail_json(msg="jwt_secret is empty")
    for key in ("timeout_s", "poll_interval_s", "request_timeout_s", "jwt_ttl_s"):
        if p[key] <= 0:
            module.fail_json(msg=f"{key} must be positive, got {p[key]}")
    if p["expect_opinions"] < 0:
        module.fail_json(msg=f"expect_opinions must not be negative, got {p['expect_opinions']}")

    probe = Probe(module)
    probe.submit()
    probe.check_acceptance()
    if p["wait_for_decision"]:
        probe.record_decision(probe.wait_decision())
    probe.result["elapsed_ms"] = probe.ms(probe.started)
    probe.result["passed"] = True
    module.exit_json(**probe.result)


if __name__ == "__main__":
    main()
