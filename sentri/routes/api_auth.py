"""POST /api/v1/auth/login: email + password -> JWT for API clients."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify
from pydantic import Field

from .. import users
from ..auth import issue_jwt, user_required
from ..errors import Unauthorized
from ..extensions import csrf, limiter
from ..validation import Body, json_body, parse

bp = Blueprint("api_auth", __name__, url_prefix="/api/v1/auth")
# A JSON login carries no cookie to protect; it is rate limited instead.
csrf.exempt(bp)


class LoginBody(Body):
    email: str = Field(min_length=1, max_length=254)
    password: str = Field(min_length=1, max_length=1024)


def login_limit() -> str:
    return current_app.config["SENTRI_LOGIN_RATE_LIMIT"]


@bp.post("/login")
@limiter.shared_limit(login_limit, scope="login")
def login():
    body = parse(LoginBody, json_body())
    user = users.authenticate(body.email, body.password)
    if user is None:
        raise Unauthorized("Wrong email or password.")
    token, expires_at = issue_jwt(user)
    return jsonify(token=token, expiresAt=expires_at, user=users.serialize(user))


@bp.get("/me")
@user_required
def me(user):
    return jsonify(users.serialize(user))
