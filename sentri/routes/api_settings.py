"""A project's quality gates and Web Vitals budgets (GET for users, PATCH for admins)."""

from __future__ import annotations

from flask import Blueprint, jsonify

from .. import projects
from ..auth import user_required
from ..database import write
from ..extensions import csrf
from ..runs import gates, vitals
from ..users import require_admin
from ..validation import json_body

bp = Blueprint("api_settings", __name__, url_prefix="/api/v1/projects/<project_id>")
csrf.exempt(bp)

# url segment -> (model attribute, field names, patch cleaner, merge)
SETTINGS = {
    "quality-gates": ("quality_gates", gates.GATE_FIELDS, gates.clean_gates_patch, gates.merge),
    "web-vitals-budgets": ("vitals_budgets", vitals.BUDGET_FIELDS, vitals.clean_budgets_patch, vitals.merge),
}


def _body(project, kind: str) -> dict:
    attribute, fields, _clean, _merge = SETTINGS[kind]
    current = getattr(project, attribute) or {}
    return {name: current.get(name) for name in fields}


@bp.get("/<any('quality-gates', 'web-vitals-budgets'):kind>")
@user_required
def read(project_id, kind, user):
    return jsonify(_body(projects.get(project_id), kind))


@bp.patch("/<any('quality-gates', 'web-vitals-budgets'):kind>")
@user_required
def edit(project_id, kind, user):
    project = projects.get(project_id)
    require_admin(user)
    attribute, _fields, clean, merge = SETTINGS[kind]
    patch = clean(json_body())
    with write():
        setattr(project, attribute, merge(getattr(project, attribute), patch))
    return jsonify(_body(project, kind))
