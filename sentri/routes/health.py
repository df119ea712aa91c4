"""GET /healthz (liveness: the database answers), GET /health (the database, the queue, the browser
servers: their addresses and errors only to users and the metrics token) and GET /metrics (Prometheus, when SENTRI_METRICS is on)."""

from __future__ import annotations

import hmac

from flask import Blueprint, Response, current_app, jsonify, request
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from .. import bearer, metrics, monitoring
from ..auth import authenticate_request
from ..errors import SentriError, Unauthorized, error_response
from ..extensions import db
from ..settings import settings

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    try:
        db.session.execute(text("SELECT 1"))
    except SQLAlchemyError:
        current_app.logger.exception("health check: database did not answer")
        return jsonify(status="error", error="The database did not answer."), 503
    return jsonify(status="ok")


@bp.get("/health")
def health():
    body, status = monitoring.health()
    if not _may_see_details():
        # Browser servers take commands from anyone who reaches them: a stranger learns their state, never
        # their addresses or errors (which name hosts and ports).
        body["browserServers"] = [
            {**row, "endpoint": f"server {index}", "error": None} if row.get("endpoint") != "local" else row
            for index, row in enumerate(body["browserServers"], start=1)
        ]
    return jsonify(body), status


def _may_see_details() -> bool:
    """A signed-in user (session or JWT), or the holder of SENTRI_METRICS_TOKEN."""
    header = request.headers.get("Authorization")
    expected = settings().metrics_token
    if header and expected and hmac.compare_digest(header.encode(), f"Bearer {expected}".encode()):
        return True
    try:
        authenticate_request()
    except SentriError:
        return False
    return True


@bp.get("/metrics")
def prometheus_metrics():
    # Not under /api/, so the app's error handler would answer a browser with a page: answer JSON here.
    if not settings().metrics:
        return error_response("Metrics are off: set SENTRI_METRICS=true to serve them.", 404)
    expected = settings().metrics_token
    if expected:
        try:
            given = bearer.credential(request.headers.get("Authorization"), what="metrics token")
        except Unauthorized as exc:
            return error_response(exc.message, 401)
        if not hmac.compare_digest(given.encode(), expected.encode()):
            return error_response("The metrics token is not valid.", 401)
    body, content_type = metrics.exposition(request.headers.get("Accept"), [monitoring.ScrapeCollector()])
    return Response(body, content_type=content_type)
