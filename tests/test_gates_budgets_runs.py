"""Quality gates, Web Vitals budgets and budgetMinutes on real runs (real Chromium, fixture site)."""

from __future__ import annotations

import json
import time

import pytest

from sentri import projects, testcases, tokens
from tests.support.settings import override

pytestmark = pytest.mark.browser

OK = [{"goto": "/ok"}, {"expect_text": {"css": "h1"}, "text": "OK"}]
BROKEN = [{"goto": "/fail"}, {"expect_text": {"css": "h1"}, "text": "OK", "timeout": 500}]


def _setup(app, base_url, tests, *, gates=None, budgets=None):
    """Create an approved project (name -> steps [, tags]) with settings; return (project id, token)."""
    with app.app_context():
        project = projects.create("Gated", base_url)
        for name, steps in tests.items():
            body = (
                {"name": name, "steps": steps[0], "tags": steps[1]}
                if isinstance(steps, tuple)
                else {"name": name, "steps": steps}
            )
            testcases.review(testcases.create(project, body), "approve")
        from sentri.database import write

        with write():
            project.quality_gates = gates
            project.vitals_budgets = budgets
        _, token = tokens.create(project)
        return project.public_id, token


def _run(app, project_id, token, body=None):
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    response = client.post(f"/api/v1/projects/{project_id}/trigger", json=body or {}, headers=headers)
    assert response.status_code == 202, response.get_json()
    status_url = response.get_json()["statusUrl"]
    deadline = time.monotonic() + 90
    while (status := client.get(status_url, headers=headers).get_json())["status"] == "running":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    return status


def test_gates_fail_while_vitals_pass(app, site, sink):
    override(app, SENTRI_CALLBACK_ALLOWLIST="127.0.0.1")
    project_id, token = _setup(
        app,
        site,
        {"home": OK, "broken": BROKEN, "home again": OK},
        gates={"minPassRate": 95, "maxFailures": 0},
        budgets={"ttfb": 5000, "lcp": 10000},
    )
    status = _run(app, project_id, token, {"callbackUrl": sink.url})
    assert (status["status"], status["verdict"]) == ("completed", "failed")
    assert status["gateResult"] == {
        "passed": False,
        "violations": [
            {"rule": "minPassRate", "threshold": 95, "actual": 66.67},
            {"rule": "maxFailures", "threshold": 0, "actual": 1},
        ],
    }
    assert status["webVitalsResult"] == {"passed": True, "violations": []}
    callback = json.loads(sink.wait(1)[0]["body"])
    assert callback["gateResult"] == status["gateResult"] and callback["verdict"] == "failed"
    assert callback["webVitalsResult"] == status["webVitalsResult"]


def test_vitals_fail_while_gates_pass(app, site):
    project_id, token = _setup(
        app,
        site,
        {"slow page": [{"goto": "/slow"}, {"expect_text": {"css": "h1"}, "text": "OK"}], "home": OK},
        gates={"minPassRate": 100},
        budgets={"ttfb": 150},
    )
    status = _run(app, project_id, token)
    assert status["gateResult"] == {"passed": True, "violations": []}
    vitals = status["webVitalsResult"]
    assert vitals["passed"] is False and status["verdict"] == "failed"
    (violation,) = vitals["violations"]
    assert violation["rule"] == "ttfb" and violation["threshold"] == 150 and violation["actual"] >= 300
    assert violation["testName"] == "slow page" and violation["testId"].startswith("TST-")
    assert violation["url"].endswith("/slow")


def test_no_gates_and_no_budgets_give_null_results(app, site):
    project_id, token = _setup(app, site, {"home": OK})
    status = _run(app, project_id, token)
    assert (
        status["gateResult"] is None and status["webVitalsResult"] is None and status["verdict"] == "passed"
    )


