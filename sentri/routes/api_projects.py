"""Projects over the JSON API (user auth)."""

from __future__ import annotations

from flask import Blueprint, jsonify
from pydantic import Field

from .. import projects
from ..auth import user_required
from ..extensions import csrf
from ..validation import Body, json_body, parse
from .helpers import page_args, paginated

bp = Blueprint("api_projects", __name__, url_prefix="/api/v1/projects")
# CSRF is checked in auth.authenticate_request for cookie sessions; bearer calls need none.
csrf.exempt(bp)


class ProjectCreate(Body):
    name: str = Field(max_length=200)
    base_url: str = Field(alias="baseUrl", max_length=2048)


class ProjectPatch(Body):
    name: str | None = Field(default=None, max_length=200)
    base_url: str | None = Field(default=None, alias="baseUrl", max_length=2048)
    variables: dict[str, str] | None = None
    allowed_origins: list[str] | None = Field(default=None, alias="allowedOrigins")


@bp.post("")
@user_required
def create(user):
    body = parse(ProjectCreate, json_body())
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
    body = parse(ProjectPatch, json_body())
    changes = {"allowed_origins": body.allowed_origins} if "allowed_origins" in body.model_fields_set else {}
    projects.update(project, name=body.name, base_url=body.base_url, variables=body.variables, actor=user,
                    **changes)
    return jsonify(projects.serialize(project))


@bp.delete("/<project_id>")
@user_required
def remove(project_id, user):
    projects.delete_project(projects.get(project_id), actor=user)
    return jsonify(ok=True)
