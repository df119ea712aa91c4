"""Suites of a project over the JSON API (user auth)."""

from __future__ import annotations

from flask import Blueprint, jsonify

from .. import projects, suites
from ..auth import user_required
from ..extensions import csrf
from ..validation import json_body, parse

bp = Blueprint("api_suites", __name__, url_prefix="/api/v1/projects/<project_id>/suites")
csrf.exempt(bp)


@bp.post("")
@user_required
def create(project_id, user):
    project = projects.get(project_id)
    body = parse(suites.NewSuite, json_body())
    return jsonify(suites.serialize(suites.create(project, body.name, body.test_ids))), 201


@bp.get("")
@user_required
def list_suites(project_id, user):
    return jsonify([suites.serialize(s) for s in suites.list_for(projects.get(project_id))])


@bp.get("/<suite_id>")
@user_required
def read(project_id, suite_id, user):
    return jsonify(suites.serialize(suites.get(projects.get(project_id), suite_id)))


@bp.patch("/<suite_id>")
@user_required
def rename(project_id, suite_id, user):
    suite = suites.get(projects.get(project_id), suite_id)
    body = parse(suites.SuiteName, json_body())
    return jsonify(suites.serialize(suites.rename(suite, body.name)))


@bp.delete("/<suite_id>")
@user_required
def remove(project_id, suite_id, user):
    suites.delete_suite(suites.get(projects.get(project_id), suite_id), actor=user)
    return jsonify(ok=True)


@bp.post("/<suite_id>/tests")
@user_required
def add_tests(project_id, suite_id, user):
    project = projects.get(project_id)
    suite = suites.get(project, suite_id)
    body = parse(suites.SuiteTests, json_body())
    return jsonify(suites.serialize(suites.add_tests(project, suite, body.test_ids)))


@bp.delete("/<suite_id>/tests/<test_id>")
@user_required
def remove_test(project_id, suite_id, test_id, user):
    project = projects.get(project_id)
    suite = suites.get(project, suite_id)
    return jsonify(suites.serialize(suites.remove_tests(project, suite, [test_id])))
