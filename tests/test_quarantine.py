"""Quarantine: a quarantined test runs and is reported, but never counts toward failed, the gates or the
verdict; people put tests in and take them out (API, page, CLI), the policy may put flaky ones in."""

from __future__ import annotations

import pytest
from lxml import etree

from sentri import projects, testcases, tokens
from sentri.database import write
from sentri.extensions import db
from sentri.models import Run, TestCase
from sentri.policies import quarantine
from sentri.reports import junit
from sentri.reports.serialize import verdict
from tests.conftest import _make_user, both_databases
from tests.support.fake_github import FakeGitHub
from tests.support.runs import recorded_run
from tests.test_github import GOOD, PR, REPO, SHA, _github_body, _run, _sentri_comments

OK = [{"goto": "/ok"}, {"expect_text": {"css": "h1"}, "text": "OK"}]
BROKEN = [{"goto": "/fail"}, {"expect_text": {"css": "h1"}, "text": "OK", "timeout": 500}]


@pytest.fixture
def fake():
    with FakeGitHub() as server:
        server.add_token(GOOD)
        server.add_repo(REPO, pulls=[PR])
        yield server


@pytest.fixture
def gh_app(app_factory, fake):
    return app_factory(SENTRI_GITHUB_API_URL=fake.url, SENTRI_GITHUB_RETRY_SECONDS=30)


def _quarantine(client, headers, project_id, test_id, reason="flaky on CI since the font change"):
    return client.post(
        f"/api/v1/projects/{project_id}/tests/{test_id}/quarantine", json={"reason": reason}, headers=headers
    )


@pytest.mark.browser
def test_a_quarantined_failing_test_runs_is_reported_apart_and_does_not_fail_the_run(
    gh_app, site, fake, junit_xsd
):
    client = gh_app.test_client()
    with gh_app.app_context():
        project = projects.create("Shop", site)
        for name, steps in {"home": OK, "always broken": BROKEN}.items():
            testcases.review(testcases.create(project, {"name": name, "steps": steps}), "approve")
        with write():
            project.quality_gates = {"minPassRate": 100, "maxFailures": 0}
        _, token = tokens.create(project)
        project_id = project.public_id
        broken = db.session.query(TestCase).filter_by(name="always broken").one().public_id
    _, headers = _make_user(gh_app, "member@example.com", "member")
    assert _quarantine(client, headers, project_id, broken).status_code == 200

    status = _run(gh_app, project_id, token, _github_body())
    assert (status["status"], status["verdict"]) == ("completed", "passed")
    assert (status["passed"], status["failed"], status["quarantined"], status["total"]) == (1, 0, 1, 2)
    assert status["gateResult"]["passed"] is True  # 1 of 1 counted tests passed

    results = client.get(f"/api/v1/runs/{status['runId']}", headers=headers).get_json()["results"]
    held = next(r for r in results if r["testName"] == "always broken")
    assert (held["status"], held["quarantined"]) == ("failed", True)  # it really ran, and failed

    document = etree.fromstring(client.get(f"/api/v1/runs/{status['runId']}/junit.xml", headers=headers).data)
    etree.XMLSchema(etree.parse(str(junit_xsd))).assertValid(document)
    suite = document.find("testsuite")
    assert (suite.get("failures"), suite.get("skipped")) == ("0", "1")
    case = next(c for c in suite.findall("testcase") if c.get("name") == "always broken")
    assert case.find("failure") is None
    assert case.find("skipped").get("type") == "quarantined"
    assert "Quarantined, not counted: failed" in case.find("skipped").get("message")

    (comment,) = _sentri_comments(fake, project_id)
    body = comment["body"]
    assert "1 quarantined" in body and "| always broken | failed |" in body
    assert "| Failing test |" not in body  # not listed among the failures
    assert [s["state"] for s in fake.statuses(REPO, SHA)] == ["pending", "success"]


