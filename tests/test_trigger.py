"""The trigger and status endpoints and the engine behind them, in-process with real Chromium."""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from sentri import projects, testcases, tokens
from sentri.extensions import db
from sentri.models import Run, TriggerToken
from sentri.queue import lifecycle
from sentri.runs import options as run_options
from tests.conftest import both_databases
from tests.support.processes import command_line, descendants
from tests.support.settings import override

pytestmark = pytest.mark.browser


def _project(app, base_url, tests, approve=True, name="Shop"):
    """Create a project with the given tests (lists of steps) and a token; return (PRJ-n, token)."""
    with app.app_context():
        project = projects.create(name, base_url)
        for index, steps in enumerate(tests):
            test = testcases.create(project, {"name": f"test {index + 1}", "steps": steps})
            if approve:
                testcases.review(test, "approve")
        _, plaintext = tokens.create(project)
        return project.public_id, plaintext


def _auth(token):
    return {"Authorization": f"Bearer {token}"}


def _trigger(client, project_id, token, body=None, **kwargs):
    data = None if body is None else json.dumps(body)
    return client.post(
        f"/api/v1/projects/{project_id}/trigger",
        data=data,
        content_type="application/json",
        headers={**_auth(token), **kwargs.pop("headers", {})},
        **kwargs,
    )


def _wait(client, status_url, token, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = client.get(status_url, headers=_auth(token)).get_json()
        if body["status"] != "running":
            return body
        time.sleep(0.1)
    raise AssertionError(f"run still running after {timeout} s: {body}")


def _run_count(app):
    with app.app_context():
        return db.session.query(Run).count()


OK = [{"action": "goto", "url": "/ok"}, {"action": "expect_text", "target": {"css": "h1"}, "text": "OK"}]
SLOW = [{"action": "goto", "url": "/ok"}, {"action": "wait", "ms": 30000}]


def test_a_trigger_runs_the_approved_tests_and_the_status_follows(app, client, site):
    project_id, token = _project(app, site, [OK, OK, [{"action": "goto", "url": "/fail"}, *OK[1:]]])
    response = _trigger(client, project_id, token)
    assert response.status_code == 202
    body = response.get_json()
    assert body["runId"] == "RUN-1"
    assert body["statusUrl"] == f"http://localhost/api/v1/projects/{project_id}/trigger/runs/RUN-1"
    final = _wait(client, body["statusUrl"], token)
    assert (final["status"], final["verdict"]) == ("completed", "failed")
    assert (final["passed"], final["failed"], final["skipped"], final["total"]) == (2, 1, 0, 3)
    assert final["url"] == "http://localhost/runs/RUN-1" and final["gateResult"] is None
    assert final["finishedAt"] and final["duration"] >= 0
    with app.app_context():
        run = lifecycle.get("RUN-1")
        failed = next(r for r in run.results if r.status == "failed")
        assert failed.failing_step == 2 and "step 2 (expect_text)" in failed.error
        assert failed.screenshot and (app.instance_path + "/" + failed.screenshot).endswith(".png")
        assert db.session.get(TriggerToken, 1).last_used_at is not None


def test_statusurl_uses_the_public_url_or_trusted_forwarded_headers(app_factory, site):
    app = app_factory(SENTRI_PUBLIC_URL="https://sentri.example.com/")
    project_id, token = _project(app, site, [OK])
    url = _trigger(app.test_client(), project_id, token).get_json()["statusUrl"]
    assert url.startswith("https://sentri.example.com/api/v1/projects/")

    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "ci.example.org"}
    untrusting = app_factory()
    project_id, token = _project(untrusting, site, [OK])
    url = _trigger(untrusting.test_client(), project_id, token, headers=forwarded).get_json()["statusUrl"]
    assert url.startswith("http://localhost/")


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ([1, 2], "JSON object"),
        ("text", "JSON object"),
        ({"callbackUrl": "ftp://127.0.0.1/x"}, "callbackUrl"),
        ({"callbackUrl": "http://10.0.0.5/hook"}, "private"),
        ({"callbackUrl": 5}, "callbackUrl"),
        ({"dialsConfig": [1]}, "dialsConfig"),
        ({"dialsConfig": {"parallelWorkers": "two"}}, "parallelWorkers"),
        ({"crawl": 1}, "crawl"),
        ({"maxPages": 10}, "maxPages: only applies with"),
    ],
)
def test_a_bad_trigger_body_is_a_400_and_leaves_no_run(app, client, site, body, needle):
    project_id, token = _project(app, site, [OK])
    response = _trigger(client, project_id, token, body)
    assert response.status_code == 400 and needle in response.get_json()["error"]
    assert _run_count(app) == 0
    assert _trigger(client, project_id, token).status_code == 202  # no lock left behind either


