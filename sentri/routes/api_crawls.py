"""Crawls of a project over the JSON API (user auth): ask for one (its drafts go to the review queue),
follow its progress, read its pages, site map and diff, stop it."""

from __future__ import annotations

from flask import Blueprint, jsonify, url_for

from .. import projects
from ..auth import user_required
from ..crawl.report import serialize
from ..crawl.settings import CrawlRequest
from ..extensions import csrf
from ..queue import crawls
from ..runtime import runtime
from ..validation import json_body, parse

bp = Blueprint("api_crawls", __name__, url_prefix="/api/v1/projects/<project_id>/crawls")
csrf.exempt(bp)


@bp.post("")
@user_required
def create(project_id, user):
    project = projects.get(project_id)
    body = parse(CrawlRequest, json_body(), empty_ok=True)
    crawl = crawls.request(project, body, triggered_by=user.public_id)
    runtime().engine.wake()
    status_url = url_for("api_crawls.read", project_id=project.public_id, crawl_id=crawl.public_id)
    return jsonify({**serialize(crawl), "statusUrl": status_url}), 202


@bp.get("")
@user_required
def list_crawls(project_id, user):
    return jsonify([serialize(crawl) for crawl in crawls.list_for(projects.get(project_id))])


@bp.get("/<crawl_id>")
@user_required
def read(project_id, crawl_id, user):
    return jsonify(serialize(crawls.get(projects.get(project_id), crawl_id), detail=True))


@bp.post("/<crawl_id>/stop")
@user_required
def stop(project_id, crawl_id, user):
    crawl = crawls.get(projects.get(project_id), crawl_id)
    crawls.stop(crawl)
    return jsonify(serialize(crawls.get(projects.get(project_id), crawl_id)))
