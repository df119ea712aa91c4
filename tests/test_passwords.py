"""Passwords: a user changes their own (API and account page), an admin resets another's (API, users
page, CLI), and every session and API token from before the change stops working."""

from __future__ import annotations

import re
from datetime import timedelta

import jwt
import pytest

from sentri import users
from sentri.models import utcnow
from tests.conftest import both_databases

OLD = "correct horse battery"
NEW = "a brand new passphrase"


def _login(client, email="ada@example.com", password=OLD):
    return client.post("/api/v1/auth/login", json={"email": email, "password": password})


def _bearer(token):
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def ada(app):
    with app.app_context():
        return users.create_user("ada@example.com", OLD).public_id


def _csrf(html):
    return re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', html).group(1)


def _browser(app, email="ada@example.com", password=OLD):
    """A test client logged in through the login form."""
    client = app.test_client()
    token = _csrf(client.get("/login").get_data(as_text=True))
    assert (
        client.post("/login", data={"email": email, "password": password, "csrf_token": token}).status_code
        == 302
    )
    return client


@both_databases
def test_a_user_changes_their_password_over_the_api_and_older_tokens_die(client, ada):
    old_token = _login(client).get_json()["token"]
    path = "/api/v1/auth/password"
    wrong = client.post(
        path, json={"currentPassword": "not it at all", "newPassword": NEW}, headers=_bearer(old_token)
    )
    assert wrong.status_code == 400 and wrong.get_json()["error"].startswith("currentPassword:")
    short = client.post(
        path, json={"currentPassword": OLD, "newPassword": "short"}, headers=_bearer(old_token)
    )
    assert short.status_code == 400 and short.get_json()["error"].startswith("newPassword:")
    missing = client.post(path, json={"newPassword": NEW}, headers=_bearer(old_token))
    assert missing.status_code == 400 and "currentPassword" in missing.get_json()["error"]
    assert client.post(path, json={"currentPassword": OLD, "newPassword": NEW}).status_code == 401
    # Nothing changed so far.
    assert client.get("/api/v1/auth/me", headers=_bearer(old_token)).status_code == 200

    changed = client.post(path, json={"currentPassword": OLD, "newPassword": NEW}, headers=_bearer(old_token))
    assert changed.status_code == 200
    body = changed.get_json()
    assert body["ok"] is True and body["expiresAt"] and body["token"] != old_token
    assert client.get("/api/v1/auth/me", headers=_bearer(body["token"])).get_json()["id"] == ada
    stale = client.get("/api/v1/auth/me", headers=_bearer(old_token))
    assert stale.status_code == 401 and "log in again" in stale.get_json()["error"]
    assert _login(client).status_code == 401
    assert _login(client, password=NEW).status_code == 200


def test_a_token_issued_before_credential_versions_existed_dies_with_the_first_change(app, client, ada):
    legacy = jwt.encode(
        {"sub": ada, "aud": "sentri-api", "iat": utcnow(), "exp": utcnow() + timedelta(hours=1)},
        app.config["SECRET_KEY"],
        algorithm="HS256",
    )
    assert client.get("/api/v1/auth/me", headers=_bearer(legacy)).status_code == 200
    with app.app_context():
        users.change_password(users.get_user(ada), OLD, NEW)
    assert client.get("/api/v1/auth/me", headers=_bearer(legacy)).status_code == 401


def test_the_account_page_changes_the_password_and_logs_out_other_sessions(app, ada):
    here, elsewhere = _browser(app), _browser(app)
    assert 'href="/account"' in here.get("/projects").get_data(as_text=True)
    page = here.get("/account").get_data(as_text=True)
    token = _csrf(page)
    form = {"csrf_token": token, "current_password": OLD, "new_password": NEW, "confirm": NEW}

    wrong = here.post("/account", data={**form, "current_password": "not it at all"})
    assert wrong.status_code == 400 and "Does not match your current password" in wrong.get_data(as_text=True)
    short = here.post("/account", data={**form, "new_password": "short", "confirm": "short"})
    assert short.status_code == 400 and "Must be at least 8 characters" in short.get_data(as_text=True)
    mismatch = here.post("/account", data={**form, "confirm": NEW + "!"})
    assert mismatch.status_code == 400 and "Must be the same as the new password" in mismatch.get_data(
        as_text=True
    )
    assert here.post("/account", data={**form, "csrf_token": "forged"}).status_code == 400
    assert elsewhere.get("/projects").status_code == 200  # nothing changed yet

    done = here.post("/account", data=form)
    assert done.status_code == 302 and done.headers["Location"].endswith("/account")
    assert "Password changed" in here.get("/account").get_data(as_text=True)
    assert here.get("/projects").status_code == 200  # this browser stays logged in
    gone = elsewhere.get("/projects")
    assert gone.status_code == 302 and "/login" in gone.headers["Location"]
    assert elsewhere.get("/api/v1/auth/me").status_code == 401
    _browser(app, password=NEW)  # the new password logs in


