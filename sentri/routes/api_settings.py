"""A project's quality gates, Web Vitals budgets, regression gate and quarantine policy (GET for users, PATCH
for admins)."""

from __future__ import annotations

from flask import Blueprint, jsonify

from .. import projects
from ..auth import user_required
from ..extensions import csrf
from ..runs import limits
from ..users import require_admin
from ..validation import json_body

bp = Blueprint("api_settings", __name__, url_prefix="/api/v1/projects/<project_id>")
csrf.exempt(bp)

@bp.get("/<any('quality-gates', 'web-vitals-budgets', 'vitals-regression', 'quarantine-policy'):kind>")
@user_required
def read(project_id, kind, user):
    return jsonify(limits.read(projects.get(project_id), kind))


@bp.patch("/<any('quality-gates', 'web-vitals-budgets', 'vitals-regression', 'quarantine-policy'):kind>")
@user_required
def edit(project_id, kind, user):
    project = projects.get(project_id)
    require_admin(user)  # before the body is read: a member learns nothing from a 400
    return jsonify(limits.change(project, kind, json_body(), actor=user))
