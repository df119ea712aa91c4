"""The second CI surface (/api/v1/ci) and the run options both surfaces share."""

from __future__ import annotations

import json
import threading
import time

import pytest

from sentri import projects, testcases, tokens
from sentri.queue import lifecycle
from sentri.worker import browsers

pytestmark = pytest.mark.browser

OK = [{"goto": "/ok"}, {"expect_text": {"css": "h1"}, "text": "OK"}]
BROKEN = [{"goto": "/fail"}, {"expect_text": {"css": "h1"}, "text": "OK", "timeout": 300}]
SLOW = [{"goto": "/ok"}, {"wait": 20000}]


def _project(app, base_url, tests, name="CI"):
    with app.app_context():
        project = projects.create(name, base_url)
        ids = []
        for test_name, steps in tests.items():
            test = testcases.create(project, {"name": test_name, "steps": steps})
            if not test_name.startswith("draft"):
                testcases.review(test, "approve")
            ids.append(test.public_id)
        _, token = tokens.create(project)
        return project.public_id, token, ids


def _h(token, alias=False):
    return {"Authorization": f"Bearer {'aegis_' if alias else ''}{token}"}


def _poll(client, url, token, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = client.get(url, headers=_h(token)).get_json()
        if body["status"] not in ("queued", "running"):
            return body
        time.sleep(0.1)
    raise AssertionError(body)


def test_the_ci_surface_triggers_with_an_aegis_token_and_reports_status(app, client, site):
    _, token, _ = _project(app, site, {"home": OK})
    response = client.post("/api/v1/ci/trigger", json={}, headers=_h(token, alias=True))
    assert response.status_code == 202
    body = response.get_json()
    assert (
        body["status"] == "queued"
        and body["runType"] == "ci"
        and body["url"].endswith(f"/runs/{body['runId']}")
    )
    final = _poll(client, body["statusUrl"], token)
    assert (final["status"], final["passed"], final["failed"], final["verdict"]) == (
        "completed",
        1,
        0,
        "passed",
    )
    assert final["durationMs"] is not None and final["url"] == body["url"]
    assert (
        client.post("/api/v1/ci/trigger", headers={"Authorization": "Bearer aegis_nope"}).status_code == 401
    )
    assert client.get(f"/api/v1/ci/runs/{body['runId']}").status_code == 401


def test_a_ci_token_sees_only_its_own_projects_runs_and_the_lock_is_shared(app, client, site):
    project_id, token, _ = _project(app, site, {"slow": SLOW})
    _, other_token, _ = _project(app, site, {"home": OK}, name="Other")
    first = client.post(f"/api/v1/projects/{project_id}/trigger", headers=_h(token)).get_json()
    busy = client.post("/api/v1/ci/trigger", json={}, headers=_h(token))
    assert busy.status_code == 409 and busy.get_json()["runId"] == first["runId"]
    assert client.get(f"/api/v1/ci/runs/{first['runId']}", headers=_h(other_token)).status_code == 404


@pytest.mark.parametrize("surface", ["sentri", "ci"])
def test_wait_answers_200_for_a_passing_run_and_422_for_a_failing_one(app, client, site, surface):
    project_id, token, _ = _project(app, site, {"home": OK})
    broken_id, broken_token, _ = _project(app, site, {"broken": BROKEN}, name="Broken")

    def trigger(pid, tok):
        url = f"/api/v1/projects/{pid}/trigger" if surface == "sentri" else "/api/v1/ci/trigger"
        return client.post(url, json={"wait": True}, headers=_h(tok))

    passed = trigger(project_id, token)
    assert passed.status_code == 200
    assert passed.get_json()["verdict"] == "passed" and passed.get_json()["status"] == "completed"
    failed = trigger(broken_id, broken_token)
    assert failed.status_code == 422
    body = failed.get_json()
    assert body["verdict"] == "failed" and body["failed"] == 1 and "verdict failed" in body["error"]


def test_a_wait_that_outlasts_its_limit_answers_504_with_the_run_id(app_factory, site):
    app = app_factory(SENTRI_WAIT_MAX_SECONDS=1)
    client = app.test_client()
    project_id, token, _ = _project(app, site, {"slow": SLOW})
    response = client.post(f"/api/v1/projects/{project_id}/trigger", json={"wait": True}, headers=_h(token))
    assert response.status_code == 504
    body = response.get_json()
    assert body["runId"] == "RUN-1" and "still running" in body["error"] and body["statusUrl"]


def test_waiters_beyond_the_cap_get_503_while_other_requests_are_answered(app_factory, site):
    app = app_factory(SENTRI_MAX_WAITERS=1, SENTRI_WAIT_MAX_SECONDS=20)
    project_id, token, _ = _project(app, site, {"slow": SLOW})
    other_id, other_token, _ = _project(app, site, {"home": OK}, name="Other")
    held = []
    waiter = threading.Thread(
        target=lambda: held.append(
            app.test_client().post(
                f"/api/v1/projects/{project_id}/trigger", json={"wait": True}, headers=_h(token)
            )
        )
    )
    waiter.start()
    client = app.test_client()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if client.get("/api/v1/projects/PRJ-1/trigger/runs/RUN-1", headers=_h(token)).status_code == 200:
            break
        time.sleep(0.05)
    time.sleep(0.3)  # the waiter is inside its wait now
    full = client.post(f"/api/v1/projects/{other_id}/trigger", json={"wait": True}, headers=_h(other_token))
    assert full.status_code == 503 and "waiting" in full.get_json()["error"] and full.get_json()["runId"]
    assert client.get("/healthz").status_code == 200
    with app.app_context():
        lifecycle.abort(lifecycle.get("RUN-1"))
    waiter.join(timeout=30)
    assert held and held[0].status_code == 422


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"crawl": "true"}, "crawl"),
        ({"maxPages": 5, "fillForms": True}, "maxPages, fillForms: only applies with"),
        ({"suiteIds": ["SUI-1"]}, "suiteIds: not suites of"),
        ({"environmentId": "ENV-1"}, "environmentId: Environment ENV-1 not found"),
        ({"selectionStrategy": "random"}, "selectionStrategy"),
        ({"recentDays": 0}, "recentDays"),
        ({"wait": "yes"}, "wait"),
        ({"baseUrl": "file:///etc/passwd"}, "baseUrl"),
        ({"browserProfile": "opera"}, "browserProfile"),
        ({"device": "tablet"}, "device"),
        ({"caseIds": "TST-1"}, "caseIds"),
        ({"caseIds": ["TST-99"]}, "TST-99"),
        ({"githubRepo": "not a repo"}, "githubRepo"),
        ({"githubCommitSha": "abc"}, "githubCommitSha"),
        ({"dialsConfig": {"parallelWorkers": 2}}, "dialsConfig"),  # the CI surface has no dials
    ],
)
def test_bad_ci_options_are_400_naming_the_field_and_leave_no_run(app, client, site, body, needle):
    _, token, _ = _project(app, site, {"home": OK})
    response = client.post("/api/v1/ci/trigger", json=body, headers=_h(token))
    assert response.status_code == 400 and needle in response.get_json()["error"]
    assert client.get("/api/v1/ci/runs/RUN-1", headers=_h(token)).status_code == 404


