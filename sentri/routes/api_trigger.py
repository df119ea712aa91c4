"""The Sentri CI surface: POST a project's trigger and poll a run's status with its trigger token."""

from __future__ import annotations

from flask import Blueprint, jsonify, request, url_for

from .. import tokens
from ..extensions import csrf, limiter
from ..settings import settings
from . import triggering
from .helpers import public_base

bp = Blueprint("api_trigger", __name__, url_prefix="/api/v1/projects/<project_id>/trigger")
# Bearer-token endpoints: no cookie, nothing for CSRF to protect.
csrf.exempt(bp)


def trigger_limit() -> str:
    return settings().trigger_rate_limit


@bp.post("")
@limiter.limit(trigger_limit, scope="trigger")
def trigger(project_id):
    token, project = tokens.authenticate(request.headers.get("Authorization"), project_id)
    run, options = triggering.start(token, project, "sentri")
    status_url = public_base() + url_for(
        "api_trigger.status", project_id=project.public_id, run_id=run.public_id
    )
    if options.wait:
        return triggering.wait_and_answer(run, status_url, triggering.status_body)
    return jsonify(runId=run.public_id, statusUrl=status_url), 202


@bp.get("/runs/<run_id>")
@limiter.shared_limit(triggering.api_limit, scope="api-status", key_func=triggering.token_key)
def status(project_id, run_id):
    token, run = triggering.polled_run(project_id)  # one query, already made by the rate limiter's key
    body = triggering.status_body(run)
    tokens.touch(token, min_interval=tokens.LAST_USED_STATUS_INTERVAL)
    return jsonify(body)