def test_an_admin_resets_a_password_over_the_api(app, client, ada, admin_headers, member_headers):
    ada_token = _login(client).get_json()["token"]
    path = f"/api/v1/users/{ada}/password"
    refused = client.post(path, json={"newPassword": NEW}, headers=member_headers)
    assert refused.status_code == 403 and "admin" in refused.get_json()["error"]
    assert (
        client.post(
            "/api/v1/users/USR-999/password", json={"newPassword": NEW}, headers=member_headers
        ).status_code
        == 403
    )  # a member cannot probe ids
    assert (
        client.post(
            "/api/v1/users/USR-999/password", json={"newPassword": NEW}, headers=admin_headers
        ).status_code
        == 404
    )
    short = client.post(path, json={"newPassword": "short"}, headers=admin_headers)
    assert short.status_code == 400 and short.get_json()["error"].startswith("newPassword:")
    assert client.post(path, json={"password": NEW}, headers=admin_headers).status_code == 400
    assert client.post(path, json={"newPassword": NEW}).status_code == 401
    assert client.get("/api/v1/auth/me", headers=_bearer(ada_token)).status_code == 200

    reset = client.post(path, json={"newPassword": NEW}, headers=admin_headers)
    assert reset.status_code == 200 and reset.get_json() == {"ok": True}
    assert client.get("/api/v1/auth/me", headers=_bearer(ada_token)).status_code == 401
    assert _login(client).status_code == 401 and _login(client, password=NEW).status_code == 200


def test_an_admin_resets_a_password_on_the_users_page(app, ada):
    with app.app_context():
        users.create_user("root@example.com", OLD, role="admin")
    admin, member, ada_browser = _browser(app, "root@example.com"), _browser(app), _browser(app)
    page = admin.get("/users").get_data(as_text=True)
    assert f'id="password-{ada}"' in page
    token = _csrf(page)
    short = admin.post(
        f"/users/{ada}", data={"csrf_token": token, "action": "password", "newPassword": "short"}
    )
    assert short.status_code == 302 and "must be at least 8 characters" in admin.get("/users").get_data(
        as_text=True
    )
    member_token = _csrf(member.get("/projects").get_data(as_text=True))
    assert (
        member.post(
            f"/users/{ada}", data={"csrf_token": member_token, "action": "password", "newPassword": NEW}
        ).status_code
        == 403
    )
    assert ada_browser.get("/projects").status_code == 200

    done = admin.post(f"/users/{ada}", data={"csrf_token": token, "action": "password", "newPassword": NEW})
    assert done.status_code == 302
    assert "Password of ada@example.com changed" in admin.get("/users").get_data(as_text=True)
    assert ada_browser.get("/projects").status_code == 302  # logged out
    assert _login(app.test_client(), password=NEW).status_code == 200


def test_cli_sets_a_password_given_or_prompted(app, runner, ada):
    old_token = _login(app.test_client()).get_json()["token"]
    given = runner.invoke(args=["users", "set-password", "ADA@example.com", "--password", NEW])
    assert given.exit_code == 0, given.output
    assert given.output.strip().splitlines()[-1] == ada
    client = app.test_client()
    assert client.get("/api/v1/auth/me", headers=_bearer(old_token)).status_code == 401
    assert _login(client, password=NEW).status_code == 200

    prompted = runner.invoke(
        args=["users", "set-password", "ada@example.com"], input="third passphrase\n" * 2
    )
    assert prompted.exit_code == 0, prompted.output
    assert _login(client, password="third passphrase").status_code == 200

    short = runner.invoke(args=["users", "set-password", "ada@example.com", "--password", "short"])
    assert short.exit_code != 0 and "at least 8 characters" in short.output
    unknown = runner.invoke(args=["users", "set-password", "nobody@example.com", "--password", NEW])
    assert unknown.exit_code != 0 and "nobody@example.com" in unknown.output
    assert _login(client, password="third passphrase").status_code == 200


def test_password_changes_share_the_login_throttle(app_factory):
    app = app_factory(RATELIMIT_ENABLED=True, SENTRI_LOGIN_RATE_LIMIT="3 per minute")
    client = app.test_client()
    with app.app_context():
        users.create_user("ada@example.com", OLD)
    token = _login(client).get_json()["token"]  # the first of three
    guesses = [
        client.post(
            "/api/v1/auth/password",
            json={"currentPassword": f"guess {n}", "newPassword": NEW},
            headers=_bearer(token),
        ).status_code
        for n in range(3)
    ]
    assert guesses == [400, 400, 429]
    # The account form is behind the same budget.
    browser = app.test_client()
    with browser.session_transaction() as session:
        session.update({"uid": "USR-1", "cv": 0})
    page = browser.get("/account")
    assert page.status_code == 200
    assert (
        browser.post(
            "/account",
            data={
                "csrf_token": _csrf(page.get_data(as_text=True)),
                "current_password": OLD,
                "new_password": NEW,
                "confirm": NEW,
            },
        ).status_code
        == 429
    )


def test_passwords_are_hashed_with_scrypt_unless_the_setting_says_otherwise(app_factory):
    """Tests hash cheaply (conftest.TEST_CONFIG); what a real server stores is werkzeug's scrypt."""
    from sentri.config import DEFAULTS

    assert DEFAULTS["SENTRI_PASSWORD_HASH"] == "scrypt"
    app = app_factory(SENTRI_PASSWORD_HASH=DEFAULTS["SENTRI_PASSWORD_HASH"])
    with app.app_context():
        user = users.create_user("ada@example.com", OLD)
        assert user.password_hash.startswith("scrypt:")
        assert users.authenticate("ada@example.com", OLD).id == user.id
        assert users.authenticate("nobody@example.com", OLD) is None  # checked against a dummy scrypt hash


def test_a_password_hash_setting_werkzeug_cannot_use_stops_the_start(app_factory):
    from sentri.config import ConfigError

    with pytest.raises(ConfigError, match="SENTRI_PASSWORD_HASH='md5' is not valid"):
        app_factory(SENTRI_PASSWORD_HASH="md5")
