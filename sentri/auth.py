"""User authentication for the API and pages: a session cookie (with CSRF) or a JWT bearer token."""

from __future__ import annotations

import functools
from datetime import timedelta

import jwt
from flask import current_app, g, request, session
from flask_wtf.csrf import CSRFError

from . import bearer
from .errors import Forbidden, Unauthorized
from .extensions import csrf, db
from .models import User, isoformat, utcnow
from .settings import settings

JWT_ALGORITHM = "HS256"
JWT_AUDIENCE = "sentri-api"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# The user's credentials version, in JWT claims and in the session: a password change bumps it, and
# whatever carries an older one stops working. Absent (issued before versions existed) counts as 0.
VERSION_CLAIM = "cv"


def issue_jwt(user: User) -> tuple[str, str]:
    """Return a signed API token for the user and its expiry (ISO 8601)."""
    now = utcnow()
    expires = now + timedelta(hours=settings().jwt_ttl_hours)
    claims = {
        "sub": user.public_id,
        "aud": JWT_AUDIENCE,
        "iat": now,
        "exp": expires,
        VERSION_CLAIM: user.credentials_version,
    }
    return jwt.encode(claims, current_app.config["SECRET_KEY"], algorithm=JWT_ALGORITHM), isoformat(expires)


def _user_from_jwt(value: str) -> User:
    if bearer.trigger_token(value) is not None:
        raise Unauthorized("Trigger tokens only authenticate a project's trigger and run-status endpoints.")
    try:
        claims = jwt.decode(
            value,
            current_app.config["SECRET_KEY"],
            algorithms=[JWT_ALGORITHM],
            audience=JWT_AUDIENCE,
            options={"require": ["sub", "exp", "aud"]},
        )
    except jwt.ExpiredSignatureError:
        raise Unauthorized("The API token has expired; log in again.") from None
    except jwt.InvalidTokenError:
        raise Unauthorized("Invalid API token.") from None
    user = _active_user(claims["sub"])
    if user is None:
        raise Unauthorized("Invalid API token.")
    if claims.get(VERSION_CLAIM, 0) != user.credentials_version:
        raise Unauthorized("The password changed after this API token was issued; log in again.")
    return user


def _active_user(public_id: str) -> User | None:
    key = User.key_of(public_id)
    user = db.session.get(User, key) if key else None
    return user if user is not None and user.active else None


def current_user() -> User | None:
    """Return the user logged in by session cookie, or None (pages use this; no CSRF check here)."""
    if "user" not in g:
        uid = session.get("uid")
        user = _active_user(uid) if uid else None
        if user is not None and session.get(VERSION_CLAIM, 0) != user.credentials_version:
            session.clear()  # a session from before a password change: logged out
            user = None
        g.user = user
    return g.user


def authenticate_request() -> User:
    """Return the user behind this API request or raise 401; cookie-authenticated writes need CSRF."""
    header = request.headers.get("Authorization")
    if header is not None:
        return _user_from_jwt(bearer.credential(header, what="token"))
    user = current_user()
    if user is None:
        raise Unauthorized("Log in first: send 'Authorization: Bearer <token>' from POST /api/v1/auth/login.")
    if request.method not in SAFE_METHODS:
        try:
            csrf.protect()
        except CSRFError as exc:
            raise Forbidden(f"CSRF check failed: {exc.description}") from None
    return user


def user_required(view):
    """Require a logged-in user (cookie or JWT) and pass it to the view as `user`."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        return view(*args, user=authenticate_request(), **kwargs)

    return wrapper


def log_in(user: User) -> None:
    """Start a browser session for the user (a fresh session, so a planted cookie is not reused)."""
    session.clear()
    session["uid"] = user.public_id
    session[VERSION_CLAIM] = user.credentials_version
    session.permanent = True


def keep_session(user: User) -> None:
    """After the user's own password change, keep this browser's session (if it is theirs) logged in."""
    if session.get("uid") == user.public_id:
        session[VERSION_CLAIM] = user.credentials_version


def log_out() -> None:
    """End the browser session."""
    session.clear()
