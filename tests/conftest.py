"""Fixtures: an app on a fresh instance folder (migrated for real), its client and CLI runner,
users with API tokens, a PostgreSQL variant when SENTRI_TEST_DATABASE_URL is set, and a live server."""

from __future__ import annotations

import os
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
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
            # Failing steps in tests fail fast; one warm browser per app is plenty.
            "SENTRI_STEP_TIMEOUT_MS": 3000,
            "SENTRI_MAX_BROWSERS": 1,
            # No test ever reaches api.github.com: tests that post start a fake GitHub on loopback.
            "SENTRI_GITHUB_API_URL": "http://127.0.0.1:9",
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
        app.extensions["sentri_engine"].shutdown(0)
        app.extensions["sentri_hooks"].shutdown(0)  # its callback threads end instead of idling on
        app.extensions["sentri_github"].shutdown()
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


class _Site(ThreadingHTTPServer):
    daemon_threads = True


class _SitePages(BaseHTTPRequestHandler):
    """Pages for run tests: /ok, /slow (answers after 350 ms), /flaky/<key> (fails the first visit per
    key), /fail."""

    def log_message(self, *_args):
        pass

    def do_GET(self):  # noqa: N802 (http.server's name)
        path = self.path.split("?")[0]
        if path.startswith("/flaky/"):
            seen = self.server.visits.setdefault(path, 0)
            self.server.visits[path] = seen + 1
            title = "Flaky OK" if seen else "Not yet"
        elif path == "/fail":
            title = "Something else"
        elif path == "/control":
            title = "Bell\x01here"
        elif path == "/slow":
            time.sleep(0.35)
            title = "OK"
        else:
            title = "OK"
        body = f"<!doctype html><html><head><title>{title}</title></head><body><h1>{title}</h1></body></html>"
        data = body.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def site():
    """A fixture website on a free loopback port; yields its base URL."""
    server = _Site(("127.0.0.1", 0), _SitePages)
    server.visits = {}
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


class _Sink(BaseHTTPRequestHandler):
    def log_message(self, *_args):
        pass

    def do_POST(self):  # noqa: N802
        length = int(self.headers.get("Content-Length", 0))
        self.server.received.append({"path": self.path, "headers": dict(self.headers), "body": self.rfile.read(length)})
        self.send_response(204)
        self.end_headers()
        self.server.arrived.set()


@pytest.fixture
def sink():
    """A callback sink on a free loopback port: `.url`, `.received` (list), `.wait(n)`."""
    server = _Site(("127.0.0.1", 0), _Sink)
    server.received = []
    server.arrived = threading.Event()

    def wait(count=1, timeout=30.0):
        deadline = time.monotonic() + timeout
        while len(server.received) < count and time.monotonic() < deadline:
            server.arrived.wait(0.1)
            server.arrived.clear()
        return server.received

    server.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    server.wait = wait
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
