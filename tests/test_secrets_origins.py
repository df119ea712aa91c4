"""Secrets stay with their origin: a trigger cannot move a run elsewhere, a step cannot type a secret into
a foreign page, and no file a run writes (nor any API or page body) holds a secret's bytes. Artifacts of
earlier attempts, of deleted projects and of runs that no longer exist do not stay behind."""

from __future__ import annotations

import io
import logging
import os
import re
import time
import zipfile
from pathlib import Path

import pytest

from sentri import artifacts, origins, projects, testcases, tokens
from tests.support import StaticSite

SECRET = "Sup3r-s3cret-staging-pa55word"
LOGIN = """<!doctype html><title>Login</title><h1>Login</h1>
<form method="post" action="/session"><label>User <input id="user" name="user"></label>
<label>Password <input id="password" name="password" type="text"></label>
<button type="submit">Sign in</button></form>"""
WELCOME = "<!doctype html><title>Welcome</title><h1>Welcome</h1>"
PAGES = {"/login": LOGIN, "/session": WELCOME, "/ok": "<!doctype html><title>OK</title><h1>OK</h1>"}


@pytest.fixture
def home():
    with StaticSite(dict(PAGES)) as site:
        yield site


@pytest.fixture
def foreign():
    with StaticSite(dict(PAGES)) as site:  # another port: another origin
        yield site


def _h(token):
    return {"Authorization": f"Bearer {token}"}


def _project(app, client, admin_headers, base_url, tests, *, allowed=None):
    with app.app_context():
        project = projects.create("Secrets", base_url)
        for name, steps in tests.items():
            testcases.review(testcases.create(project, {"name": name, "steps": steps}), "approve")
        _, token = tokens.create(project)
        public_id = project.public_id
    created = client.post(
        f"/api/v1/projects/{public_id}/environments",
        headers=admin_headers,
        json={"name": "staging", "baseUrl": base_url, "secrets": {"PASSWORD": SECRET}},
    )
    assert created.status_code == 201
    if allowed:
        patched = client.patch(
            f"/api/v1/projects/{public_id}", json={"allowedOrigins": allowed}, headers=admin_headers
        )
        assert patched.status_code == 200, patched.get_json()
    return public_id, token


def _run(client, project_id, token, admin_headers, **body) -> dict:
    response = client.post(
        f"/api/v1/projects/{project_id}/trigger",
        headers=_h(token),
        json={"wait": True, "environmentId": "ENV-1", **body},
    )
    assert response.status_code in (200, 422), response.get_json()
    return client.get(f"/api/v1/runs/{response.get_json()['runId']}", headers=admin_headers).get_json()


# -- allowedOrigins ------------------------------------------------------------------------------------


def test_allowed_origins_are_validated_admin_only_and_listed(client, project, admin_headers, member_headers):
    url = f"/api/v1/projects/{project['id']}"
    assert client.get(url, headers=admin_headers).get_json()["allowedOrigins"] == []
    for bad in (
        ["ftp://x.example"],
        ["https://x.example/path"],
        ["https://*.com"],
        ["https://*"],
        "https://x.y",
        [""],
        [7],
    ):
        response = client.patch(url, json={"allowedOrigins": bad}, headers=admin_headers)
        assert response.status_code == 400 and response.get_json()["error"].startswith("allowedOrigins"), bad
    refused = client.patch(
        url, json={"allowedOrigins": ["https://staging.example.com"]}, headers=member_headers
    )
    assert refused.status_code == 403
    saved = client.patch(
        url,
        headers=admin_headers,
        json={"allowedOrigins": ["HTTPS://Staging.Example.com/", "https://pr-*.preview.example.com"]},
    )
    assert saved.get_json()["allowedOrigins"] == [
        "https://staging.example.com",
        "https://pr-*.preview.example.com",
    ]
    assert client.patch(url, json={"name": "Renamed"}, headers=member_headers).status_code == 200  # untouched
    assert (
        client.get(url, headers=member_headers).get_json()["allowedOrigins"][0]
        == "https://staging.example.com"
    )
    cleared = client.patch(url, json={"allowedOrigins": None}, headers=admin_headers)
    assert cleared.get_json()["allowedOrigins"] == []


