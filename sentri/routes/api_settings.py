"""A project's quality gates, Web Vitals budgets, regression gate and quarantine policy (GET for users, PATCH
for admins), and the regression gate's baseline (GET for users, PUT to pin a run and DELETE to unpin for
admins)."""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from .. import projects
from ..auth import user_required
from ..extensions import csrf
from ..policies import thresholds as limits
from ..policies import vitals_baseline
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


@bp.get("/vitals-regression/baseline")
@user_required
def baseline(project_id, user):
    project = projects.get(project_id)
    return jsonify(vitals_baseline.describe(project, *vitals_baseline.where(request.args)))


@bp.put("/vitals-regression/baseline")
@user_required
def pin_baseline(project_id, user):
    project = projects.get(project_id)
    require_admin(user)
    return jsonify(vitals_baseline.pin(project, json_body(), user))


@bp.delete("/vitals-regression/baseline")
@user_required
def unpin_baseline(project_id, user):
    project = projects.get(project_id)
    require_admin(user)
    return jsonify(vitals_baseline.unpin(project, *vitals_baseline.where(request.args), user))
