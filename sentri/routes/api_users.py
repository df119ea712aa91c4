"""User administration over the JSON API (admins only): reset another user's password."""

from __future__ import annotations

from flask import Blueprint, jsonify
from pydantic import Field

from .. import users
from ..auth import keep_session, user_required
from ..extensions import csrf
from ..validation import Body, json_body, parse

bp = Blueprint("api_users", __name__, url_prefix="/api/v1/users")
csrf.exempt(bp)


class PasswordReset(Body):
    new_password: str = Field(alias="newPassword", min_length=1, max_length=1024)


@bp.post("/<user_id>/password")
@user_required
def reset_password(user_id, user):
    users.require_admin(user)  # before the lookup: a member cannot probe which ids exist
    target = users.get_user(user_id)
    body = parse(PasswordReset, json_body())
    users.set_password(target, body.new_password, actor=user)
    keep_session(target)
    return jsonify(ok=True)
