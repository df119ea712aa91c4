"""A project's environments (with secrets) and test-data sets over the JSON API (user auth)."""

from __future__ import annotations

from flask import Blueprint, jsonify

from .. import environments, projects
from ..auth import user_required
from ..extensions import csrf
from ..validation import json_body

bp = Blueprint("api_environments", __name__, url_prefix="/api/v1/projects/<project_id>")
csrf.exempt(bp)

KINDS = {
    "environments": (environments.create_environment, environments.update_environment,
                     environments.get_environment, environments.list_environments,
                     environments.serialize_environment),
    "test-data-sets": (environments.create_data_set, environments.update_data_set, environments.get_data_set,
                       environments.list_data_sets, environments.serialize_data_set),
}
KIND = "<any('environments', 'test-data-sets'):kind>"


@bp.post(f"/{KIND}")
@user_required
def create(project_id, kind, user):
    make, _update, _get, _list, serialize = KINDS[kind]
    return jsonify(serialize(make(projects.get(project_id), json_body()))), 201


@bp.get(f"/{KIND}")
@user_required
def list_items(project_id, kind, user):
    _make, _update, _get, list_, serialize = KINDS[kind]
    return jsonify([serialize(item) for item in list_(projects.get(project_id))])


@bp.get(f"/{KIND}/<item_id>")
@user_required
def read(project_id, kind, item_id, user):
    _make, _update, get, _list, serialize = KINDS[kind]
    return jsonify(serialize(get(projects.get(project_id), item_id)))


@bp.patch(f"/{KIND}/<item_id>")
@user_required
def edit(project_id, kind, item_id, user):
    _make, update, get, _list, serialize = KINDS[kind]
    item = get(projects.get(project_id), item_id)
    return jsonify(serialize(update(item, json_body(), actor=user)))


@bp.delete(f"/{KIND}/<item_id>")
@user_required
def remove(project_id, kind, item_id, user):
    _make, _update, get, _list, _serialize = KINDS[kind]
    environments.delete(get(projects.get(project_id), item_id), actor=user)
    return jsonify(ok=True)
