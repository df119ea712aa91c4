"""Accounts and user auth: login to a JWT, the session cookie with CSRF, throttling, and the rule
that a trigger token opens no user endpoint."""

from __future__ import annotations

import re
from datetime import timedelta

import jwt
import pytest

from sentri import users
from sentri.models import utcnow


def test_login_returns_a_jwt_that_opens_user_endpoints(client, app):
    with app.app_context():
        users.create_user("ada@example.com", "correct horse battery")
    response = client.post(
        "/api/v1/auth/login", json={"email": "Ada@Example.com", "password": "correct horse battery"}
    )
    assert response.status_code == 200
    body = response.get_json()
    assert body["expiresAt"].endswith("Z") and body["user"]["email"] == "ada@example.com"
    me = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {body['token']}"})
    assert me.status_code == 200 and me.get_json()["id"] == body["user"]["id"]


@pytest.mark.parametrize(
    ("email", "password"),
    [("ada@example.com", "wrong password"), ("nobody@example.com", "correct horse battery")],
)
def test_wrong_credentials_get_401_without_saying_which_part_was_wrong(client, app, email, password):
    with app.app_context():
        users.create_user("ada@example.com", "correct horse battery")
    response = client.post("/api/v1/auth/login", json={"email": email, "password": password})
    assert response.status_code == 401
    assert response.get_json() == {"error": "Wrong email or password."}


@pytest.mark.parametrize("body", [None, [], {"email": "a@b.c"}, {"email": 1, "password": "x"}, {"e": "x"}])
def test_malformed_login_bodies_get_400(client, body):
    response = (
        client.post("/api/v1/auth/login", json=body)
        if body is not None
        else client.post("/api/v1/auth/login", data="not json", content_type="application/json")
    )
    assert response.status_code == 400
    assert response.get_json()["error"]


def test_a_deactivated_user_is_refused(client, app):
    from sentri.database import write
    from sentri.extensions import db

    with app.app_context():
        user = users.create_user("ada@example.com", "correct horse battery")
        from sentri.auth import issue_jwt

        with app.test_request_context():
            token, _ = issue_jwt(db.session.merge(user))
        with write():
            db.session.merge(user).active = False
    assert client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    response = client.post(
        "/api/v1/auth/login", json={"email": "ada@example.com", "password": "correct horse battery"}
    )
    assert response.status_code == 401


@pytest.mark.parametrize(
    "header",
    ["Bearer", "Basic abc", "Bearer not.a.jwt", "Token x"],
)
def test_bad_authorization_headers_get_401(client, header):
    response = client.get("/api/v1/projects", headers={"Authorization": header})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_expired_and_foreign_jwts_get_401(client, app):
    with app.app_context():
        user = users.create_user("ada@example.com", "correct horse battery")
        public_id = user.public_id
    past = utcnow() - timedelta(hours=1)
    expired = jwt.encode(
        {"sub": public_id, "aud": "sentri-api", "iat": past - timedelta(hours=1), "exp": past},
        app.config["SECRET_KEY"],
        algorithm="HS256",
    )
    forged = jwt.encode(
        {"sub": public_id, "aud": "sentri-api", "exp": utcnow() + timedelta(hours=1)},
        "another-secret-key-of-a-decent-length!",
        algorithm="HS256",
    )
    for token in (expired, forged):
        assert client.get("/api/v1/projects", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_login_is_rate_limited_with_retry_after(app_factory):
    app = app_factory(RATELIMIT_ENABLED=True, SENTRI_LOGIN_RATE_LIMIT="3 per minute")
    client = app.test_client()
    codes = [
        client.post("/api/v1/auth/login", json={"email": "x@example.com", "password": "nope"}).status_code
        for _ in range(3)
    ]
    assert codes == [401, 401, 401]
    limited = client.post("/api/v1/auth/login", json={"email": "x@example.com", "password": "nope"})
    assert limited.status_code == 429
    assert int(limited.headers["Retry-After"]) > 0
    assert "Rate limit" in limited.get_json()["error"]
    # The login page shares the budget: a throttled address cannot switch to the form.
    assert client.post("/login", data={"email": "x@example.com", "password": "nope"}).status_code == 429


# Endpoints a project's trigger token may read besides the trigger surfaces: a run's artifacts.
TOKEN_READABLE = ("junit.xml", "screenshot.png", "trace.zip", "/runs/<run_id>/visual/<sha>.png")


def _user_endpoints(app, token_readable=False):
    """Every /api/v1 rule except the trigger-token surfaces, with each method it answers."""
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/") or rule.rule in (
            "/api/v1/auth/login",
            "/api/v1/openapi.json",
        ):
            continue
        if ("/trigger" in rule.rule and "trigger-tokens" not in rule.rule) or rule.rule.startswith(
            "/api/v1/ci/"
        ):
            continue
        if rule.rule.endswith(TOKEN_READABLE) and not token_readable:
            continue
        path = re.sub(r"<(?:[^:>]+:)?project_id>", "PRJ-1", rule.rule)
        # <any('a', 'b'):name> -> its first choice
        path = re.sub(r"<any\(\s*'?([^,')]+)'?[^)]*\):\w+>", r"\1", path)
        path = re.sub(r"<int(?:\([^)]*\))?:[^>]+>", "1", path)
        path = re.sub(r"<[^>]+>", "X-1", path)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield method, path


def test_a_trigger_token_is_refused_on_every_user_endpoint(client, app, project, admin_headers):
    created = client.post(f"/api/v1/projects/{project['id']}/trigger-tokens", json={}, headers=admin_headers)
    trigger_token = created.get_json()["token"]
    endpoints = list(_user_endpoints(app))
    assert len(endpoints) >= 14
    for method, path in endpoints:
        response = client.open(
            path, method=method, json={}, headers={"Authorization": f"Bearer {trigger_token}"}
        )
        assert response.status_code == 401, (method, path, response.get_json())
        assert "Trigger tokens" in response.get_json()["error"]


def test_every_user_endpoint_needs_auth(client, app):
    for method, path in _user_endpoints(app, token_readable=True):
        response = client.open(path, method=method, json={})
        assert response.status_code == 401, (method, path)