def test_case_ids_restrict_the_run_and_drafts_are_refused(app, client, site, admin_headers):
    _project_id, token, ids = _project(app, site, {"a": OK, "b": OK, "draft c": OK})
    draft = client.post("/api/v1/ci/trigger", json={"caseIds": [ids[2]]}, headers=_h(token))
    assert draft.status_code == 400 and f"{ids[2]} (draft)" in draft.get_json()["error"]
    run = client.post("/api/v1/ci/trigger", json={"caseIds": [ids[1]]}, headers=_h(token)).get_json()
    final = _poll(client, run["statusUrl"], token)
    assert (final["total"], final["passed"], final["skipped"]) == (
        2,
        1,
        1,
    )  # the other approved one: deselected
    detail = client.get(f"/api/v1/runs/{run['runId']}", headers=admin_headers).get_json()
    assert [(r["testId"], r["status"], r["skipReason"]) for r in detail["results"]] == [
        (ids[1], "passed", None),
        (ids[0], "skipped", "deselected"),
    ]
    assert detail["options"]["selection"]["caseIds"] == [ids[1]]
    assert detail["options"]["selection"]["testIds"] == [ids[1]]


def test_base_url_overrides_the_project_url_for_one_run_and_is_recorded(app, client, site, admin_headers):
    project_id, token, _ = _project(app, "http://127.0.0.1:9", {"home": OK})
    # The site's origin is not the project's: a token cannot send the run (and its secrets) there...
    refused = client.post(f"/api/v1/projects/{project_id}/trigger", json={"baseUrl": site}, headers=_h(token))
    assert refused.status_code == 400
    assert "baseUrl" in refused.get_json()["error"] and "allowedOrigins" in refused.get_json()["error"]
    # ...until an admin allows it (a preview origin, say).
    allowed = client.patch(
        f"/api/v1/projects/{project_id}", json={"allowedOrigins": [site]}, headers=admin_headers
    )
    assert allowed.status_code == 200 and allowed.get_json()["allowedOrigins"] == [site]
    response = client.post(
        f"/api/v1/projects/{project_id}/trigger", json={"baseUrl": site, "wait": True}, headers=_h(token)
    )
    assert response.status_code == 200, response.get_json()
    detail = client.get(f"/api/v1/runs/{response.get_json()['runId']}", headers=admin_headers).get_json()
    assert detail["results"][0]["baseUrl"] == site and detail["options"]["baseUrl"] == site