def test_invalid_json_is_a_400(app, client, site):
    project_id, token = _project(app, site, [OK])
    response = client.post(f"/api/v1/projects/{project_id}/trigger", data="{nope", headers=_auth(token))
    assert response.status_code == 400 and _run_count(app) == 0


def test_projects_without_tests_or_approved_tests_get_400(app, client, site):
    empty, token = _project(app, site, [], name="Empty")
    assert "add tests first" in _trigger(client, empty, token).get_json()["error"]
    drafts, token2 = _project(app, site, [OK], approve=False, name="Drafts")
    response = _trigger(client, drafts, token2)
    assert response.status_code == 400 and "approve tests first" in response.get_json()["error"]
    assert _run_count(app) == 0


def test_malformed_budgets_mean_no_budget_and_dials_are_clamped(app, client, site):
    project_id, token = _project(app, site, [OK])
    # Generation dials are checked (perspectives names a draft generator); dials nobody reads are ignored.
    bad = _trigger(client, project_id, token, {"dialsConfig": {"perspectives": 3}})
    assert bad.status_code == 400 and "perspectives" in bad.get_json()["error"]
    body = {"budgetMinutes": "ten", "dialsConfig": {"parallelWorkers": 99, "retries": -4, "temperature": 3}}
    response = _trigger(client, project_id, token, body)
    assert response.status_code == 202
    with app.app_context():
        options = lifecycle.get("RUN-1").options
    assert (
        options["dialsConfig"] == {"parallelWorkers": 10, "retries": 0, "vitalsSamples": 1}
        and options["budgetMinutes"] is None
    )
    for budget, expected in ((5, 5.0), (1000, 240.0), (-1, None), (True, None), (float("nan"), None)):
        assert run_options._budget(budget) == expected


def test_auth_rules_401_before_404_then_403(app, client, site):
    project_id, token = _project(app, site, [OK])
    other_id, _ = _project(app, site, [OK], name="Other")
    for headers in (
        {},
        {"Authorization": "Bearer nope"},
        {"Authorization": f"Basic {token}"},
        _auth(tokens.generate()),
    ):
        response = client.post("/api/v1/projects/PRJ-404/trigger", headers=headers)
        assert response.status_code == 401 and response.get_json()["error"]
    assert client.post("/api/v1/projects/PRJ-404/trigger", headers=_auth(token)).status_code == 404
    assert client.post(f"/api/v1/projects/{other_id}/trigger", headers=_auth(token)).status_code == 403
    from tests.conftest import _make_user

    _, jwt_headers = _make_user(app, "ada@example.com", "admin")
    assert client.post(f"/api/v1/projects/{project_id}/trigger", headers=jwt_headers).status_code == 401
    assert _run_count(app) == 0


def test_status_endpoint_auth_and_scoping(app, client, site):
    project_id, token = _project(app, site, [OK])
    other_id, other_token = _project(app, site, [OK], name="Other")
    run_id = _trigger(client, project_id, token).get_json()["runId"]
    base = f"/api/v1/projects/{project_id}/trigger/runs/{run_id}"
    assert client.get(base).status_code == 401
    assert client.get(base, headers=_auth(other_token)).status_code == 403
    assert (
        client.get(f"/api/v1/projects/{project_id}/trigger/runs/RUN-999", headers=_auth(token)).status_code
        == 404
    )
    other_run = _trigger(client, other_id, other_token).get_json()["runId"]
    assert (
        client.get(
            f"/api/v1/projects/{project_id}/trigger/runs/{other_run}", headers=_auth(token)
        ).status_code
        == 404
    )
    assert client.get(base, headers=_auth(token)).status_code == 200


def test_a_second_trigger_while_active_is_a_409_with_the_active_run(app, client, site):
    project_id, token = _project(app, site, [SLOW])
    first = _trigger(client, project_id, token).get_json()["runId"]
    second = _trigger(client, project_id, token)
    assert second.status_code == 409
    assert second.get_json()["runId"] == first and "active run" in second.get_json()["error"]


def test_the_trigger_rate_limit_is_per_client_ip_and_spares_status_polls(app_factory, site):
    app = app_factory(RATELIMIT_ENABLED=True, SENTRI_TRIGGER_RATE_LIMIT="2 per hour")
    client = app.test_client()
    project_id, token = _project(app, site, [OK])
    status_url = _trigger(client, project_id, token).get_json()["statusUrl"]
    _wait(client, status_url, token)
    assert _trigger(client, project_id, token).status_code in (202, 409)
    # A forged X-Forwarded-For does not open a new bucket when no proxy is trusted.
    limited = _trigger(client, project_id, token, headers={"X-Forwarded-For": "203.0.113.9"})
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) > 0
    assert "Rate limit" in limited.get_json()["error"]
    for _ in range(5):
        assert client.get(status_url, headers=_auth(token)).status_code == 200