def test_quarantine_needs_a_reason_says_who_and_is_left_by_a_person(client, project, member_headers, app):
    test = client.post(
        f"/api/v1/projects/{project['id']}/tests", json={"name": "t", "steps": OK}, headers=member_headers
    ).get_json()
    url = f"/api/v1/projects/{project['id']}/tests/{test['id']}/quarantine"
    missing = client.post(url, json={}, headers=member_headers)
    assert missing.status_code == 400 and "reason" in missing.get_json()["error"]
    blank = client.post(url, json={"reason": "   "}, headers=member_headers)
    assert blank.status_code == 400
    assert client.post(url, json={"reason": "x", "why": 1}, headers=member_headers).status_code == 400

    held = client.post(url, json={"reason": "times out on Mondays"}, headers=member_headers)
    assert held.status_code == 200
    info = held.get_json()["quarantine"]
    assert (
        info["reason"] == "times out on Mondays"
        and info["by"].startswith("USR-")
        and info["releaseSuggested"] is False
    )
    again = client.post(url, json={"reason": "again"}, headers=member_headers)
    assert again.status_code == 409 and "already quarantined" in again.get_json()["error"]

    assert (
        client.get(f"/api/v1/projects/{project['id']}/tests/{test['id']}", headers=member_headers).get_json()[
            "quarantine"
        ]["reason"]
        == "times out on Mondays"
    )
    left = client.delete(url, headers=member_headers)
    assert left.status_code == 200 and left.get_json()["quarantine"] is None
    assert client.delete(url, headers=member_headers).status_code == 409
    assert client.post(url, json={"reason": "r"}).status_code == 401


def test_another_projects_test_cannot_be_quarantined_through_this_one(client, admin_headers, project):
    other = client.post(
        "/api/v1/projects", json={"name": "Other", "baseUrl": "http://127.0.0.1:9"}, headers=admin_headers
    ).get_json()
    test = client.post(
        f"/api/v1/projects/{other['id']}/tests", json={"name": "t", "steps": OK}, headers=admin_headers
    ).get_json()
    response = _quarantine(client, admin_headers, project["id"], test["id"])
    assert response.status_code == 404


def test_the_cli_quarantines_and_releases(app, runner, project):
    with app.app_context():
        test = testcases.create(projects.get(project["id"]), {"name": "cli", "steps": OK})
        test_id = test.public_id
    result = runner.invoke(
        args=["tests", "quarantine", "--project", project["id"], test_id, "--reason", "slow CI"]
    )
    assert result.exit_code == 0, result.output
    listed = runner.invoke(args=["tests", "list", "--project", project["id"]])
    assert "quarantined" in listed.output
    with app.app_context():
        held = db.session.get(TestCase, TestCase.key_of(test_id))
        assert (held.quarantined_by, held.quarantine_reason) == ("cli", "slow CI")
    twice = runner.invoke(args=["tests", "quarantine", "--project", project["id"], test_id, "--reason", "x"])
    assert twice.exit_code != 0 and "already quarantined" in twice.output
    assert runner.invoke(args=["tests", "release", "--project", project["id"], test_id]).exit_code == 0
    assert runner.invoke(args=["tests", "release", "--project", project["id"], test_id]).exit_code != 0


def _project_with_test(app, name="P"):
    project = projects.create(name, "http://127.0.0.1:9")
    test = testcases.review(testcases.create(project, {"name": "sometimes", "steps": OK}), "approve")
    return project, test


@both_databases
def test_the_policy_quarantines_a_test_whose_flaky_score_reaches_it(app):
    with app.app_context():
        project, test = _project_with_test(app)
        with write():
            project.quarantine_policy = {"autoFlakyScore": 0.3}
        recorded_run(project, [{"test_id": test.id, "status": "passed"}])
        recorded_run(project, [{"test_id": test.id, "status": "passed", "flaky": True}])
        db.session.refresh(test)
        assert test.flaky_score == 0.5 and test.quarantined_by == "auto"
        assert test.quarantine_reason == "flaky score 50% reached the project's autoFlakyScore 30%"
        # From the next run on, its failure counts nowhere.
        run = lifecycle_run_with_quarantined_failure(project, test)
        assert (run.failed, run.quarantined, verdict(run)) == (0, 1, "passed")


