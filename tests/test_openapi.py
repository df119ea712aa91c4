"""GET /api/v1/openapi.json: served without login, valid OpenAPI 3.1, in step with the app's routes,
and true: real answers of every endpoint (successes and the main errors) match the documented
status, content type and JSON schema (validated with jsonschema, draft 2020-12, OpenAPI 3.1's dialect)."""

from __future__ import annotations

import json
import re
import time

import pytest
import schemathesis
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from sentri import openapi, projects, testcases, tokens, users
from sentri.auth import issue_jwt
from sentri.extensions import db
from tests.support.settings import override

DOCUMENT_URI = "urn:sentri:openapi"
OK_STEPS = [
    {"action": "goto", "url": "/ok"},
    {"action": "expect_text", "target": {"css": "h1"}, "text": "OK"},
]
FAIL_STEPS = [{"action": "goto", "url": "/fail"}, {"action": "expect_title", "title": "OK", "timeout": 500}]
SLOW_STEPS = [{"action": "goto", "url": "/ok"}, {"action": "wait", "ms": 30000}]


def _pointer(*parts: str) -> str:
    return "/" + "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)


class Described:
    """A test client whose every answer is checked against the description."""

    def __init__(self, client):
        self.client = client
        self.document = openapi.description()
        self.registry = Registry().with_resource(
            DOCUMENT_URI, Resource(self.document, specification=DRAFT202012)
        )

    def __call__(
        self,
        method: str,
        template: str,
        status: int,
        *,
        headers=None,
        json_body=None,
        data=None,
        content_type=None,
        query=None,
        **path,
    ):
        url = template.format(**path) + (f"?{query}" if query else "")
        kwargs = {"headers": headers or {}}
        if json_body is not None:
            kwargs["json"] = json_body
        if data is not None:
            kwargs["data"] = data
            kwargs["content_type"] = content_type or "application/json"
        response = self.client.open(url, method=method, **kwargs)
        assert response.status_code == status, (
            f"{method} {url}: {response.status_code} {response.get_data()[:300]!r}"
        )
        self.check(method, template, response)
        return response

    def response_spec(self, method: str, template: str, status: int) -> tuple[dict, str]:
        operation = self.document["paths"][template][method.lower()]
        assert str(status) in operation["responses"], f"{method} {template}: {status} is not documented"
        pointer = _pointer("paths", template, method.lower(), "responses", str(status))
        spec = operation["responses"][str(status)]
        if "$ref" in spec:
            pointer = spec["$ref"].removeprefix("#")
        return self.resolve(spec), pointer

    def resolve(self, item: dict) -> dict:
        while "$ref" in item:
            item = self.registry.resolver(DOCUMENT_URI).lookup(DOCUMENT_URI + item["$ref"]).contents
        return item

    def check(self, method: str, template: str, response) -> None:
        spec, pointer = self.response_spec(method, template, response.status_code)
        content = spec.get("content", {})
        assert response.mimetype in content, (
            f"{method} {template}: {response.mimetype} not in {list(content)}"
        )
        for name, header in spec.get("headers", {}).items():
            header = self.resolve(header)
            if name in response.headers and header["schema"].get("type") == "integer":
                assert response.headers[name].isdigit(), f"{name}: {response.headers[name]}"
        if response.mimetype == "application/json":
            schema = {"$ref": f"{DOCUMENT_URI}#{pointer}{_pointer('content', 'application/json', 'schema')}"}
            validator = Draft202012Validator(schema, registry=self.registry)
            errors = sorted(validator.iter_errors(response.get_json()), key=lambda e: list(e.path))
            assert not errors, f"{method} {template} {response.status_code}: " + "; ".join(
                f"{list(e.path)}: {e.message[:200]}" for e in errors
            )


def _bearer(value: str) -> dict:
    return {"Authorization": f"Bearer {value}"}


