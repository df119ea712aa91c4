"""A project's limits, read and changed as one kind of setting: quality gates (`quality-gates`), Web
Vitals budgets (`web-vitals-budgets`), the Web Vitals regression gate (`vitals-regression`) and the
quarantine policy (`quarantine-policy`). The API and the Automation page both go through here."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..database import write
from ..models import Project, User
from ..users import require_admin
from . import gates, quarantine, regression, vitals


@dataclass(frozen=True)
class Kind:
    attribute: str  # the project's column
    fields: tuple[str, ...]
    clean: Callable[[object], dict]  # a patch body -> cleaned patch (400 naming the field)
    merge: Callable[[dict | None, dict], dict | None]
    whole_numbers: tuple[str, ...]  # fields a form must give as whole numbers
    saved: str  # what the page says once saved


KINDS = {
    "quality-gates": Kind(
        "quality_gates",
        gates.GATE_FIELDS,
        gates.clean_gates_patch,
        gates.merge,
        ("maxFailures",),
        "Quality gates saved.",
    ),
    "web-vitals-budgets": Kind(
        "vitals_budgets",
        vitals.BUDGET_FIELDS,
        vitals.clean_budgets_patch,
        vitals.merge,
        (),
        "Web Vitals budgets saved.",
    ),
    "vitals-regression": Kind(
        "vitals_regression",
        regression.FIELDS,
        regression.clean_patch,
        regression.merge,
        ("baselineRuns", "vitalsSamples"),
        "Web Vitals regression gate saved.",
    ),
    "quarantine-policy": Kind(
        "quarantine_policy",
        quarantine.POLICY_FIELDS,
        quarantine.clean_policy_patch,
        quarantine.merge_policy,
        ("suggestReleaseAfter",),
        "Quarantine policy saved.",
    ),
}


def read(project: Project, kind: str) -> dict:
    """Every field of this kind of limit, None where nothing is configured."""
    spec = KINDS[kind]
    current = getattr(project, spec.attribute) or {}
    return {name: current.get(name) for name in spec.fields}


def change(project: Project, kind: str, patch: object, *, actor: User | None = None) -> dict:
    """Apply a patch (any subset of the fields; null clears one) as an admin; return the new limits."""
    require_admin(actor)
    spec = KINDS[kind]
    cleaned = spec.clean(patch)
    with write():
        setattr(project, spec.attribute, spec.merge(getattr(project, spec.attribute), cleaned))
    return read(project, kind)
