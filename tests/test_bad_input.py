"""Bad input gets a 400 and costs nothing: JSON nested past a sane depth on every endpoint, YAML alias
bombs, `next` after login that would leave the site, and odd paths, headers and query strings on pages."""

from __future__ import annotations

import re

import pytest

from sentri import projects, suites, testcases, tokens
from sentri.validation import MAX_JSON_DEPTH

DEEP = "[" * 50_000 + "]" * 50_000
PASSWORD = "correct horse battery"


def _nested(depth: int) -> str:
    return '{"x": ' * (depth - 1) + "[]" + "}" * (depth - 1)


@pytest.fixture
def world(app, client, admin_headers):
    """A project with a test, a suite, an environment, a test-data set and a trigger token."""
    with app.app_context():
        project = projects.create("World", "http://127.0.0.1:9")
        test = testcases.create(project, {"name": "t", "steps": [{"goto": "/"}]})
        suites.create(project, "s", [test.public_id])
        _, token = tokens.create(project)
        ids = {
            "project_id": project.public_id,
            "test_id": test.public_id,
            "suite_id": "SUI-1",
            "item_id": "ENV-1",
            "token_id": "TOK-1",
            "run_id": "RUN-1",
            "user_id": "USR-1",
        }
    base = f"/api/v1/projects/{ids['project_id']}"
    client.post(f"{base}/environments", json={"name": "e"}, headers=admin_headers)
    client.post(f"{base}/test-data-sets", json={"name": "d"}, headers=admin_headers)
    return ids, token


# These read a JSON body: a body nested too deeply is their 400.
BODY_ENDPOINTS = {
    ("POST", "/api/v1/auth/login"),
    ("POST", "/api/v1/projects"),
    ("PATCH", "/api/v1/projects/<project_id>"),
    ("POST", "/api/v1/projects/<project_id>/tests"),
    ("PATCH", "/api/v1/projects/<project_id>/tests/<test_id>"),
    ("POST", "/api/v1/projects/<project_id>/trigger-tokens"),
    ("POST", "/api/v1/projects/<project_id>/trigger"),
    ("POST", "/api/v1/ci/trigger"),
    ("POST", "/api/v1/projects/<project_id>/suites"),
    ("PATCH", "/api/v1/projects/<project_id>/suites/<suite_id>"),
    ("POST", "/api/v1/projects/<project_id>/suites/<suite_id>/tests"),
}


def _concrete(rule, ids) -> list[str]:
    """Every URL a rule stands for, with the world's ids (an any() converter gives one URL per choice)."""
    path = rule.rule
    urls = [path]
    for name, converter in rule._converters.items():
        choices = getattr(converter, "items", None)
        expanded = []
        for url in urls:
            if choices:
                expanded += [re.sub(rf"<[^>]*:?{name}>", choice, url) for choice in choices]
            else:
                expanded.append(re.sub(rf"<[^>]*:?{name}>", ids.get(name, "X-1"), url))
        urls = expanded
    return urls


def test_json_nested_too_deeply_is_a_400_on_every_endpoint(app, client, world, admin_headers):
    ids, token = world
    answered_400 = set()
    checked = 0
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/"):
            continue
        for method in sorted(rule.methods & {"POST", "PATCH", "PUT"}):
            for url in _concrete(rule, ids):
                trigger = "/trigger" in url and "trigger-tokens" not in url
                headers = {"Authorization": f"Bearer {token}"} if trigger else admin_headers
                response = client.open(
                    url, method=method, data=DEEP, content_type="application/json", headers=headers
                )
                checked += 1
                assert response.status_code < 500, (method, url, response.get_data(as_text=True)[:300])
                if response.status_code == 400:
                    assert "nested too deeply" in response.get_json()["error"], (method, url)
                    answered_400.add((method, rule.rule))
    assert checked >= 20
    assert answered_400 >= BODY_ENDPOINTS, BODY_ENDPOINTS - answered_400


def test_the_depth_limit_is_exact(client, admin_headers):
    at_limit = client.post(
        "/api/v1/projects",
        data='{"name": "x", "baseUrl": "http://a.example", "y": ' + _nested(MAX_JSON_DEPTH - 1) + "}",
        content_type="application/json",
        headers=admin_headers,
    )
    assert at_limit.status_code == 400 and "unknown field" in at_limit.get_json()["error"]
    over = client.post(
        "/api/v1/projects",
        data='{"name": "x", "baseUrl": "http://a.example", "y": ' + _nested(MAX_JSON_DEPTH) + "}",
        content_type="application/json",
        headers=admin_headers,
    )
    assert over.status_code == 400 and "nested too deeply" in over.get_json()["error"]


