"""GET /healthz (liveness: the database answers), GET /health (the database, the queue, the browser
servers) and GET /metrics (Prometheus, when SENTRI_METRICS is on)."""

from __future__ import annotations

import hmac

from flask import Blueprint, Response, current_app, jsonify, request
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from .. import bearer, metrics, monitoring
from ..errors import Unauthorized, error_response
from ..extensions import db

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
    return jsonify(body), status


@bp.get("/metrics")
def prometheus_metrics():
    # Not under /api/, so the app's error handler would answer a browser with a page: answer JSON here.
    if not current_app.config["SENTRI_METRICS"]:
        return error_response("Metrics are off: set SENTRI_METRICS=true to serve them.", 404)
    expected = current_app.config.get("SENTRI_METRICS_TOKEN")
    if expected:
        try:
            given = bearer.credential(request.headers.get("Authorization"), what="metrics token")
        except Unauthorized as exc:
            return error_response(exc.message, 401)
        if not hmac.compare_digest(given.encode(), expected.encode()):
            return error_response("The metrics token is not valid.", 401)
    body, content_type = metrics.exposition(request.headers.get("Accept"), [monitoring.ScrapeCollector()])
    return Response(body, content_type=content_type)