def test_settings_api(app, client, project, admin_headers, member_headers):
    base = f"/api/v1/projects/{project['id']}"
    assert client.get(f"{base}/quality-gates", headers=member_headers).get_json() == {
        "minPassRate": None,
        "maxFlakyPct": None,
        "maxFailures": None,
    }
    assert (
        client.patch(f"{base}/quality-gates", json={"minPassRate": 90}, headers=member_headers).status_code
        == 403
    )
    set_ = client.patch(
        f"{base}/quality-gates", json={"minPassRate": 90, "maxFailures": 2}, headers=admin_headers
    )
    assert set_.status_code == 200 and set_.get_json() == {
        "minPassRate": 90,
        "maxFlakyPct": None,
        "maxFailures": 2,
    }
    cleared = client.patch(f"{base}/quality-gates", json={"minPassRate": None}, headers=admin_headers)
    assert cleared.get_json() == {"minPassRate": None, "maxFlakyPct": None, "maxFailures": 2}
    for body, field in (
        ({"minPassRate": 101}, "minPassRate"),
        ({"maxFailures": 1.5}, "maxFailures"),
        ({"maxFlakyPct": "5"}, "maxFlakyPct"),
        ({"nope": 1}, "nope"),
    ):
        bad = client.patch(f"{base}/quality-gates", json=body, headers=admin_headers)
        assert bad.status_code == 400 and field in bad.get_json()["error"]
    budgets = client.patch(
        f"{base}/web-vitals-budgets", json={"lcp": 2500, "cls": 0.1}, headers=admin_headers
    )
    assert budgets.get_json() == {"lcp": 2500, "cls": 0.1, "inp": None, "ttfb": None}
    bad = client.patch(f"{base}/web-vitals-budgets", json={"cls": 2}, headers=admin_headers)
    assert bad.status_code == 400 and "cls" in bad.get_json()["error"]
    assert client.get("/api/v1/projects/PRJ-9/quality-gates", headers=admin_headers).status_code == 404


def test_a_budget_skips_low_risk_tests_before_they_run_and_shows_why(app, site, admin_headers):
    project_id, token = _setup(app, site, {"a": OK, "smoke home": OK, "c": OK})
    # New tests are estimated at the planner's default (30 s): a 1-minute budget holds the smoke test
    # (always run, first) and exactly one more.
    status = _run(app, project_id, token, {"budgetMinutes": 1})
    assert (status["passed"], status["skipped"], status["total"]) == (2, 1, 3)
    detail = app.test_client().get(f"/api/v1/runs/{status['runId']}", headers=admin_headers).get_json()
    plan = detail["plan"]
    assert plan[0]["testName"] == "smoke home" and plan[0]["smoke"] is True
    assert [p["plan"] for p in plan] == ["run", "run", "over_budget"]
    assert all("score" in p and "estimateMs" in p for p in plan)
    skipped = [r for r in detail["results"] if r["status"] == "skipped"]
    assert [r["skipReason"] for r in skipped] == ["over_budget"]
    assert skipped[0]["testName"] == plan[2]["testName"]


def test_queued_tests_are_skipped_when_the_wall_clock_budget_runs_out(app, site, admin_headers):
    slow = [{"goto": "/ok"}, {"wait": 4000}]
    project_id, token = _setup(app, site, {"smoke slow": slow, "b": OK, "c": OK})
    # 0.05 min = 3 s: the planner's estimate (smoke first) admits the smoke test, which alone outlasts it.
    status = _run(app, project_id, token, {"budgetMinutes": 0.05})
    detail = app.test_client().get(f"/api/v1/runs/{status['runId']}", headers=admin_headers).get_json()
    by_name = {r["testName"]: r for r in detail["results"]}
    assert by_name["smoke slow"]["status"] == "passed"
    assert by_name["b"]["skipReason"] == "over_budget" and by_name["c"]["skipReason"] == "over_budget"
    assert status["status"] == "completed"


def test_flaky_scores_are_updated_when_a_run_ends(app, site):
    flaky = [{"goto": "/flaky/x"}, {"expect_title": "Flaky OK", "timeout": 500}]
    project_id, token = _setup(app, site, {"flaky": flaky, "home": OK})
    status = _run(app, project_id, token, {"dialsConfig": {"retries": 1}})
    assert status["flaky"] == 1
    with app.app_context():
        tests, _ = testcases.list_for(projects.get(project_id))
        scores = {t.name: t.flaky_score for t in tests}
    assert scores["flaky"] > 0 and scores["home"] == 0