def test_behind_a_trusted_proxy_the_limit_follows_x_forwarded_for(app_factory, site):
    app = app_factory(
        RATELIMIT_ENABLED=True, SENTRI_TRIGGER_RATE_LIMIT="1 per hour", SENTRI_TRUSTED_PROXIES=1
    )
    client = app.test_client()
    project_id, token = _project(app, site, [])
    first = {"X-Forwarded-For": "203.0.113.1"}
    assert _trigger(client, project_id, token, headers=first).status_code == 400
    assert _trigger(client, project_id, token, headers=first).status_code == 429
    assert _trigger(client, project_id, token, headers={"X-Forwarded-For": "203.0.113.2"}).status_code == 400


def test_retries_record_every_attempt_and_pass_after_retry_is_flaky(app, client, site):
    flaky = [
        {"action": "goto", "url": "/flaky/a"},
        {"action": "expect_title", "title": "Flaky OK", "timeout": 500},
    ]
    project_id, token = _project(app, site, [flaky, OK])
    run = _trigger(client, project_id, token, {"dialsConfig": {"retries": 2}}).get_json()
    final = _wait(client, run["statusUrl"], token)
    assert (final["passed"], final["failed"], final["flaky"], final["verdict"]) == (2, 0, 1, "passed")
    with app.app_context():
        result = lifecycle.get(run["runId"]).results[0]
        assert result.flaky and [a["status"] for a in result.attempts] == ["failed", "passed"]
        assert result.attempts[0]["failingStep"] == 2


def test_a_test_over_its_timeout_fails_naming_the_step(app_factory, site):
    app = app_factory(SENTRI_TEST_TIMEOUT_SECONDS=1)
    client = app.test_client()
    project_id, token = _project(app, site, [SLOW])
    final = _wait(client, _trigger(client, project_id, token).get_json()["statusUrl"], token)
    assert final["failed"] == 1
    with app.app_context():
        result = lifecycle.get(final["runId"]).results[0]
    assert result.failing_step == 2 and "1 s timeout" in result.error


def test_runs_beyond_capacity_wait_as_running_phase_queued(app_factory, site):
    app = app_factory(SENTRI_MAX_BROWSERS=1)
    client = app.test_client()
    busy, busy_token = _project(app, site, [SLOW])
    waiting, waiting_token = _project(app, site, [OK], name="Waiting")
    _trigger(client, busy, busy_token)
    deadline = time.monotonic() + 20
    with app.app_context():
        while lifecycle.get("RUN-1").status != "running" and time.monotonic() < deadline:
            db.session.rollback()  # a new read transaction sees the worker's commit
            time.sleep(0.05)
    second = _trigger(client, waiting, waiting_token).get_json()
    status = client.get(second["statusUrl"], headers=_auth(waiting_token)).get_json()
    assert (status["status"], status["phase"], status["verdict"]) == ("running", "queued", "pending")


def test_abort_stops_the_running_test_and_skips_the_queued_ones(app, client, site, admin_headers, sink):
    override(app, SENTRI_CALLBACK_ALLOWLIST="127.0.0.1")
    project_id, token = _project(app, site, [SLOW, OK, OK])
    run = _trigger(client, project_id, token, {"callbackUrl": sink.url}).get_json()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if client.get(run["statusUrl"], headers=_auth(token)).get_json()["phase"] == "running":
            break
        time.sleep(0.05)
    aborted = client.post(f"/api/v1/runs/{run['runId']}/abort", headers=admin_headers)
    assert aborted.status_code == 200
    final = _wait(client, run["statusUrl"], token, timeout=10)
    assert (final["status"], final["verdict"], final["skipped"]) == ("aborted", "failed", 3)
    detail = client.get(f"/api/v1/runs/{run['runId']}", headers=admin_headers).get_json()
    assert {r["skipReason"] for r in detail["results"]} == {"aborted"}
    assert client.post(f"/api/v1/runs/{run['runId']}/abort", headers=admin_headers).status_code == 409
    body = json.loads(sink.wait(1)[0]["body"])
    assert body["status"] == "aborted" and body["runId"] == run["runId"]


