"""Trigger tokens of a project over the JSON API (user auth; creating and revoking need admin)."""

from __future__ import annotations

from flask import Blueprint, jsonify

from .. import projects, tokens
from ..auth import user_required
from ..extensions import csrf
from ..models import isoformat
from ..validation import json_body, parse

bp = Blueprint("api_tokens", __name__, url_prefix="/api/v1/projects/<project_id>/trigger-tokens")
csrf.exempt(bp)


@bp.get("")
@user_required
def list_tokens(project_id, user):
    project = projects.get(project_id)
    return jsonify([tokens.serialize(t) for t in tokens.list_for(project)])


@bp.post("")
@user_required
def create(project_id, user):
    project = projects.get(project_id)
    body = parse(tokens.NewToken, json_body(), empty_ok=True)
    token, plaintext = tokens.create(
        project, label=body.label, expires_in_days=body.expires_in_days, actor=user
    )
    return (
        jsonify(
            id=token.public_id,
            token=plaintext,
            label=token.label,
            prefix=token.prefix,
            createdAt=isoformat(token.created_at),
            expiresAt=isoformat(token.expires_at),
        ),
        201,
    )


@bp.delete("/<token_id>")
@user_required
def revoke(project_id, token_id, user):
    project = projects.get(project_id)
    tokens.revoke(tokens.get_in_project(project, token_id), actor=user)
    return jsonify(ok=True)
