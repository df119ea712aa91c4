"""5xx answers the API fuzzer (tests/test_api_fuzz.py) found, each pinned down: odd input is a 4xx
with the one error shape, on SQLite and on PostgreSQL (where integer columns are 32-bit and text
cannot hold NUL characters)."""

from __future__ import annotations

import re

import pytest

from tests.conftest import both_databases


def _error(response, status):
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert isinstance(body, dict) and isinstance(body.get("error"), str) and body["error"], body
    return body["error"]


@both_databases
@pytest.mark.parametrize(
    "path", ["/api/v1/projects", "/api/v1/projects/{id}/tests", "/api/v1/projects/{id}/runs"]
)
def test_a_page_far_past_the_end_is_a_400_not_a_database_overflow(client, admin_headers, project, path):
    url = path.format(id=project["id"])
    assert "page" in _error(client.get(f"{url}?page=99999999999999999999", headers=admin_headers), 400)
    assert "page" in _error(client.get(f"{url}?page=1000001", headers=admin_headers), 400)
    assert client.get(f"{url}?page=1000000", headers=admin_headers).get_json() == []


def _finished_run(project_id: str) -> str:
    """Store a completed run of the project (no browser needed) and return its id."""
    from sentri.extensions import db
    from sentri.models import Run
    from sentri.public_ids import parse_public_id

    run = Run(project_id=parse_public_id("PRJ", project_id), status="completed", trigger_source="token")
    db.session.add(run)
    db.session.commit()
    return run.public_id


BIG = "99999999999"  # past a 32-bit integer column: PostgreSQL refused it with "integer out of range"
HUGE = "9" * 20  # past a 64-bit one: SQLite raised OverflowError


@both_databases
def test_ids_past_a_32_bit_key_are_404_everywhere(app, client, admin_headers, project):
    from sentri import projects, tokens

    with app.app_context():
        _, token = tokens.create(projects.get(project["id"]))
        run_id = _finished_run(project["id"])
    bearer = {"Authorization": f"Bearer {token}"}
    pid = project["id"]
    for path, headers in [
        (f"/api/v1/projects/PRJ-{BIG}", admin_headers),
        (f"/api/v1/projects/{pid}/tests/TST-{BIG}", admin_headers),
        (f"/api/v1/projects/{pid}/suites/SUI-{BIG}", admin_headers),
        (f"/api/v1/projects/{pid}/environments/ENV-{BIG}", admin_headers),
        (f"/api/v1/projects/{pid}/test-data-sets/DAT-{BIG}", admin_headers),
        (f"/api/v1/runs/RUN-{BIG}", admin_headers),
        (f"/api/v1/runs/RUN-{BIG}/junit.xml", bearer),
        (f"/api/v1/ci/runs/RUN-{BIG}", bearer),
        (f"/api/v1/projects/{pid}/trigger/runs/RUN-{BIG}", bearer),
        (f"/api/v1/runs/{run_id}/results/{BIG}/screenshot.png", admin_headers),
        (f"/api/v1/runs/{run_id}/results/{BIG}/trace.zip", bearer),
        (f"/api/v1/runs/{run_id}/results/{HUGE}/screenshot.png", admin_headers),
    ]:
        _error(client.get(path, headers=headers), 404)
    _error(client.delete(f"/api/v1/projects/{pid}/trigger-tokens/TOK-{BIG}", headers=admin_headers), 404)
    _error(client.post(f"/api/v1/projects/PRJ-{BIG}/trigger", headers=bearer), 404)
    # A trailing newline is not part of an id (the pattern used to allow it).
    _error(client.get(f"/api/v1/projects/{pid}%0A", headers=admin_headers), 404)


@both_databases
def test_ids_past_a_32_bit_key_in_bodies_are_400s(app, client, admin_headers, project):
    from sentri import projects, testcases, tokens

    with app.app_context():
        owner = projects.get(project["id"])
        testcases.review(testcases.create(owner, {"name": "t", "steps": [{"goto": "/"}]}), "approve")
        _, token = tokens.create(owner)
    bearer = {"Authorization": f"Bearer {token}"}
    for surface in (f"/api/v1/projects/{project['id']}/trigger", "/api/v1/ci/trigger"):
        for case_id in (f"TST-{BIG}", f"TST-{HUGE}"):
            assert "caseIds" in _error(client.post(surface, json={"caseIds": [case_id]}, headers=bearer), 400)
        for field in ("environmentId", "testDataSetId"):
            assert field in _error(client.post(surface, json={field: f"ENV-{BIG}"}, headers=bearer), 400)
        assert "suiteIds" in _error(
            client.post(surface, json={"suiteIds": [f"SUI-{BIG}"]}, headers=bearer), 400
        )
    suites = f"/api/v1/projects/{project['id']}/suites"
    assert "testIds" in _error(
        client.post(suites, json={"name": "s", "testIds": [f"TST-{BIG}"]}, headers=admin_headers), 400
    )


