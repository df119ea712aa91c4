"""GET /api/v1/openapi.json: the API describes itself (no login needed to read it)."""

from __future__ import annotations

from flask import Blueprint, jsonify

from .. import openapi
from .helpers import public_base

bp = Blueprint("api_openapi", __name__, url_prefix="/api/v1")


@bp.get("/openapi.json")
def description():
    return jsonify(openapi.for_server(public_base()))