def test_an_engine_that_is_not_installed_is_a_400_saying_how_to_install_it(app, client, site):
    _, token, _ = _project(app, site, {"home": OK})
    for engine in ("firefox", "webkit"):
        response = client.post("/api/v1/ci/trigger", json={"browserProfile": engine}, headers=_h(token))
        if browsers.managed_browser_paths()[engine]:
            assert response.status_code == 202  # this server has it: the run goes ahead
            continue
        assert response.status_code == 400
        assert f"playwright install --with-deps {engine}" in response.get_json()["error"]


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def test_device_mobile_runs_with_a_phone_viewport(app, client, site, admin_headers):
    project_id, token, _ = _project(app, site, {"broken": BROKEN})
    sizes = {}
    for device in ("desktop", "mobile"):
        response = client.post(
            f"/api/v1/projects/{project_id}/trigger", json={"device": device, "wait": True}, headers=_h(token)
        )
        assert response.status_code == 422
        detail = client.get(f"/api/v1/runs/{response.get_json()['runId']}", headers=admin_headers).get_json()
        shot = client.get(detail["results"][0]["screenshotUrl"], headers=admin_headers)
        sizes[device] = _png_size(shot.data)
    assert sizes["desktop"] == (1280, 720)
    # Playwright's Pixel 7: a 412 x 839 CSS-pixel viewport at a device scale factor of 2.625.
    width, height = sizes["mobile"]
    assert abs(width - 412 * 2.625) <= 1 and abs(height - 839 * 2.625) <= 1


def test_github_fields_are_validated_and_the_token_is_never_kept(app, client, site, admin_headers):
    from pathlib import Path

    _, token, _ = _project(app, site, {"home": OK})
    secret = "ghp_" + "x" * 36
    body = {
        "githubRepo": "octo/app",
        "githubPrNumber": 7,
        "githubCommitSha": "a" * 40,
        "githubToken": secret,
        "wait": True,
    }
    response = client.post("/api/v1/ci/trigger", json=body, headers=_h(token))
    assert response.status_code == 200
    detail = client.get(f"/api/v1/runs/{response.get_json()['runId']}", headers=admin_headers).get_json()
    github = detail["integrations"]["github"]
    assert (github["repo"], github["prNumber"], github["commitSha"]) == ("octo/app", 7, "a" * 40)
    assert secret not in json.dumps(detail)
    for path in Path(app.instance_path).glob("sentri.db*"):
        assert secret.encode() not in path.read_bytes()