NUL_BODIES = [
    ("POST", "/api/v1/auth/login", {"email": "a\x00@example.com", "password": "x"}),
    ("POST", "/api/v1/projects", {"name": "a\x00b", "baseUrl": "http://shop.example"}),
    ("PATCH", "/api/v1/projects/{pid}", {"name": "\x00"}),
    ("POST", "/api/v1/projects/{pid}/tests", {"name": "t\x00", "steps": [{"goto": "/"}]}),
    ("POST", "/api/v1/projects/{pid}/trigger-tokens", {"label": "ci\x00"}),
    ("POST", "/api/v1/projects/{pid}/suites", {"name": "\x00"}),
    ("POST", "/api/v1/projects/{pid}/environments", {"name": "e", "baseUrl": "http://a.example/\x00"}),
    ("POST", "/api/v1/projects/{pid}/test-data-sets", {"name": "d\x00"}),
]


@both_databases
@pytest.mark.parametrize(("method", "path", "body"), NUL_BODIES, ids=[f"{m} {p}" for m, p, _ in NUL_BODIES])
def test_a_nul_character_in_a_json_body_is_a_400(client, admin_headers, project, method, path, body):
    url = path.format(pid=project["id"])
    assert "NUL" in _error(client.open(url, method=method, json=body, headers=admin_headers), 400)


@both_databases
def test_nul_in_a_trigger_body_query_string_or_form_is_a_400_and_escaped_backslashes_are_not(
    app, client, admin_headers, project
):
    from sentri import projects, tokens

    with app.app_context():
        _, token = tokens.create(projects.get(project["id"]))
    trigger = f"/api/v1/projects/{project['id']}/trigger"
    bearer = {"Authorization": f"Bearer {token}"}
    # The trigger reads its body whatever the content type says.
    raw = '{"baseUrl": "http://a.example/\\u0000"}'
    assert "NUL" in _error(client.post(trigger, data=raw, content_type="text/plain", headers=bearer), 400)
    assert "NUL" in _error(client.get("/api/v1/projects?tag=%00", headers=admin_headers), 400)
    # An escaped backslash followed by "u0000" is text, not a NUL: stored as given.
    named = client.post(
        "/api/v1/projects",
        data='{"name": "C:\\\\u0000", "baseUrl": "http://a.example"}',
        content_type="application/json",
        headers=admin_headers,
    )
    assert named.status_code == 201 and named.get_json()["name"] == "C:\\u0000"
    # The login form looked the email up as given: PostgreSQL refused the NUL with a 500.
    login_page = client.get("/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', login_page).group(1)
    form = client.post("/login", data={"email": "a\x00@example.com", "password": "x", "csrf_token": csrf})
    assert form.status_code == 400 and "NUL" in form.get_data(as_text=True)


SURROGATE_BODIES = [
    ("/api/v1/projects/{pid}/environments", '{"name": "\\udc00"}'),
    ("/api/v1/projects/{pid}/environments", '{"name": "e", "secrets": {"S": "x\\ud800"}}'),
    ("/api/v1/projects/{pid}/test-data-sets", '{"name": "\\ud83d!"}'),
    ("/api/v1/projects/{pid}/test-data-sets", b'{"name": "\xed\xa0\x80"}'),  # a surrogate as raw bytes
]


@both_databases
@pytest.mark.parametrize(("path", "body"), SURROGATE_BODIES)
def test_an_unpaired_surrogate_in_a_json_body_is_a_400(client, admin_headers, project, path, body):
    # Neither database can store one (no UTF-8 for it): these names and secrets answered 500 on both.
    response = client.post(
        path.format(pid=project["id"]), data=body, content_type="application/json", headers=admin_headers
    )
    assert "surrogate" in _error(response, 400)


@both_databases
def test_paired_surrogates_and_escaped_backslashes_are_ordinary_text(client, admin_headers, project):
    url = f"/api/v1/projects/{project['id']}/test-data-sets"
    body = '{"name": "smile \\ud83d\\ude00 \\\\ud800 C:\\\\\\\\u0000"}'
    response = client.post(url, data=body, content_type="application/json", headers=admin_headers)
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["name"] == "smile \U0001f600 \\ud800 C:\\\\u0000"


@both_databases
@pytest.mark.parametrize(
    "text", ['{"name": "a\\u0000", "steps": [{"goto": "/"}]}', 'name: "a\\0"\nsteps: [goto: /]\n']
)
def test_an_imported_test_named_with_nul_is_refused_by_name(app, project, text):
    # The import page and `flask tests import` stored the name as given: a 500 on PostgreSQL.
    from sentri import projects, testcases
    from sentri.errors import ValidationFailed

    with app.app_context(), pytest.raises(ValidationFailed, match='"name" must not contain NUL'):
        testcases.import_file(projects.get(project["id"]), text, "tests.json")


@pytest.mark.parametrize("url", ["http://[::1", "https://[::1/hook", "http://]x[/"])
def test_a_callback_url_python_cannot_split_is_a_400(app, client, project, url):
    # urlsplit raises ValueError for these, and the SSRF check let it escape as a 500.
    from sentri import projects, testcases, tokens

    with app.app_context():
        owner = projects.get(project["id"])
        testcases.review(testcases.create(owner, {"name": "t", "steps": [{"goto": "/"}]}), "approve")
        _, token = tokens.create(owner)
    bearer = {"Authorization": f"Bearer {token}"}
    for surface in (f"/api/v1/projects/{project['id']}/trigger", "/api/v1/ci/trigger"):
        assert "callbackUrl" in _error(client.post(surface, json={"callbackUrl": url}, headers=bearer), 400)
