"""A project's environments (with secrets) and test-data sets over the JSON API (user auth)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from flask import Blueprint, jsonify

from .. import environments, projects
from ..auth import user_required
from ..extensions import csrf
from ..validation import Body, json_body, parse

bp = Blueprint("api_environments", __name__, url_prefix="/api/v1/projects/<project_id>")
csrf.exempt(bp)


@dataclass(frozen=True)
class Kind:
    """The bodies and domain functions of one kind of item: environments or test-data sets."""

    new: type[Body]
    changes: type[Body]
    create: Callable
    update: Callable
    get: Callable
    list: Callable
    serialize: Callable


KINDS = {
    "environments": Kind(
        environments.NewEnvironment,
        environments.EnvironmentChanges,
        environments.create_environment,
        environments.update_environment,
        environments.get_environment,
        environments.list_environments,
        environments.serialize_environment,
    ),
    "test-data-sets": Kind(
        environments.NewDataSet,
        environments.DataSetChanges,
        environments.create_data_set,
        environments.update_data_set,
        environments.get_data_set,
        environments.list_data_sets,
        environments.serialize_data_set,
    ),
}
KIND = "<any('environments', 'test-data-sets'):kind>"


@bp.post(f"/{KIND}")
@user_required
def create(project_id, kind, user):
    spec = KINDS[kind]
    return jsonify(spec.serialize(spec.create(projects.get(project_id), parse(spec.new, json_body())))), 201


@bp.get(f"/{KIND}")
@user_required
def list_items(project_id, kind, user):
    spec = KINDS[kind]
    return jsonify([spec.serialize(item) for item in spec.list(projects.get(project_id))])


@bp.get(f"/{KIND}/<item_id>")
@user_required
def read(project_id, kind, item_id, user):
    spec = KINDS[kind]
    return jsonify(spec.serialize(spec.get(projects.get(project_id), item_id)))


@bp.patch(f"/{KIND}/<item_id>")
@user_required
def edit(project_id, kind, item_id, user):
    spec = KINDS[kind]
    item = spec.get(projects.get(project_id), item_id)
    return jsonify(spec.serialize(spec.update(item, parse(spec.changes, json_body()), actor=user)))


@bp.delete(f"/{KIND}/<item_id>")
@user_required
def remove(project_id, kind, item_id, user):
    environments.delete(KINDS[kind].get(projects.get(project_id), item_id), actor=user)
    return jsonify(ok=True)
