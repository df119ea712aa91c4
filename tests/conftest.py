"""Fixtures: an app on a fresh instance folder (migrated for real), its client and CLI runner,
users with API tokens, a PostgreSQL variant when SENTRI_TEST_DATABASE_URL is set, and a live server."""

from __future__ import annotations

import os
import threading
import uuid
from urllib.parse import urlsplit, urlunsplit

import pytest

from sentri import create_app

PG_URL = os.environ.get("SENTRI_TEST_DATABASE_URL")
# Tests that must hold on both databases take `database` through this mark.
DATABASES = ["sqlite"] + (["postgresql"] if PG_URL else [])
both_databases = pytest.mark.parametrize("database", DATABASES, indirect=True)


def _pg_admin_connect():
    import psycopg

    parts = urlsplit(PG_URL)
    return psycopg.connect(urlunsplit(parts._replace(scheme="postgresql")), autocommit=True)


@pytest.fixture
def database(request):
    """Yield a database URL: None for the instance's SQLite file, or a fresh PostgreSQL database."""
    kind = getattr(request, "param", "sqlite")
    if kind == "sqlite":
        yield None
        return
    name = f"sentri_t_{uuid.uuid4().hex[:12]}"
    with _pg_admin_connect() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    parts = urlsplit(PG_URL)
    yield urlunsplit(parts._replace(path=f"/{name}"))
    with _pg_admin_connect() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def app_factory(tmp_path, database):
    """Return a function that builds a migrated app on this test's instance folder."""
    from flask_migrate import upgrade

    made = []

    def make(**overrides):
        config = {
            "TESTING": True,
            "SENTRI_INSTANCE_PATH": str(tmp_path / "instance"),
            "SENTRI_SECRET_KEY": "test-secret-key-not-for-production",
            "RATELIMIT_ENABLED": False,
            "SENTRI_DEMO": False,
        }
        if database:
            config["SENTRI_DATABASE_URL"] = database
        config.update(overrides)
        app = create_app(config)
        with app.app_context():
            upgrade()
        made.append(app)
        return app

    yield make
    from sentri.extensions import db

    for app in made:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture
def app(app_factory):
    return app_factory()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


def _make_user(app, email, role):
    from sentri import users
    from sentri.auth import issue_jwt

    with app.test_request_context():
        user = users.create_user(email, "correct horse battery", role=role)
        token, _ = issue_jwt(user)
        return user.public_id, {"Authorization": f"Bearer {token}"}


@pytest.fixture
def admin_headers(app):
    """Authorization headers of an admin user (JWT)."""
    return _make_user(app, "admin@example.com", "admin")[1]


@pytest.fixture
def member_headers(app):
    """Authorization headers of a member user (JWT)."""
    return _make_user(app, "member@example.com", "member")[1]


@pytest.fixture
def project(client, admin_headers):
    """A project created over the API; returns its JSON."""
    response = client.post(
        "/api/v1/projects", json={"name": "Shop", "baseUrl": "http://127.0.0.1:9/shop"}, headers=admin_headers
    )
    assert response.status_code == 201, response.get_json()
    return response.get_json()


@pytest.fixture
def live_server(app):
    """Serve the app with waitress on a free loopback port in a thread; yield its base URL."""
    from waitress.server import create_server

    server = create_server(app, host="127.0.0.1", port=0, threads=8)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.effective_port}"
    server.close()
    thread.join(timeout=5)