ALIAS_BOMB = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{name}: &{name} [{', '.join(['*' + prev] * 10)}]\n"
    for prev, name in zip("abcdefghi", "bcdefghij", strict=True)
)


def test_a_yaml_alias_bomb_is_refused_by_the_cli_and_the_import_page(app, runner, tmp_path):
    assert len(ALIAS_BOMB) < 1024  # a kilobyte that would expand to ten billion values
    path = tmp_path / "bomb.yaml"
    path.write_text(ALIAS_BOMB)
    with app.app_context():
        project = projects.create("Bomb", "http://127.0.0.1:9").public_id
    result = runner.invoke(args=["tests", "import", "--project", project, str(path)])
    assert result.exit_code != 0
    assert "bomb.yaml: line 2" in result.output and "aliases (*name) are not supported" in result.output


def test_yaml_nested_past_the_limit_is_refused(runner, app, tmp_path):
    path = tmp_path / "deep.yaml"
    path.write_text("name: deep\nsteps:\n" + "".join("  " * i + "- \n" for i in range(1, 80)))
    with app.app_context():
        project = projects.create("Deep", "http://127.0.0.1:9").public_id
    result = runner.invoke(args=["tests", "import", "--project", project, str(path)])
    assert result.exit_code != 0 and "nesting deeper than 64 levels" in result.output


# -- next after login ----------------------------------------------------------------------------------

NEXT_TABLE = [
    ("/%09/evil.example", "/projects"),
    ("//evil.example", "/projects"),
    ("/\\evil.example", "/projects"),
    ("/%5Cevil.example", "/projects"),
    ("https://evil.example/", "/projects"),
    ("/%0d%0aX:1", "/projects"),
    ("%20//evil.example", "/projects"),
    ("javascript:alert(1)", "/projects"),
    ("/%0a/evil.example", "/projects"),
    ("", "/projects"),
    ("/runs/RUN-1?page=2", "/runs/RUN-1?page=2"),
    ("/projects/PRJ-1/settings", "/projects/PRJ-1/settings"),
]


@pytest.mark.parametrize(("next_value", "landing"), NEXT_TABLE)
def test_next_after_login_is_only_a_path_on_this_site(app, next_value, landing):
    from sentri import users

    with app.app_context():
        users.create_user("next@example.com", PASSWORD)
    client = app.test_client()
    html = client.get("/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', html).group(1)
    response = client.post(
        f"/login?next={next_value}",
        data={"email": "next@example.com", "password": PASSWORD, "csrf_token": csrf},
    )
    assert response.status_code == 302
    assert response.headers["Location"] == landing


# -- pages and headers ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/runs/%00",
        "/runs/RUN-1%0d%0a",
        "/projects/PRJ-99999999999999999999999",
        "/projects?page=-1",
        "/projects?page=abc",
        "/projects?page=99999999999999999999",
        "/api/v1/runs/RUN-0/junit.xml",
        "/api/v1/runs/RUN-1/results/99999999999999999999/screenshot.png",
        "/api/v1/projects?perPage=1e9",
        "/login?next=%ff%fe",
        "/demo/%c0%ae%c0%ae/",
        "/api/v1/projects/%ff/tests",
    ],
)
def test_odd_paths_and_query_strings_are_never_a_5xx(app, client, admin_headers, path):
    for headers in (admin_headers, {}):
        assert client.get(path, headers=headers).status_code < 500, path


@pytest.mark.parametrize(
    "authorization",
    [
        "Bearer",
        "Bearer ",
        "Basic abc",
        "Bearer \x00",
        "Bearer sentri_" + "A" * 38,
        "Bearer aegis_sentri_x",
        "Bearer " + "x" * 10000,
        "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJVU1ItMSJ9.",
        "bearer a.b.c",
    ],
)
def test_odd_authorization_headers_are_a_401_never_a_5xx(client, project, authorization):
    for url in (
        "/api/v1/projects",
        f"/api/v1/projects/{project['id']}/trigger/runs/RUN-1",
        "/api/v1/ci/runs/RUN-1",
    ):
        response = client.get(url, headers={"Authorization": authorization})
        assert response.status_code == 401, (url, authorization, response.get_data(as_text=True)[:200])
