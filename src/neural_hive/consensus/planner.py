"""Build a cognitive plan (a task DAG with risk and complexity) from an intent envelope.

Templates are chosen by domain and, where one exists, by the finer classification;
any classification without its own template gets its domain's default.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from neural_hive.common.contracts import Domain, IntentEnvelope
from neural_hive.common.plan import CognitivePlan, Task, topological_order
from neural_hive.specialist.scorers import clamp

PLAN_NAMESPACE = uuid.UUID("6f1d2a52-3c47-4c8e-9a57-0d7c1b0e5e11")
MIN = 60_000


@dataclass(frozen=True, slots=True)
class Step:
    task_type: str
    description: str
    after: tuple[int, ...] = ()
    minutes: int = 15
    capabilities: tuple[str, ...] = ()


TEMPLATES: dict[tuple[Domain, str], tuple[Step, ...]] = {
    (Domain.BUSINESS, "default"): (
        Step(
            "analyze",
            "Analyze the request and define the KPI it should move",
            (),
            20,
            ("business_analysis",),
        ),
        Step(
            "gather_data",
            "Gather the data needed from the sales and finance systems",
            (0,),
            30,
            ("data_access",),
        ),
        Step(
            "build_report",
            "Build the report or dashboard with the agreed metrics",
            (1,),
            45,
            ("reporting",),
        ),
        Step(
            "validate",
            "Validate the numbers against the source systems",
            (2,),
            15,
            ("data_quality",),
        ),
        Step(
            "review",
            "Stakeholder review and approval of the outcome",
            (3,),
            20,
            ("stakeholder_management",),
        ),
    ),
    (Domain.BUSINESS, "workflow"): (
        Step(
            "analyze",
            "Map the current workflow and its approval steps",
            (),
            30,
            ("business_analysis",),
        ),
        Step(
            "design",
            "Design the improved workflow with measurable targets",
            (0,),
            30,
            ("process_design",),
        ),
        Step(
            "implement",
            "Configure the workflow in the business system",
            (1,),
            60,
            ("workflow_automation",),
        ),
        Step("validate", "Validate the workflow with a pilot group", (2,), 30, ("qa",)),
        Step(
            "document", "Document the new workflow and communicate it", (2,), 20, ("documentation",)
        ),
    ),
    (Domain.TECHNICAL, "default"): (
        Step(
            "analyze",
            "Analyze the requirement and the affected code",
            (),
            30,
            ("software_engineering",),
        ),
        Step("design", "Design the change and its API contract", (0,), 30, ("architecture",)),
        Step(
            "implement",
            "Implement the change in the application code",
            (1,),
            120,
            ("software_engineering",),
        ),
        Step(
            "test",
            "Write and run unit and integration tests to validate it",
            (2,),
            45,
            ("testing",),
        ),
        Step("review", "Code review by a second engineer", (2,), 20, ("code_review",)),
        Step(
            "deploy",
            "Release behind a feature flag with a rollback path",
            (3, 4),
            20,
            ("release_management",),
        ),
    ),
    (Domain.TECHNICAL, "bug"): (
        Step(
            "reproduce",
            "Reproduce the bug and capture a failing test",
            (),
            30,
            ("software_engineering", "testing"),
        ),
        Step("fix", "Fix the root cause in the code", (0,), 60, ("software_engineering",)),
        Step("test", "Run the regression tests to validate the fix", (1,), 30, ("testing",)),
        Step("review", "Code review of the fix", (1,), 15, ("code_review",)),
        Step("deploy", "Deploy the fix with a rollback plan", (2, 3), 15, ("release_management",)),
    ),
    (Domain.INFRASTRUCTURE, "default"): (
        Step(
            "assess",
            "Assess current capacity, dependencies and monitoring baseline",
            (),
            20,
            ("operations",),
        ),
        Step(
            "plan_change",
            "Plan the change window and the rollback procedure",
            (0,),
            20,
            ("operations",),
        ),
        Step("backup", "Backup state and configuration before the change", (1,), 15, ("backup",)),
        Step(
            "apply_change",
            "Apply the change through the CI/CD pipeline",
            (2,),
            30,
            ("kubernetes", "ci_cd"),
        ),
        Step(
            "verify",
            "Verify health checks and monitor error rates after the change",
            (3,),
            15,
            ("monitoring",),
        ),
        Step("document", "Document the change in the runbook", (4,), 10, ("documentation",)),
    ),
    (Domain.SECURITY, "default"): (
        Step(
            "triage",
            "Triage the security request and classify the data involved",
            (),
            15,
            ("security_analysis",),
        ),
        Step(
            "assess_impact",
            "Assess impact, threat model and affected access",
            (0,),
            30,
            ("threat_modeling",),
        ),
        Step(
            "remediate",
            "Apply the access, encryption or patch change",
            (1,),
            45,
            ("security_engineering",),
        ),
        Step(
            "security_scan",
            "Run a vulnerability scan to validate the remediation",
            (2,),
            20,
            ("vulnerability_scanning",),
        ),
        Step(
            "audit",
            "Record the change for the compliance audit trail and review",
            (3,),
            15,
            ("compliance",),
        ),
    ),
    (Domain.SECURITY, "incident"): (
        Step(
            "contain",
            "Contain the incident: revoke exposed credentials and access",
            (),
            15,
            ("incident_response",),
        ),
        Step(
            "investigate",
            "Investigate the scope from logs and audit trails",
            (0,),
            60,
            ("forensics",),
        ),
        Step(
            "eradicate",
            "Remove the cause and patch the vulnerability",
            (1,),
            45,
            ("security_engineering",),
        ),
        Step(
            "validate",
            "Validate with a scan that the exposure is closed",
            (2,),
            20,
            ("vulnerability_scanning",),
        ),
        Step(
            "notify",
            "Notify stakeholders and regulators as compliance requires",
            (1,),
            20,
            ("compliance",),
        ),
        Step("review", "Post-incident review and documentation", (3, 4), 30, ("documentation",)),
    ),
}

DOMAIN_RISK = {
    Domain.BUSINESS: 0.15,
    Domain.TECHNICAL: 0.25,
    Domain.INFRASTRUCTURE: 0.35,
    Domain.SECURITY: 0.45,
}
PRIORITY_RISK = {"low": -0.05, "normal": 0.0, "high": 0.1, "critical": 0.2}
SECURITY_RISK = {"public": 0.0, "internal": 0.0, "confidential": 0.05, "restricted": 0.1}
# Words that make a request riskier in any of the three languages.
RISKY = re.compile(
    r"\b(delete|drop|wipe|production|prod|root|disable|migrat\w*|apagar|excluir|produ[cç][aã]o"
    r"|desativar|borrar|eliminar|producci[oó]n|desactivar)\b",
    re.IGNORECASE,
)


def template_for(domain: Domain, classification: str) -> tuple[Step, ...]:
    return TEMPLATES.get((domain, classification.lower()), TEMPLATES[(domain, "default")])


def plan_id_for(intent_id: str) -> str:
    """Deterministic, so a redelivered intent yields the same plan and decision ids."""
    return str(uuid.uuid5(PLAN_NAMESPACE, intent_id))


def build_plan(env: IntentEnvelope, now: datetime | None = None) -> CognitivePlan:
    body = env.intent
    steps = template_for(body.domain, body.classification)
    prefix = body.domain.value.lower()
    tasks = [
        Task(
            task_id=f"{prefix}-{i + 1}",
            task_type=s.task_type,
            description=s.description,
            dependencies=[f"{prefix}-{j + 1}" for j in s.after],
            estimated_duration_ms=s.minutes * MIN,
            required_capabilities=list(s.capabilities),
        )
        for i, s in enumerate(steps)
    ]
    risky_words = len(RISKY.findall(body.text))
    risk = clamp(
        DOMAIN_RISK[body.domain]
        + PRIORITY_RISK[env.constraints.priority]
        + SECURITY_RISK[env.constraints.security_level]
        + min(0.2, 0.1 * risky_words)
        + 0.2 * (1 - env.confidence)
    )
    complexity = clamp(len(tasks) / 12 + len(body.entities) / 20 + len(body.text) / 2000)
    return CognitivePlan(
        plan_id=plan_id_for(env.id),
        version="1.0",
        intent_id=env.id,
        correlation_id=env.correlation_id,
        tasks=tasks,
        execution_order=topological_order(tasks),
        risk_score=risk,
        complexity_score=complexity,
        original_domain=body.domain.value,
        original_priority=env.constraints.priority,
        original_security_level=env.constraints.security_level,
        created_at=now or datetime.now(UTC),
    )