def test_the_status_endpoints_are_rate_limited_per_token(app_factory, site):
    app = app_factory(RATELIMIT_ENABLED=True, SENTRI_API_RATE_LIMIT="3 per minute")
    client = app.test_client()
    project_id, token, _ = _project(app, site, {"home": OK})
    _, other_token, _ = _project(app, site, {"home": OK}, name="Other")
    run = client.post(f"/api/v1/projects/{project_id}/trigger", headers=_h(token)).get_json()
    codes = [client.get(run["statusUrl"], headers=_h(token)).status_code for _ in range(3)]
    codes.append(client.get(f"/api/v1/ci/runs/{run['runId']}", headers=_h(token)).status_code)
    assert codes == [200, 200, 200, 429]
    # Another token has its own budget.
    assert client.get("/api/v1/ci/runs/RUN-1", headers=_h(other_token)).status_code == 404


def test_junit_xml_validates_against_the_jenkins_schema_and_reports_every_outcome(
    app, client, site, admin_headers, junit_xsd
):

    from lxml import etree

    flaky = [{"goto": "/flaky/j"}, {"expect_title": "Flaky OK", "timeout": 500}]
    project_id, token, _ids = _project(app, site, {"ok": OK, "broken": BROKEN, "flaky": flaky})
    run = client.post(
        f"/api/v1/projects/{project_id}/trigger",
        json={"wait": True, "dialsConfig": {"retries": 1}},
        headers=_h(token),
    ).get_json()
    response = client.get(f"/api/v1/runs/{run['runId']}/junit.xml", headers=_h(token))
    assert response.status_code == 200 and response.mimetype == "application/xml"
    schema = etree.XMLSchema(etree.parse(str(junit_xsd)))
    document = etree.fromstring(response.data)
    schema.assertValid(document)
    suite = document.find("testsuite")
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("3", "1", "0")
    cases = {case.get("name"): case for case in suite.findall("testcase")}
    assert all(case.get("classname") == "CI" for case in cases.values())
    failure = cases["broken"].find("failure")
    assert "Failing step: 2" in failure.text and failure.get("message").startswith("step 2 (expect_text)")
    assert len(cases["broken"].findall("rerunFailure")) == 1  # the first of its two attempts
    assert cases["flaky"].find("failure") is None and len(cases["flaky"].findall("flakyFailure")) == 1
    assert cases["ok"].find("failure") is None
    # A user may read it too; another project's token may not; nobody without credentials.
    assert client.get(f"/api/v1/runs/{run['runId']}/junit.xml", headers=admin_headers).status_code == 200
    _, other_token, _ = _project(app, site, {"x": OK}, name="Other")
    assert client.get(f"/api/v1/runs/{run['runId']}/junit.xml", headers=_h(other_token)).status_code == 404
    assert client.get(f"/api/v1/runs/{run['runId']}/junit.xml").status_code == 401


def test_a_failure_keeps_a_playwright_trace_and_old_artifacts_are_pruned(app, client, site, admin_headers):
    import io
    import zipfile
    from datetime import timedelta
    from pathlib import Path

    from sentri.artifacts import prune
    from sentri.database import write
    from sentri.extensions import db
    from sentri.models import Run, utcnow

    project_id, token, _ = _project(app, site, {"ok": OK, "broken": BROKEN})
    run = client.post(
        f"/api/v1/projects/{project_id}/trigger", json={"wait": True}, headers=_h(token)
    ).get_json()
    detail = client.get(f"/api/v1/runs/{run['runId']}", headers=admin_headers).get_json()
    results = {r["testName"]: r for r in detail["results"]}
    assert results["ok"]["traceUrl"] is None and results["ok"]["screenshotUrl"] is None
    trace = client.get(results["broken"]["traceUrl"], headers=_h(token))
    assert trace.status_code == 200 and trace.mimetype == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(trace.data)).namelist()
    assert "trace.trace" in names and "trace.network" in names  # what `playwright show-trace` opens
    files = list((Path(app.instance_path) / "artifacts" / run["runId"]).iterdir())
    assert len(files) == 2

    assert prune(app) == 0  # within the retention: kept
    with app.app_context(), write():
        db.session.get(Run, int(run["runId"][4:])).finished_at = utcnow() - timedelta(days=31)
    assert prune(app) == 2
    assert not any(path.exists() for path in files)
    gone = client.get(results["broken"]["screenshotUrl"], headers=admin_headers)
    assert gone.status_code == 404 and "pruned" in gone.get_json()["error"]