def test_allowed_origin_patterns_match_one_label_and_the_exact_port():
    trusted = origins.TrustedOrigins(["http://127.0.0.1:8000/shop"], ["https://pr-*.preview.example.com"])
    assert trusted.allows("http://127.0.0.1:8000/other/path")
    assert trusted.allows("https://pr-42.preview.example.com/login")
    for url in (
        "http://127.0.0.1:8001/shop",
        "https://127.0.0.1:8000/",
        "https://pr-42.preview.example.com:8443/",
        "https://pr-1.evil.preview.example.com/",
        "https://preview.example.com/",
        "http://pr-1.preview.example.com/",
        "https://pr-1.preview.example.com.evil.test/",
        "file:///etc/passwd",
        "javascript:alert(1)",
    ):
        assert not trusted.allows(url), url


def test_the_cli_allows_and_disallows_origins(app, runner, project):
    added = runner.invoke(
        args=[
            "projects",
            "allow-origin",
            project["id"],
            "https://staging.example.com",
            "https://pr-*.preview.example.com",
        ]
    )
    assert added.exit_code == 0, added.output
    assert (
        added.output.strip().splitlines()[-1]
        == "https://staging.example.com,https://pr-*.preview.example.com"
    )
    removed = runner.invoke(
        args=["projects", "disallow-origin", project["id"], "https://staging.example.com"]
    )
    assert removed.output.strip().splitlines()[-1] == "https://pr-*.preview.example.com"
    bad = runner.invoke(args=["projects", "allow-origin", project["id"], "file:///etc"])
    assert bad.exit_code != 0 and "allowedOrigins" in bad.output


# -- a trigger cannot move the run ---------------------------------------------------------------------


@pytest.mark.browser
def test_a_trigger_token_cannot_send_a_run_and_its_secrets_elsewhere(
    app, client, admin_headers, home, foreign
):
    project_id, token = _project(app, client, admin_headers, home.url, {"login": [{"goto": "/ok"}]})
    url = f"/api/v1/projects/{project_id}/trigger"
    for base in (
        "http://attacker.invalid/",
        foreign.url,
        home.url.replace("http:", "https:"),
        home.url.replace("127.0.0.1", "localhost"),
    ):
        refused = client.post(url, headers=_h(token), json={"environmentId": "ENV-1", "baseUrl": base})
        assert refused.status_code == 400, base
        error = refused.get_json()["error"]
        assert error.startswith("baseUrl: ") and "allowedOrigins" in error
    assert client.get(f"/api/v1/projects/{project_id}/runs", headers=admin_headers).get_json() == []
    # The project's own origin (another path on it) and an allowed origin are fine.
    detail = _run(client, project_id, token, admin_headers, baseUrl=home.url + "/")
    assert detail["status"] == "completed" and detail["passed"] == 1
    client.patch(
        f"/api/v1/projects/{project_id}", json={"allowedOrigins": [foreign.url]}, headers=admin_headers
    )
    detail = _run(client, project_id, token, admin_headers, baseUrl=foreign.url)
    assert detail["results"][0]["baseUrl"] == foreign.url
    assert "/ok" in [hit.path for hit in foreign.hits]


# -- a step cannot type a secret into a foreign page ---------------------------------------------------