def test_the_callback_carries_the_seed_payload(app, client, site, sink):
    override(app, SENTRI_CALLBACK_ALLOWLIST="127.0.0.1")
    project_id, token = _project(app, site, [OK])
    run = _trigger(client, project_id, token, {"callbackUrl": sink.url}).get_json()
    _wait(client, run["statusUrl"], token)
    received = sink.wait(1)
    assert received[0]["headers"]["Content-Type"] == "application/json"
    body = json.loads(received[0]["body"])
    assert body == {
        "runId": run["runId"],
        "status": "completed",
        "passed": 1,
        "failed": 0,
        "total": 1,
        "error": None,
        "gateResult": None,
        "webVitalsResult": None,
        "verdict": "passed",
        "url": "http://localhost/runs/RUN-1",
    }


def test_the_user_api_lists_runs_and_shows_results(app, client, site, admin_headers):
    project_id, token = _project(app, site, [OK, [{"action": "goto", "url": "/fail"}, *OK[1:]]])
    run = _trigger(client, project_id, token).get_json()
    _wait(client, run["statusUrl"], token)
    listing = client.get(f"/api/v1/projects/{project_id}/runs", headers=admin_headers)
    assert [r["id"] for r in listing.get_json()] == [run["runId"]]
    detail = client.get(f"/api/v1/runs/{run['runId']}", headers=admin_headers).get_json()
    assert [r["status"] for r in detail["results"]] == ["passed", "failed"]
    failed = detail["results"][1]
    assert failed["failingStep"] == 2 and failed["screenshotUrl"]
    image = client.get(failed["screenshotUrl"], headers=admin_headers)
    assert image.status_code == 200 and image.data.startswith(b"\x89PNG")
    assert client.get("/api/v1/runs/RUN-77", headers=admin_headers).status_code == 404
    assert client.get(f"/api/v1/runs/{run['runId']}", headers=_auth(token)).status_code == 401


def test_a_crashed_browser_is_relaunched_for_the_next_test(app, client, site):
    import os
    import signal

    project_id, token = _project(app, site, [OK])
    assert _wait(client, _trigger(client, project_id, token).get_json()["statusUrl"], token)["passed"] == 1
    browsers_killed = 0
    for pid in descendants(os.getpid()):
        if "chrom" in "".join(command_line(pid)[:1]).lower():
            os.kill(pid, signal.SIGKILL)
            browsers_killed += 1
    assert browsers_killed >= 1
    final = _wait(client, _trigger(client, project_id, token).get_json()["statusUrl"], token)
    assert (final["status"], final["passed"]) == ("completed", 1), final


def test_a_browser_that_cannot_start_fails_the_run_with_a_clear_error(app_factory, site, tmp_path):
    app = app_factory(SENTRI_CHROMIUM_PATH=str(tmp_path / "no-such-chromium"))
    client = app.test_client()
    project_id, token = _project(app, site, [OK, OK])
    final = _wait(client, _trigger(client, project_id, token).get_json()["statusUrl"], token)
    assert (final["status"], final["verdict"]) == ("failed", "failed")
    assert final["error"].startswith("The browser could not start") and "no-such-chromium" in final["error"]
    assert _trigger(client, project_id, token).status_code == 202  # the lock was released


def _fire_together(url, token, bodies):
    """POST every body at once from its own thread (a barrier lines them up); return the responses in order."""
    barrier = threading.Barrier(len(bodies))

    def fire(body):
        barrier.wait(timeout=10)
        return requests.post(url, json=body, headers=_auth(token), timeout=30)

    with ThreadPoolExecutor(len(bodies)) as pool:
        return list(pool.map(fire, bodies))


@both_databases
def test_parallel_browser_and_device_runs_each_get_a_run_and_a_repeated_pair_is_a_409(
    app, live_server, site, database
):
    project_id, token = _project(app, site, [SLOW])
    url = f"{live_server}/api/v1/projects/{project_id}/trigger"
    desktop, mobile = {"device": "desktop"}, {"browserProfile": "chromium", "device": "mobile"}
    answers = _fire_together(url, token, [desktop, mobile, mobile])
    codes = [a.status_code for a in answers]
    assert codes[0] == 202 and sorted(codes[1:]) == [202, 409], [a.text for a in answers]
    desktop_run = answers[0].json()["runId"]
    mobile_run = next(a for a in answers[1:] if a.status_code == 202).json()["runId"]
    refused = next(a for a in answers[1:] if a.status_code == 409).json()
    assert refused["runId"] == mobile_run and "on chromium (mobile)" in refused["error"]
    with app.app_context():
        pairs = sorted((r.browser, r.device) for r in db.session.query(Run).all())
    assert pairs == [("chromium", "desktop"), ("chromium", "mobile")]  # two runs, never a third
    # No fields at all keeps the seed's rule: a second trigger for the default pair is a 409.
    default = requests.post(url, json={}, headers=_auth(token), timeout=30)
    assert default.status_code == 409 and default.json()["runId"] == desktop_run