def lifecycle_run_with_quarantined_failure(project, test) -> Run:
    return recorded_run(
        project, [{"test_id": test.id, "status": "failed", "error": "boom", "quarantined": True}]
    )


def test_without_a_policy_nothing_enters_quarantine_on_its_own(app):
    with app.app_context():
        project, test = _project_with_test(app)
        for _ in range(3):
            recorded_run(project, [{"test_id": test.id, "status": "passed", "flaky": True}])
        db.session.refresh(test)
        assert test.flaky_score == 1.0 and test.quarantined_at is None


@both_databases
def test_leaving_is_suggested_after_enough_first_attempt_passes_since_entering(app):
    with app.app_context():
        project, test = _project_with_test(app)
        with write():
            project.quarantine_policy = {"suggestReleaseAfter": 3}
        recorded_run(project, [{"test_id": test.id, "status": "passed"}])  # before: does not count
        quarantine.enter(test, {"reason": "flaky"})
        for outcome in ({"status": "passed"}, {"status": "passed", "flaky": True}, {"status": "passed"}):
            recorded_run(project, [{"test_id": test.id, "quarantined": True, **outcome}])
        assert quarantine.release_suggested(project, [test]) == set()  # the flaky pass breaks the streak
        recorded_run(project, [{"test_id": test.id, "quarantined": True, "status": "passed"}])
        assert quarantine.release_suggested(project, [test]) == set()  # 2 in a row
        recorded_run(project, [{"test_id": test.id, "quarantined": True, "status": "passed"}])
        assert quarantine.release_suggested(project, [test]) == {test.id}
        assert testcases.serialize(test)["quarantine"]["releaseSuggested"] is True
        # A suggestion only: it stays quarantined until a person takes it out.
        assert quarantine.is_quarantined(test)


@both_databases
def test_quarantined_pages_count_toward_no_budget_and_the_report_marks_them(app):
    with app.app_context():
        project, test = _project_with_test(app)
        with write():
            project.vitals_budgets = {"lcp": 1000}
        slow = [{"url": "http://127.0.0.1:9/ok", "lcp": 5000, "cls": 0, "inp": None, "ttfb": 10}]
        run = recorded_run(
            project, [{"test_id": test.id, "status": "passed", "vitals": slow, "quarantined": True}]
        )
        assert run.vitals_result == {"passed": True, "violations": []}
        assert (run.passed, run.quarantined, verdict(run)) == (0, 1, "passed")
        xml = etree.fromstring(junit.render(run, project, "http://x/runs/1"))
        assert "Quarantined: passed" in xml.find("testsuite/testcase/system-out").text
        assert xml.find("testsuite/testcase/skipped") is None


def test_policy_settings_are_validated_and_only_admins_change_them(
    client, project, admin_headers, member_headers
):
    url = f"/api/v1/projects/{project['id']}/quarantine-policy"
    assert client.get(url, headers=member_headers).get_json() == {
        "autoFlakyScore": None,
        "suggestReleaseAfter": None,
    }
    assert client.patch(url, json={"autoFlakyScore": 0.3}, headers=member_headers).status_code == 403
    bad = client.patch(url, json={"autoFlakyScore": 2, "suggestReleaseAfter": 0.5}, headers=admin_headers)
    assert bad.status_code == 400
    assert "autoFlakyScore" in bad.get_json()["error"] and "suggestReleaseAfter" in bad.get_json()["error"]
    good = client.patch(url, json={"autoFlakyScore": 0.3, "suggestReleaseAfter": 4}, headers=admin_headers)
    assert good.get_json() == {"autoFlakyScore": 0.3, "suggestReleaseAfter": 4}