@pytest.mark.browser
def test_a_secret_is_typed_only_into_pages_of_trusted_origins(app, client, admin_headers, home, foreign):
    sign_in = [
        {"fill": {"css": "#user"}, "value": "ada"},
        {"fill": {"css": "#password"}, "value": "{{PASSWORD}}"},
        {"click": {"role": "button", "name": "Sign in"}},
        {"expect_text": {"css": "h1"}, "text": "Welcome"},
    ]
    tests = {
        "home": [{"goto": "/login"}, *sign_in],
        "foreign page": [{"goto": f"{foreign.url}/login"}, *sign_in],
        "foreign url": [{"goto": "/ok"}, {"goto": f"{foreign.url}/collect?k={{{{PASSWORD}}}}"}],
        "foreign press": [
            {"goto": f"{foreign.url}/login"},
            {"press": {"css": "#password"}, "key": "{{PASSWORD}}"},
        ],
    }
    project_id, token = _project(app, client, admin_headers, home.url, tests)
    results = {r["testName"]: r for r in _run(client, project_id, token, admin_headers)["results"]}
    assert results["home"]["status"] == "passed"
    assert any(
        SECRET.encode() in hit.body for hit in home.hits if hit.method == "POST"
    )  # typed where it belongs
    for name, step in (("foreign page", 3), ("foreign url", 2), ("foreign press", 2)):
        result = results[name]
        assert result["status"] == "failed" and result["failingStep"] == step, result
        assert "Sentri refused to send a secret to http://127.0.0.1:" in result["error"]
        assert "allowedOrigins" in result["error"]
    # The foreign origin saw the pages it served and nothing of the secret.
    assert foreign.hits and all(
        SECRET.encode() not in hit.body and SECRET not in hit.path for hit in foreign.hits
    )
    assert all(hit.method == "GET" for hit in foreign.hits)


# -- no file, body or log holds a secret ---------------------------------------------------------------


def _bytes_of_every_file(root: Path):
    """Yield (name, bytes) for every file under root, and for every member of every zip among them."""
    for path in root.rglob("*"):
        if not path.is_file():
            continue
        data = path.read_bytes()
        yield str(path), data
        if zipfile.is_zipfile(io.BytesIO(data)):
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                for member in archive.namelist():
                    yield f"{path}!{member}", archive.read(member)


@pytest.mark.browser
def test_no_artifact_body_or_log_of_a_failing_secret_test_holds_the_secret(
    app, client, admin_headers, home, caplog
):
    caplog.set_level(logging.DEBUG)
    typed_then_failed = [
        {"goto": "/login"},
        {"fill": {"css": "#password"}, "value": "{{PASSWORD}}"},
        {"expect_text": {"css": "h1"}, "text": "{{PASSWORD}}", "timeout": 300},
    ]
    plain_failure = [
        {"goto": "/login"},
        {"fill": {"css": "#user"}, "value": "ada"},
        {"expect_text": {"css": "h1"}, "text": "Nope", "timeout": 300},
    ]
    project_id, token = _project(
        app, client, admin_headers, home.url, {"secret": typed_then_failed, "plain": plain_failure}
    )
    detail = _run(client, project_id, token, admin_headers)
    results = {r["testName"]: r for r in detail["results"]}
    secret, plain = results["secret"], results["plain"]
    assert secret["status"] == "failed" and "••••" in secret["error"]
    # A test that types a secret keeps a screenshot (form fields painted over) and no trace; others keep both.
    assert secret["screenshotUrl"] and secret["traceUrl"] is None
    assert plain["screenshotUrl"] and plain["traceUrl"]
    run_id = detail["id"]
    bodies = {
        "status": client.get(f"/api/v1/projects/{project_id}/trigger/runs/{run_id}", headers=_h(token)),
        "detail": client.get(f"/api/v1/runs/{run_id}", headers=admin_headers),
        "junit": client.get(f"/api/v1/runs/{run_id}/junit.xml", headers=admin_headers),
        "runs": client.get(f"/api/v1/projects/{project_id}/runs", headers=admin_headers),
        "environments": client.get(f"/api/v1/projects/{project_id}/environments", headers=admin_headers),
        "screenshot": client.get(secret["screenshotUrl"], headers=admin_headers),
        "trace": client.get(plain["traceUrl"], headers=admin_headers),
    }
    page = app.test_client()
    from sentri import users

    with app.app_context():
        users.create_user("reader@example.com", "correct horse battery")
    csrf = re.search(
        r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', page.get("/login").get_data(as_text=True)
    ).group(1)
    login = page.post(
        "/login",
        data={"email": "reader@example.com", "password": "correct horse battery", "csrf_token": csrf},
    )
    assert login.status_code == 302
    bodies["run page"] = page.get(f"/runs/{run_id}")
    bodies["report"] = page.get(f"/runs/{run_id}/report")
    for name, response in bodies.items():
        assert response.status_code == 200, name
        assert SECRET.encode() not in response.get_data(), name
    with app.app_context():
        from sentri.extensions import db

        db.session.remove()
        db.engine.dispose()  # the WAL is checkpointed into the database file, which is scanned too
    scanned = 0
    for name, data in _bytes_of_every_file(Path(app.instance_path)):
        scanned += 1
        assert SECRET.encode() not in data, name
    assert scanned >= 3  # the database, the screenshots, the trace and its members
    assert all(SECRET not in record.getMessage() for record in caplog.records)


