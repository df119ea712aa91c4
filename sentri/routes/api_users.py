"""User administration over the JSON API (admins only): reset another user's password."""

from __future__ import annotations

from flask import Blueprint, jsonify

from .. import users
from ..auth import keep_session, user_required
from ..extensions import csrf
from ..validation import json_body, parse

bp = Blueprint("api_users", __name__, url_prefix="/api/v1/users")
csrf.exempt(bp)


@bp.post("/<user_id>/password")
@user_required
def reset_password(user_id, user):
    users.require_admin(user)  # before the lookup: a member cannot probe which ids exist
    target = users.get_user(user_id)
    body = parse(users.PasswordReset, json_body())
    users.set_password(target, body.new_password, actor=user)
    keep_session(target)
    return jsonify(ok=True)
