"""Projects over the JSON API (user auth)."""

from __future__ import annotations

from flask import Blueprint, jsonify

from .. import projects
from ..auth import user_required
from ..extensions import csrf
from ..validation import json_body, parse
from .helpers import page_args, paginated

bp = Blueprint("api_projects", __name__, url_prefix="/api/v1/projects")
# CSRF is checked in auth.authenticate_request for cookie sessions; bearer calls need none.
csrf.exempt(bp)


@bp.post("")
@user_required
def create(user):
    body = parse(projects.NewProject, json_body())
    project = projects.create(body.name, body.base_url)
    return jsonify(projects.serialize(project)), 201


@bp.get("")
@user_required
def list_projects(user):
    page, per_page, offset = page_args()
    items, total = projects.list_all(offset=offset, limit=per_page)
    return paginated([projects.serialize(p) for p in items], total, page, per_page)


@bp.get("/<project_id>")
@user_required
def read(project_id, user):
    return jsonify(projects.serialize(projects.get(project_id)))


@bp.patch("/<project_id>")
@user_required
def edit(project_id, user):
    project = projects.get(project_id)
    projects.update(project, parse(projects.ProjectChanges, json_body()), actor=user)
    return jsonify(projects.serialize(project))


@bp.delete("/<project_id>")
@user_required
def remove(project_id, user):
    projects.delete_project(projects.get(project_id), actor=user)
    return jsonify(ok=True)
