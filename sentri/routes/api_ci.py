"""The second CI surface, for pipelines written for AegisRunner: the token names the project.

POST /api/v1/ci/trigger answers {runId, status, runType, url} (plus statusUrl); GET
/api/v1/ci/runs/:runId answers the Sentri status fields with the run's own status (queued too)."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request, url_for

from .. import tokens
from ..extensions import csrf, limiter
from ..models import Run
from ..reports import serialize
from . import triggering
from .api_trigger import trigger_limit
from .helpers import public_base

bp = Blueprint("api_ci", __name__, url_prefix="/api/v1/ci")
csrf.exempt(bp)


def ci_status(run: Run) -> dict:
    """Return the status body of the CI surface: Sentri's fields, with the run's own status."""
    body = triggering.status_body(run)
    body["status"] = run.status
    body["runType"] = "ci"
    body["durationMs"] = int(body["duration"] * 1000) if body["duration"] is not None else None
    return body


@bp.post("/trigger")
@limiter.limit(trigger_limit, scope="trigger")
def trigger():
    token = tokens.authenticate_token(request.headers.get("Authorization"))
    run, options = triggering.start(token, token.project, "ci")
    status_url = public_base() + url_for("api_ci.status", run_id=run.public_id)
    if options.wait:
        return triggering.wait_and_answer(run, status_url, ci_status)
    return jsonify(
        runId=run.public_id,
        status=run.status,
        runType="ci",
        url=serialize.run_url(current_app, run),
        statusUrl=status_url,
    ), 202


@bp.get("/runs/<run_id>")
@limiter.shared_limit(triggering.api_limit, scope="api-status", key_func=triggering.token_key)
def status(run_id):
    token, run = triggering.polled_run()  # one query, already made by the rate limiter's key
    body = ci_status(run)
    tokens.touch(token, min_interval=tokens.LAST_USED_STATUS_INTERVAL)
    return jsonify(body)
