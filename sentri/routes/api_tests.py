"""Tests of a project over the JSON API (user auth): create, list, read, edit, review, quarantine, delete."""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from .. import projects, testcases
from ..auth import user_required
from ..extensions import csrf
from ..policies import quarantine
from ..validation import json_object
from .helpers import page_args, paginated

bp = Blueprint("api_tests", __name__, url_prefix="/api/v1/projects/<project_id>/tests")
csrf.exempt(bp)


@bp.post("")
@user_required
def create(project_id, user):
    project = projects.get(project_id)
    test = testcases.create(project, json_object(), actor=user)
    return jsonify(testcases.serialize(test)), 201


@bp.get("")
@user_required
def list_tests(project_id, user):
    project = projects.get(project_id)
    page, per_page, offset = page_args(default=100)
    items, total = testcases.list_for(
        project, status=request.args.get("status"), tag=request.args.get("tag"), offset=offset, limit=per_page
    )
    return paginated([testcases.serialize(t) for t in items], total, page, per_page)


@bp.get("/<test_id>")
@user_required
def read(project_id, test_id, user):
    return jsonify(testcases.serialize(testcases.get(projects.get(project_id), test_id)))


@bp.patch("/<test_id>")
@user_required
def edit(project_id, test_id, user):
    test = testcases.get(projects.get(project_id), test_id)
    testcases.update(test, json_object(), actor=user)
    return jsonify(testcases.serialize(test))


@bp.delete("/<test_id>")
@user_required
def remove(project_id, test_id, user):
    testcases.delete_test(testcases.get(projects.get(project_id), test_id), actor=user)
    return jsonify(ok=True)


@bp.post("/<test_id>/<any(approve, reject):decision>")
@user_required
def review(project_id, test_id, decision, user):
    test = testcases.get(projects.get(project_id), test_id)
    testcases.review(test, decision, actor=user)
    return jsonify(testcases.serialize(test))


@bp.post("/<test_id>/quarantine")
@user_required
def enter_quarantine(project_id, test_id, user):
    test = testcases.get(projects.get(project_id), test_id)
    quarantine.enter(test, json_object(), actor=user)
    return jsonify(testcases.serialize(test))


@bp.delete("/<test_id>/quarantine")
@user_required
def leave_quarantine(project_id, test_id, user):
    test = testcases.get(projects.get(project_id), test_id)
    quarantine.leave(test, actor=user)
    return jsonify(testcases.serialize(test))
