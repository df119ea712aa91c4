"""The CI surface: POST a trigger and poll a run's status with a project-scoped trigger token."""

from __future__ import annotations

import json

from flask import Blueprint, current_app, jsonify, request, url_for

from .. import runs, tokens
from ..errors import ValidationFailed
from ..extensions import csrf, limiter
from ..notify import run_url

bp = Blueprint("api_trigger", __name__, url_prefix="/api/v1/projects/<project_id>/trigger")
# Bearer-token endpoints: no cookie, nothing for CSRF to protect.
csrf.exempt(bp)


def trigger_limit() -> str:
    return current_app.config["SENTRI_TRIGGER_RATE_LIMIT"]


def public_base() -> str:
    """Return the server's public base URL: SENTRI_PUBLIC_URL, else this request's scheme and host."""
    configured = current_app.config.get("SENTRI_PUBLIC_URL")
    return (configured or request.host_url).rstrip("/")


def engine():
    return current_app.extensions["sentri_engine"]


def json_body() -> object | None:
    """Return the decoded JSON body, None when the body is empty, or raise 400."""
    raw = request.get_data(cache=True)
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except ValueError:
        raise ValidationFailed("The request body must be a JSON object.") from None


@bp.post("")
@limiter.limit(trigger_limit, scope="trigger")
def trigger(project_id):
    token, project = tokens.authenticate(request.headers.get("Authorization"), project_id)
    options = runs.parse_options(json_body())
    options.extra["publicUrl"] = public_base()
    run = runs.start(project, options, source="token", triggered_by=token.public_id)
    tokens.touch(token)
    engine().submit(run.id)
    status_url = public_base() + url_for("api_trigger.status", project_id=project.public_id, run_id=run.public_id)
    return jsonify(runId=run.public_id, statusUrl=status_url), 202


@bp.get("/runs/<run_id>")
def status(project_id, run_id):
    token, project = tokens.authenticate(request.headers.get("Authorization"), project_id)
    run = runs.get_in_project(project, run_id)
    body = runs.status_payload(run, run_url(current_app, run))
    tokens.touch(token, min_interval=tokens.LAST_USED_STATUS_INTERVAL)
    return jsonify(body)