def _people(app):
    with app.test_request_context():
        admin = users.create_user("admin@example.com", "correct horse battery", role="admin")
        member = users.create_user("member@example.com", "correct horse battery", role="member")
        return admin.public_id, _bearer(issue_jwt(admin)[0]), _bearer(issue_jwt(member)[0])


def _normalised(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "{}", path)


def _routes(app) -> set[tuple[str, str]]:
    """(method, path with {} for parameters) of every JSON route, `any(...)` alternatives expanded."""
    found = set()
    for rule in app.url_map.iter_rules():
        if not (rule.rule.startswith("/api/") or rule.rule in ("/healthz", "/health")):
            continue
        paths = [rule.rule]
        for match in re.finditer(r"<any\(([^)]*)\):\w+>", rule.rule):
            choices = [c.strip().strip("'\"") for c in match.group(1).split(",")]
            paths = [p.replace(match.group(0), choice) for p in paths for choice in choices]
        for path in paths:
            for method in rule.methods - {"HEAD", "OPTIONS"}:
                found.add((method, re.sub(r"<[^>]+>", "{}", path)))
    return found


def test_the_description_is_served_without_login_and_is_openapi_3_1(app_factory):
    app = app_factory()
    response = app.test_client().get("/api/v1/openapi.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    document = response.get_json()
    assert document["openapi"].startswith("3.1.")
    assert document["servers"] == [{"url": "http://localhost"}]
    schemathesis.openapi.from_dict(document).validate()  # against OpenAPI 3.1's own JSON schema
    assert set(document["components"]["securitySchemes"]) == {"userAuth", "sessionCookie", "triggerToken"}
    behind_proxy = app_factory(SENTRI_PUBLIC_URL="https://sentri.example.com/")
    assert behind_proxy.test_client().get("/api/v1/openapi.json").get_json()["servers"] == [
        {"url": "https://sentri.example.com"}
    ]


def test_every_operation_documents_its_errors_and_has_a_unique_id():
    document = openapi.description()
    ids = []
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method == "parameters":
                continue
            ids.append(operation["operationId"])
            codes = set(operation["responses"])
            if operation.get("security", document["security"]):
                assert "401" in codes, f"{method} {path}"
            if "requestBody" in operation:
                assert {"400", "413"} <= codes, f"{method} {path}"
            if "{" in path:
                assert "404" in codes, f"{method} {path}"
            for code, spec in operation["responses"].items():
                if code.startswith(("4", "5")) and "$ref" not in spec:
                    schema = json.dumps(spec["content"]["application/json"]["schema"])
                    assert "Error" in schema or "RunStatus" in schema, f"{method} {path} {code}"
    assert len(ids) == len(set(ids))


def test_every_api_route_is_described_and_every_described_operation_is_routed(app):
    routed = _routes(app)
    described = {
        (method.upper(), _normalised(path))
        for path, item in openapi.description()["paths"].items()
        for method in item
        if method != "parameters"
    }
    assert routed - described == set(), "routes missing from sentri/openapi.yaml"
    assert described - routed == set(), "described operations the app does not route"


UNKNOWN = {
    "projectId": "PRJ-999999",
    "testId": "TST-999999",
    "suiteId": "SUI-999999",
    "runId": "RUN-999999",
    "crawlId": "CRL-999999",
    "itemId": "BSL-999999",
    "baselineId": "BSL-999999",
    "sha": "0" * 64,
    "environmentId": "ENV-999999",
    "dataSetId": "DAT-999999",
    "tokenId": "TOK-999999",
    "userId": "USR-999999",
    "position": 999999,
    "scheduleId": "SCH-999999",
    "channelId": "NTF-999999",
}


def test_every_operation_refuses_as_described(app_factory):
    """For every described operation the app routes: no credentials is a 401, a browser session
    writing without its CSRF token a 403, unknown ids a 404, a body over MAX_CONTENT_LENGTH a 413."""
    app = app_factory(MAX_CONTENT_LENGTH=2048)
    client = app.test_client()
    api = Described(client)
    admin_id, admin, _ = _people(app)
    _, token = _project(app, "http://127.0.0.1:9")
    routed = _routes(app)
    for template, item in api.document["paths"].items():
        for method, operation in item.items():
            method = method.upper()
            if method == "PARAMETERS" or (method, _normalised(template)) not in routed:
                continue
            schemes = {n for r in operation.get("security", api.document["security"]) for n in r}
            ids = {name: value for name, value in UNKNOWN.items() if "{" + name + "}" in template}
            credentials = _bearer(token) if "triggerToken" in schemes else admin
            if schemes:
                api(method, template, 401, **ids)
            if ids:
                body = {"json_body": {}} if "requestBody" in operation else {}
                api(method, template, 404, headers=credentials, **body, **ids)
            if "requestBody" in operation:
                api(method, template, 413, headers=credentials, data=json.dumps({"pad": "x" * 4096}), **ids)
            if "userAuth" in schemes and method != "GET":
                with client.session_transaction() as session:
                    session["uid"] = admin_id
                api(method, template, 403, json_body={}, **ids)
                with client.session_transaction() as session:
                    session.clear()


def test_accounts_and_projects_answer_as_described(app, client):
    api = Described(client)
    admin_id, admin, member = _people(app)
    body = api(
        "POST",
        "/api/v1/auth/login",
        200,
        json_body={"email": "admin@example.com", "password": "correct horse battery"},
    ).get_json()
    assert body["user"]["id"] == admin_id
    api("POST", "/api/v1/auth/login", 401, json_body={"email": "admin@example.com", "password": "wrong"})
    api("POST", "/api/v1/auth/login", 400, json_body={"email": "admin@example.com"})
    api("POST", "/api/v1/auth/login", 400, data="[]")
    api("GET", "/api/v1/auth/me", 200, headers=_bearer(body["token"]))
    api("GET", "/api/v1/auth/me", 401)
    api("GET", "/api/v1/auth/me", 401, headers=_bearer("sentri_" + "a" * 38))

    created = api(
        "POST",
        "/api/v1/projects",
        201,
        headers=member,
        json_body={"name": "Shop", "baseUrl": "http://127.0.0.1:9/shop"},
    ).get_json()
    pid = created["id"]
    api("POST", "/api/v1/projects", 400, headers=member, json_body={"name": "Shop", "baseUrl": "ftp://x"})
    api("POST", "/api/v1/projects", 401, json_body={"name": "Shop", "baseUrl": "http://127.0.0.1:9"})
    listed = api("GET", "/api/v1/projects", 200, headers=member, query="perPage=1")
    assert listed.headers["X-Total-Count"] == "1"
    api("GET", "/api/v1/projects", 400, headers=member, query="perPage=0")
    api("GET", "/api/v1/projects", 401)
    api("GET", "/api/v1/projects/{projectId}", 200, headers=member, projectId=pid)
    api("GET", "/api/v1/projects/{projectId}", 404, headers=member, projectId="PRJ-404")
    api("GET", "/api/v1/projects/{projectId}", 401, projectId=pid)
    api(
        "PATCH",
        "/api/v1/projects/{projectId}",
        200,
        headers=member,
        projectId=pid,
        json_body={"name": "Shop 2", "variables": {"USER": "ada"}},
    )
    api("PATCH", "/api/v1/projects/{projectId}", 400, headers=member, projectId=pid, json_body={"name": 5})
    origins = {"allowedOrigins": ["https://staging.example.com", "https://pr-*.preview.example.com"]}
    changed = api(
        "PATCH", "/api/v1/projects/{projectId}", 200, headers=admin, projectId=pid, json_body=origins
    )
    assert changed.get_json()["allowedOrigins"] == origins["allowedOrigins"]
    api("PATCH", "/api/v1/projects/{projectId}", 403, headers=member, projectId=pid, json_body=origins)
    api(
        "PATCH",
        "/api/v1/projects/{projectId}",
        400,
        headers=admin,
        projectId=pid,
        json_body={"allowedOrigins": ["ftp://files.example.com"]},
    )
    cleared = api(
        "PATCH",
        "/api/v1/projects/{projectId}",
        200,
        headers=admin,
        projectId=pid,
        json_body={"allowedOrigins": None},
    )
    assert cleared.get_json()["allowedOrigins"] == []
    api("PATCH", "/api/v1/projects/{projectId}", 404, headers=member, projectId="PRJ-404", json_body={})
    api("PATCH", "/api/v1/projects/{projectId}", 401, projectId=pid, json_body={})
    with client.session_transaction() as session:  # a browser session writing without its CSRF token
        session["uid"] = admin_id
    api("PATCH", "/api/v1/projects/{projectId}", 403, projectId=pid, json_body={})
    with client.session_transaction() as session:
        session.clear()
    api("DELETE", "/api/v1/projects/{projectId}", 403, headers=member, projectId=pid)
    api("DELETE", "/api/v1/projects/{projectId}", 401, projectId=pid)
    api("DELETE", "/api/v1/projects/{projectId}", 200, headers=admin, projectId=pid)
    api("DELETE", "/api/v1/projects/{projectId}", 404, headers=admin, projectId=pid)


def test_tests_suites_environments_settings_and_tokens_answer_as_described(app, client):
    api = Described(client)
    _, admin, member = _people(app)
    pid = api(
        "POST",
        "/api/v1/projects",
        201,
        headers=admin,
        json_body={"name": "Shop", "baseUrl": "http://127.0.0.1:9"},
    ).get_json()["id"]
    p = {"projectId": pid}
    tests = "/api/v1/projects/{projectId}/tests"
    one = tests + "/{testId}"
    tid = api(
        "POST",
        tests,
        201,
        headers=member,
        json_body={
            "name": "Home",
            "tags": ["smoke"],
            "steps": [{"goto": "/"}, {"expect_title": "Shop"}],
            "viewport": {"width": 800, "height": 600},
            "covers": ["src/home/*"],
        },
        **p,
    ).get_json()["id"]
    api("POST", tests, 400, headers=member, json_body={"name": "x", "steps": [{"action": "fly"}]}, **p)
    api(
        "POST",
        tests,
        404,
        headers=member,
        json_body={"name": "x", "steps": [{"goto": "/"}]},
        projectId="PRJ-404",
    )
    api("GET", tests, 200, headers=member, query="status=draft&tag=smoke", **p)
    api("GET", tests, 400, headers=member, query="status=lost", **p)
    api("GET", one, 200, headers=member, testId=tid, **p)
    api("GET", one, 404, headers=member, testId="TST-404", **p)
    api(
        "PATCH",
        one,
        200,
        headers=member,
        json_body={"tags": None, "steps": [{"goto": "/home"}]},
        testId=tid,
        **p,
    )
    api("PATCH", one, 400, headers=member, json_body={"owner": "me"}, testId=tid, **p)
    for decision in ("reject", "approve"):
        api("POST", one + "/" + decision, 200, headers=member, testId=tid, **p)
        api("POST", one + "/" + decision, 404, headers=member, testId="TST-404", **p)

    suites = "/api/v1/projects/{projectId}/suites"
    sid = api(
        "POST", suites, 201, headers=member, json_body={"name": "smoke", "testIds": [tid]}, **p
    ).get_json()["id"]
    api("POST", suites, 400, headers=member, json_body={"name": "x", "testIds": ["TST-404"]}, **p)
    api("GET", suites, 200, headers=member, **p)
    api("GET", suites + "/{suiteId}", 200, headers=member, suiteId=sid, **p)
    api("PATCH", suites + "/{suiteId}", 200, headers=member, json_body={"name": "quick"}, suiteId=sid, **p)
    api("PATCH", suites + "/{suiteId}", 400, headers=member, json_body={}, suiteId=sid, **p)
    api(
        "POST",
        suites + "/{suiteId}/tests",
        200,
        headers=member,
        json_body={"testIds": [tid]},
        suiteId=sid,
        **p,
    )
    api("POST", suites + "/{suiteId}/tests", 400, headers=member, json_body={"testIds": []}, suiteId=sid, **p)
    api("DELETE", suites + "/{suiteId}/tests/{testId}", 200, headers=member, suiteId=sid, testId=tid, **p)
    api(
        "DELETE",
        suites + "/{suiteId}/tests/{testId}",
        400,
        headers=member,
        suiteId=sid,
        testId="TST-404",
        **p,
    )
    api("DELETE", suites + "/{suiteId}", 403, headers=member, suiteId=sid, **p)
    api("DELETE", suites + "/{suiteId}", 200, headers=admin, suiteId=sid, **p)
    api("GET", suites + "/{suiteId}", 404, headers=member, suiteId=sid, **p)

    for kind, key, body in (
        (
            "environments",
            "environmentId",
            {
                "name": "staging",
                "baseUrl": "http://127.0.0.1:9",
                "variables": {"A": "1"},
                "secrets": {"PW": "x"},
            },
        ),
        ("test-data-sets", "dataSetId", {"name": "data", "variables": {"B": "2"}}),
    ):
        many = "/api/v1/projects/{projectId}/" + kind
        single = many + "/{" + key + "}"
        item = api("POST", many, 201, headers=member, json_body=body, **p).get_json()
        assert "x" not in json.dumps(item.get("secretNames"))  # a secret's name is shown, never its value
        api("POST", many, 400, headers=member, json_body={"name": ""}, **p)
        api("GET", many, 200, headers=member, **p)
        api("GET", single, 200, headers=member, **p, **{key: item["id"]})
        api("PATCH", single, 200, headers=member, json_body={"name": "renamed"}, **p, **{key: item["id"]})
        api("PATCH", single, 400, headers=member, json_body={"colour": "red"}, **p, **{key: item["id"]})
        api("DELETE", single, 403, headers=member, **p, **{key: item["id"]})
        api("DELETE", single, 200, headers=admin, **p, **{key: item["id"]})
        api("DELETE", single, 404, headers=admin, **p, **{key: item["id"]})

    for kind, body in (
        ("quality-gates", {"minPassRate": 90, "maxFailures": None}),
        ("web-vitals-budgets", {"lcp": 2500, "cls": 0.1}),
    ):
        path = "/api/v1/projects/{projectId}/" + kind
        api("GET", path, 200, headers=member, **p)
        api("PATCH", path, 200, headers=admin, json_body=body, **p)
        api("PATCH", path, 400, headers=admin, json_body={"minPassRate": 101, "cls": 2}, **p)
        api("PATCH", path, 403, headers=member, json_body=body, **p)
        api("GET", path, 404, headers=member, projectId="PRJ-404")

    token_list = "/api/v1/projects/{projectId}/trigger-tokens"
    created = api("POST", token_list, 201, headers=admin, json_body={"label": "ci", "expiresInDays": 30}, **p)
    assert created.get_json()["token"].startswith("sentri_")
    api("POST", token_list, 201, headers=admin, data="", **p)
    api("POST", token_list, 400, headers=admin, json_body={"expiresInDays": 0}, **p)
    api("POST", token_list, 403, headers=member, json_body={}, **p)
    listed = api("GET", token_list, 200, headers=member, **p).get_json()
    assert all("token" not in t for t in listed)
    api("DELETE", token_list + "/{tokenId}", 403, headers=member, tokenId=listed[0]["id"], **p)
    api("DELETE", token_list + "/{tokenId}", 200, headers=admin, tokenId=listed[0]["id"], **p)
    api("DELETE", token_list + "/{tokenId}", 404, headers=admin, tokenId=listed[0]["id"], **p)
    api("DELETE", one, 403, headers=member, testId=tid, **p)
    api("DELETE", one, 200, headers=admin, testId=tid, **p)
    with app.app_context():
        owner = projects.get(pid)
        for _ in range(app.config["SENTRI_MAX_TOKENS_PER_PROJECT"] - 1):
            tokens.create(owner)
    api("POST", token_list, 400, headers=admin, json_body={}, **p)  # over SENTRI_MAX_TOKENS_PER_PROJECT


def _project(app, base_url, *tests):
    with app.app_context():
        project = projects.create("Shop", base_url)
        for index, steps in enumerate(tests):
            testcases.review(
                testcases.create(project, {"name": f"test {index + 1}", "steps": steps}), "approve"
            )
        _, plaintext = tokens.create(project)
        return project.public_id, plaintext


def _until_ended(api, run_id, headers, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = api("GET", "/api/v1/ci/runs/{runId}", 200, headers=headers, runId=run_id).get_json()
        if body["status"] not in ("queued", "running"):
            return body
        time.sleep(0.1)
    raise AssertionError(f"{run_id} still running")


@pytest.mark.browser
def test_the_ci_surfaces_runs_and_artifacts_answer_as_described(app_factory, site):
    app = app_factory()
    api = Described(app.test_client())
    admin_id, admin, member = _people(app)
    pid, token = _project(app, site, OK_STEPS, FAIL_STEPS)
    other_pid, other_token = _project(app, site, OK_STEPS)
    empty_pid, empty_token = _project(app, site)
    bearer, trigger = _bearer(token), "/api/v1/projects/{projectId}/trigger"
    status = "/api/v1/projects/{projectId}/trigger/runs/{runId}"

    started = api("POST", trigger, 202, headers=bearer, projectId=pid).get_json()
    conflict = api("POST", "/api/v1/ci/trigger", 409, headers=_bearer("aegis_" + token)).get_json()
    assert conflict["runId"] == started["runId"]
    api("GET", status, 200, headers=bearer, projectId=pid, runId=started["runId"])
    with api.client.session_transaction() as session:  # a browser session writing without its CSRF token
        session["uid"] = admin_id
    api("POST", "/api/v1/runs/{runId}/abort", 403, runId=started["runId"])
    with api.client.session_transaction() as session:
        session.clear()
    ended = _until_ended(api, started["runId"], bearer)
    assert ended["status"] == "completed" and ended["verdict"] == "failed"
    api("POST", "/api/v1/runs/{runId}/abort", 409, headers=member, runId=started["runId"])

    api("POST", trigger, 400, headers=bearer, json_body={"callbackUrl": "ftp://nope"}, projectId=pid)
    api("POST", trigger, 400, headers=_bearer(empty_token), projectId=empty_pid)
    api("POST", trigger, 401, headers=admin, projectId=pid)
    api("POST", trigger, 401, projectId=pid)
    api("POST", trigger, 403, headers=_bearer(other_token), projectId=pid)
    api("POST", trigger, 404, headers=bearer, projectId="PRJ-404")
    api("GET", status, 403, headers=_bearer(other_token), projectId=pid, runId=started["runId"])
    api("GET", status, 404, headers=bearer, projectId=pid, runId="RUN-404")
    api("GET", status, 401, headers=admin, projectId=pid, runId=started["runId"])

    # wait: true answers with the final status: 422 for a failed verdict, 200 for a passed one.
    override(app, SENTRI_WAIT_MAX_SECONDS=60)
    failed = api("POST", trigger, 422, headers=bearer, json_body={"wait": True}, projectId=pid).get_json()
    assert failed["verdict"] == "failed" and failed["error"]
    other = _bearer(other_token)
    assert (
        api("POST", "/api/v1/ci/trigger", 200, headers=other, json_body={"wait": True}).get_json()["runType"]
        == "ci"
    )
    running = api("POST", "/api/v1/ci/trigger", 202, headers=other).get_json()
    assert (
        api("POST", trigger, 409, headers=other, projectId=other_pid).get_json()["runId"] == running["runId"]
    )
    _until_ended(api, running["runId"], other)
    api("POST", "/api/v1/ci/trigger", 400, headers=bearer, json_body={"maxPages": 5})
    api("POST", "/api/v1/ci/trigger", 401, headers=_bearer("sentri_nope"))
    api("GET", "/api/v1/ci/runs/{runId}", 404, headers=_bearer(other_token), runId=started["runId"])
    api("GET", "/api/v1/ci/runs/{runId}", 401, runId=started["runId"])

    runs = api("GET", "/api/v1/projects/{projectId}/runs", 200, headers=member, projectId=pid).get_json()
    assert [r["runId"] for r in runs][-1] == started["runId"]
    api("GET", "/api/v1/projects/{projectId}/runs", 400, headers=member, projectId=pid, query="page=0")
    api("GET", "/api/v1/projects/{projectId}/runs", 404, headers=member, projectId="PRJ-404")
    detail = api("GET", "/api/v1/runs/{runId}", 200, headers=member, runId=started["runId"]).get_json()
    api("GET", "/api/v1/runs/{runId}", 404, headers=member, runId="RUN-404")
    api("GET", "/api/v1/runs/{runId}", 401, headers=bearer, runId=started["runId"])
    junit = "/api/v1/runs/{runId}/junit.xml"
    assert api("GET", junit, 200, headers=bearer, runId=started["runId"]).data.startswith(b"<?xml")
    api("GET", junit, 200, headers=member, runId=started["runId"])
    api("GET", junit, 404, headers=_bearer(other_token), runId=started["runId"])
    api("GET", junit, 401, runId=started["runId"])
    failing = next(r for r in detail["results"] if r["screenshotUrl"])
    passing = next(r for r in detail["results"] if r["status"] == "passed")
    for artifact in ("screenshot.png", "trace.zip"):
        path = "/api/v1/runs/{runId}/results/{position}/" + artifact
        api("GET", path, 200, headers=bearer, runId=started["runId"], position=failing["position"])
        api("GET", path, 404, headers=member, runId=started["runId"], position=passing["position"])
        api("GET", path, 401, runId=started["runId"], position=failing["position"])

    # A run still going after SENTRI_WAIT_MAX_SECONDS is a 504; with no free waiter, a 503.
    slow_pid, slow_token = _project(app, site, SLOW_STEPS)
    override(app, SENTRI_WAIT_MAX_SECONDS=1)
    timed_out = api(
        "POST", "/api/v1/ci/trigger", 504, headers=_bearer(slow_token), json_body={"wait": True}
    ).get_json()
    api("POST", "/api/v1/runs/{runId}/abort", 200, headers=member, runId=timed_out["runId"])
    _until_ended(api, timed_out["runId"], _bearer(slow_token))
    override(app, SENTRI_MAX_WAITERS=0)
    full = api(
        "POST", trigger, 503, headers=_bearer(slow_token), json_body={"wait": True}, projectId=slow_pid
    ).get_json()
    api("POST", "/api/v1/runs/{runId}/abort", 200, headers=admin, runId=full["runId"])
    api("POST", "/api/v1/runs/{runId}/abort", 404, headers=admin, runId="RUN-404")


def test_limits_and_failures_answer_as_described(app_factory, monkeypatch):
    app = app_factory(
        RATELIMIT_ENABLED=True,
        SENTRI_LOGIN_RATE_LIMIT="2 per minute",
        SENTRI_TRIGGER_RATE_LIMIT="1 per hour",
        SENTRI_API_RATE_LIMIT="1 per minute",
        MAX_CONTENT_LENGTH=4096,
    )
    api = Described(app.test_client())
    _, admin, _ = _people(app)
    pid, token = _project(app, "http://127.0.0.1:9")
    login = {"email": "nobody@example.com", "password": "x"}
    api("POST", "/api/v1/auth/login", 401, json_body=login)
    api("POST", "/api/v1/auth/login", 401, json_body=login)
    limited = api("POST", "/api/v1/auth/login", 429, json_body=login)
    assert int(limited.headers["Retry-After"]) > 0
    api("POST", "/api/v1/projects/{projectId}/trigger", 400, headers=_bearer(token), projectId=pid)
    api("POST", "/api/v1/projects/{projectId}/trigger", 429, headers=_bearer(token), projectId=pid)
    api("POST", "/api/v1/ci/trigger", 400, headers=_bearer(token))
    api("POST", "/api/v1/ci/trigger", 429, headers=_bearer(token))
    api("GET", "/api/v1/ci/runs/{runId}", 404, headers=_bearer(token), runId="RUN-1")
    api(
        "GET",
        "/api/v1/projects/{projectId}/trigger/runs/{runId}",
        429,
        headers=_bearer(token),
        projectId=pid,
        runId="RUN-1",
    )
    api("GET", "/api/v1/ci/runs/{runId}", 429, headers=_bearer(token), runId="RUN-1")
    huge = {"name": "x" * 5000, "baseUrl": "http://127.0.0.1:9"}
    api("POST", "/api/v1/projects", 413, headers=admin, json_body=huge)
    api(
        "PATCH",
        "/api/v1/projects/{projectId}/quality-gates",
        413,
        headers=admin,
        projectId=pid,
        data=json.dumps({"minPassRate": 1, "pad": "x" * 5000}),
    )
    api("GET", "/api/v1/openapi.json", 200)
    api("GET", "/healthz", 200)
    api("GET", "/health", 200)

    def broken(*args, **kwargs):
        from sqlalchemy.exc import OperationalError

        raise OperationalError("SELECT 1", {}, Exception("database is gone"))

    monkeypatch.setattr(db.session, "execute", broken)
    api("GET", "/healthz", 503)
    api("GET", "/health", 503)


def test_password_changes_answer_as_described(app, client):
    api = Described(client)
    admin_id, admin, member = _people(app)
    member_id = api("GET", "/api/v1/auth/me", 200, headers=member).get_json()["id"]
    own = "/api/v1/auth/password"
    api(
        "POST",
        own,
        400,
        headers=member,
        json_body={"currentPassword": "wrong", "newPassword": "long enough pw"},
    )
    api(
        "POST",
        own,
        400,
        headers=member,
        json_body={"currentPassword": "correct horse battery", "newPassword": "x"},
    )
    api(
        "POST",
        own,
        401,
        json_body={"currentPassword": "correct horse battery", "newPassword": "long enough pw"},
    )
    changed = api(
        "POST",
        own,
        200,
        headers=member,
        json_body={"currentPassword": "correct horse battery", "newPassword": "long enough pw"},
    ).get_json()
    api("GET", "/api/v1/auth/me", 401, headers=member)  # older tokens stop working
    api("GET", "/api/v1/auth/me", 200, headers=_bearer(changed["token"]))
    reset = "/api/v1/users/{userId}/password"
    api(
        "POST",
        reset,
        403,
        headers=_bearer(changed["token"]),
        json_body={"newPassword": "another one"},
        userId=admin_id,
    )
    api("POST", reset, 404, headers=admin, json_body={"newPassword": "another one"}, userId="USR-999999")
    api("POST", reset, 400, headers=admin, json_body={"newPassword": "x"}, userId=member_id)
    api("POST", reset, 200, headers=admin, json_body={"newPassword": "another one"}, userId=member_id)
