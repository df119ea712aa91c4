"""Fixtures: an app on a fresh instance folder (migrated for real), its client and CLI runner,
users with API tokens, a PostgreSQL variant when SENTRI_TEST_DATABASE_URL is set, and a live server."""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from sqlalchemy import text

from sentri import create_app
from sentri.runtime import runtime
from tests.support.pages import admin, member, shop  # noqa: F401 - page clients every module may use

PG_URL = os.environ.get("SENTRI_TEST_DATABASE_URL")
# Tests that must hold on both databases take `database` through this mark.
DATABASES = ["sqlite"] + (["postgresql"] if PG_URL else [])
both_databases = pytest.mark.parametrize("database", DATABASES, indirect=True)


def _pg_admin_connect():
    import psycopg

    parts = urlsplit(PG_URL)
    return psycopg.connect(urlunsplit(parts._replace(scheme="postgresql")), autocommit=True)


def pytest_collection_modifyitems(items):
    """A test that takes a module's `browser` fixture (a Chromium of its own) is a browser test."""
    for item in items:
        if "browser" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.browser)


# Settings every test app starts with; SentriProcess (tests/support/server.py) gives real servers the same.
TEST_CONFIG = {
    "TESTING": True,
    "SENTRI_SECRET_KEY": "test-secret-key-not-for-production",
    "RATELIMIT_ENABLED": False,
    "SENTRI_DEMO": False,
    # Failing steps in tests fail fast; one warm browser per app is plenty.
    "SENTRI_STEP_TIMEOUT_MS": 3000,
    "SENTRI_MAX_BROWSERS": 1,
    # No test ever reaches api.github.com: tests that post start a fake GitHub on loopback.
    "SENTRI_GITHUB_API_URL": "http://127.0.0.1:9",
    # scrypt costs ~60 ms a hash; what tests prove of passwords holds for any method (test_passwords
    # checks the production default).
    "SENTRI_PASSWORD_HASH": "pbkdf2:sha256:1",
}


def _migrate(instance: Path, database_url: str | None = None) -> None:
    from flask_migrate import upgrade

    from sentri.extensions import db

    app = create_app(
        {
            **TEST_CONFIG,
            "SENTRI_INSTANCE_PATH": str(instance),
            **({"SENTRI_DATABASE_URL": database_url} if database_url else {}),
        }
    )
    with app.app_context():
        upgrade()
        if database_url is None:
            db.session.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
        db.session.remove()
        db.engine.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    """A SQLite database migrated once per test process: each test's instance starts from a copy of it."""
    instance = tmp_path_factory.mktemp("template-instance")
    _migrate(instance)
    return instance / "sentri.db"


@pytest.fixture(scope="session")
def pg_template(worker_id):
    """A PostgreSQL database migrated once per test process, the template of every test's own database."""
    if not PG_URL:
        yield None
        return
    name = f"sentri_tpl_{worker_id}_{uuid.uuid4().hex[:8]}"
    with _pg_admin_connect() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    _migrate(Path(tempfile.mkdtemp(prefix="sentri-pg-template-")), _pg_url(name))
    yield name
    with _pg_admin_connect() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _pg_url(name: str) -> str:
    return urlunsplit(urlsplit(PG_URL)._replace(path=f"/{name}"))


@pytest.fixture
def database(request):
    """Yield a database URL: None for the instance's SQLite file, or a fresh PostgreSQL database already
    migrated (a copy of the template: CREATE DATABASE ... TEMPLATE)."""
    kind = getattr(request, "param", "sqlite")
    if kind == "sqlite":
        yield None
        return
    template = request.getfixturevalue("pg_template")
    name = f"sentri_t_{uuid.uuid4().hex[:12]}"
    with _pg_admin_connect() as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    yield _pg_url(name)
    with _pg_admin_connect() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _start_on_wake(engine) -> None:
    """Let the engine start itself on the first wake(), as a serving process's engine is already started:
    a test marked `browser` runs the runs it starts, and pays for Chromium only when it does."""
    signal = engine.wake

    def wake() -> None:
        if not engine.stopping:
            engine.start()
        signal()

    engine.wake = wake


@pytest.fixture
def app_factory(request, tmp_path, database, sqlite_template):
    """Return a function that builds an app on this test's instance folder, its database migrated (a copy
    of the migrated template). In a test marked `browser`, the app's engine starts on its first wake();
    elsewhere runs stay queued (no browser is ever launched)."""
    made = []
    browser = request.node.get_closest_marker("browser") is not None

    def make(**overrides):
        instance = tmp_path / "instance"
        config = {**TEST_CONFIG, "SENTRI_INSTANCE_PATH": str(instance)}
        if database:
            config["SENTRI_DATABASE_URL"] = database
        config.update(overrides)
        if not database and not config.get("SENTRI_DATABASE_URL") and not (instance / "sentri.db").exists():
            instance.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(sqlite_template, instance / "sentri.db")
        app = create_app(config)
        # A run's end prunes artifacts in the background at most hourly: tests that prune call prune() when they
        # mean to, and no test's folders change under it because another run of its own ended.
        runtime(app).hooks.pruner.last = time.monotonic()
        if browser:
            _start_on_wake(runtime(app).engine)
        made.append(app)
        return app

    yield make
    from sentri.extensions import db

    for app in made:
        runtime(app).stop(0)  # as the server stops: callback threads end too instead of idling on
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def _refuse(marker: str, what: str):
    def refuse(*_args, **_kwargs):
        raise RuntimeError(
            f"this test {what}: mark it @pytest.mark.{marker} (make test-fast leaves such tests out)"
        )

    return refuse


@pytest.fixture(autouse=True)
def _pays_only_for_its_marks(request, monkeypatch):
    """The tiers hold by construction: a test not marked `browser` cannot launch Chromium or start an engine,
    and one not marked `e2e` cannot start a Sentri process."""
    if request.node.get_closest_marker("browser") is None:
        refuse = _refuse("browser", "launches a browser")
        monkeypatch.setattr("sentri.worker.engine.RunEngine.start", refuse)
        monkeypatch.setattr("sentri.worker.browser_set.launch_chromium", refuse)
    if request.node.get_closest_marker("e2e") is None:
        monkeypatch.setattr(
            "tests.support.server.SentriProcess.start", _refuse("e2e", "starts a Sentri process")
        )


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

    def do_GET(self):
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
def junit_xsd():
    """Jenkins' JUnit schema (from SENTRI_SHARED_DIR), looked up before the test pays for a run."""
    from tests.support.shared import junit_schema

    return junit_schema()


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

    def do_POST(self):
        length = int(self.headers.get("Content-Length", 0))
        self.server.received.append(
            {"path": self.path, "headers": dict(self.headers), "body": self.rfile.read(length)}
        )
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
