"""POST /api/v1/auth/login: email + password -> JWT for API clients; POST /api/v1/auth/password: change
one's own password (and get a fresh JWT: every older one stops working)."""

from __future__ import annotations

from flask import Blueprint, jsonify

from .. import users
from ..auth import issue_jwt, keep_session, user_required
from ..errors import Unauthorized
from ..extensions import csrf, limiter
from ..settings import settings
from ..validation import json_body, parse

bp = Blueprint("api_auth", __name__, url_prefix="/api/v1/auth")
# A JSON login carries no cookie to protect; it is rate limited instead.
csrf.exempt(bp)


def login_limit() -> str:
    return settings().login_rate_limit


@bp.post("/login")
@limiter.shared_limit(login_limit, scope="login")
def login():
    body = parse(users.Login, json_body())
    user = users.authenticate(body.email, body.password)
    if user is None:
        raise Unauthorized("Wrong email or password.")
    token, expires_at = issue_jwt(user)
    return jsonify(token=token, expiresAt=expires_at, user=users.serialize(user))


@bp.get("/me")
@user_required
def me(user):
    return jsonify(users.serialize(user))


@bp.post("/password")
# It checks a password, so it shares the login throttle: a stolen token cannot guess the current one.
@limiter.shared_limit(login_limit, scope="login")
@user_required
def change_password(user):
    body = parse(users.PasswordChange, json_body())
    users.change_password(user, body.current_password, body.new_password)
    keep_session(user)
    token, expires_at = issue_jwt(user)
    return jsonify(ok=True, token=token, expiresAt=expires_at)