# -- artifacts that must not stay behind ---------------------------------------------------------------


@pytest.mark.browser
def test_only_the_final_attempts_artifacts_are_kept(app, client, admin_headers, home):
    always_fails = [{"goto": "/ok"}, {"expect_text": {"css": "h1"}, "text": "Never", "timeout": 300}]
    project_id, token = _project(app, client, admin_headers, home.url, {"fails": always_fails})
    response = client.post(
        f"/api/v1/projects/{project_id}/trigger",
        headers=_h(token),
        json={"wait": True, "dialsConfig": {"retries": 2}},
    )
    run_id = response.get_json()["runId"]
    result = client.get(f"/api/v1/runs/{run_id}", headers=admin_headers).get_json()["results"][0]
    assert len(result["attempts"]) == 3 and result["screenshotUrl"] and result["traceUrl"]
    folder = artifacts.run_folder(app.instance_path, run_id)
    assert sorted(p.name for p in folder.iterdir()) == ["0001-attempt3.png", "0001-attempt3.zip"]


@pytest.mark.browser
def test_deleting_a_project_removes_its_artifact_folders(app, client, admin_headers, home):
    fails = [{"goto": "/ok"}, {"expect_text": {"css": "h1"}, "text": "Never", "timeout": 300}]
    project_id, token = _project(app, client, admin_headers, home.url, {"fails": fails})
    run_id = _run(client, project_id, token, admin_headers)["id"]
    folder = artifacts.run_folder(app.instance_path, run_id)
    assert any(folder.iterdir())
    assert client.delete(f"/api/v1/projects/{project_id}", headers=admin_headers).status_code == 200
    assert not folder.exists()


@pytest.mark.browser
def test_pruning_walks_the_folders_not_only_the_rows(app, client, admin_headers, home):
    fails = [{"goto": "/ok"}, {"expect_text": {"css": "h1"}, "text": "Never", "timeout": 300}]
    project_id, token = _project(app, client, admin_headers, home.url, {"fails": fails})
    run_id = _run(client, project_id, token, admin_headers)["id"]
    folder = artifacts.run_folder(app.instance_path, run_id)
    kept = sorted(p.name for p in folder.iterdir())
    gone_run = artifacts.run_folder(
        app.instance_path, "RUN-999"
    )  # e.g. left by a crash, its run long deleted
    gone_run.mkdir(parents=True)
    (gone_run / "0001-attempt1.png").write_bytes(b"\x89PNG old")
    stale = folder / "0002-attempt1.zip"  # written, but its result row never stored (a crash)
    stale.write_bytes(b"PK stale")
    fresh = folder / "0003-attempt1.png"  # as stale, but too recent to call orphaned yet
    fresh.write_bytes(b"\x89PNG fresh")
    old = time.time() - artifacts.ORPHAN_GRACE_SECONDS - 60
    os.utime(stale, (old, old))
    removed = artifacts.prune(app)
    assert removed == 2
    assert not gone_run.exists() and not stale.exists() and fresh.exists()
    assert sorted(p.name for p in folder.iterdir()) == sorted([*kept, fresh.name])
