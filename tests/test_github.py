"""GitHub reporting against a fake GitHub on loopback (tests/support/fake_github.py answers like
GitHub's REST API description and FACTS.md): sticky comments, commit statuses, weak tokens, rate
limits, and a token that is never stored or logged. Runs are real (Chromium, fixture site)."""

from __future__ import annotations

import json
import logging
import threading
import time
from pathlib import Path

import pytest
import requests

from sentri import projects, testcases, tokens
from sentri.database import write
from sentri.github import client as gh_client
from sentri.github import report as github_report
from sentri.github import reporter as gh_reporter
from sentri.github import state as gh_state
from sentri.models import Run
from sentri.runtime import runtime
from tests.conftest import DATABASES, both_databases
from tests.support.fake_github import FakeGitHub
from tests.support.pages import PASSWORD, Browser
from tests.support.settings import override

REPO, PR, SHA = "octo/shop", 42, "0123456789abcdef0123456789abcdef01234567"
GOOD, WEAK = "ghp_good" + "G" * 32, "ghs_weak" + "W" * 32
APP = "ghs_app0" + "A" * 32  # an installation token: a GitHub App's, or GitHub Actions' GITHUB_TOKEN
OK = [{"goto": "/ok"}, {"expect_text": {"css": "h1"}, "text": "OK"}]
BROKEN = [{"goto": "/fail"}, {"expect_text": {"css": "h1"}, "text": "OK", "timeout": 500}]
FLAKY = [{"goto": "/flaky/gh"}, {"expect_title": "Flaky OK", "timeout": 500}]


@pytest.fixture
def fake():
    with FakeGitHub() as server:
        server.add_token(GOOD)
        server.add_token(WEAK, can_comment=False, can_status=False)
        server.add_repo(REPO, pulls=[PR])
        yield server


@pytest.fixture
def gh_app(app_factory, fake):
    return app_factory(SENTRI_GITHUB_API_URL=fake.url, SENTRI_GITHUB_RETRY_SECONDS=30)


def _project(app, site, tests, *, gates=None, name="Shop"):
    with app.app_context():
        project = projects.create(name, site)
        for test_name, steps in tests.items():
            testcases.review(testcases.create(project, {"name": test_name, "steps": steps}), "approve")
        with write():
            project.quality_gates = gates
        _, token = tokens.create(project)
        return project.public_id, token


def _github_body(token=GOOD, **extra):
    return {"githubRepo": REPO, "githubPrNumber": PR, "githubCommitSha": SHA, "githubToken": token, **extra}


def _run(app, project_id, token, body):
    """Trigger, then poll until the run has ended (not merely left "running": a poll may come before a
    worker claims it) and its GitHub report is no longer pending."""
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    response = client.post(f"/api/v1/projects/{project_id}/trigger", json=body, headers=headers)
    assert response.status_code == 202, response.get_json()
    deadline = time.monotonic() + 90
    while True:
        status = client.get(response.get_json()["statusUrl"], headers=headers).get_json()
        report = status["integrations"].get("github", {})
        if status["status"] in ("completed", "failed", "aborted") and report.get("state") != "pending":
            return status
        assert time.monotonic() < deadline, status
        time.sleep(0.1)


def _sentri_comments(fake, project_id):
    return [c for c in fake.comments(REPO, PR) if github_report.marker(project_id) in c["body"]]


# -- on real runs ---------------------------------------------------------------------------------------


@pytest.mark.browser
@both_databases
def test_one_comment_is_created_then_updated_across_runs_and_statuses_go_pending_to_success(
    gh_app, site, fake
):
    # A busy pull request: 120 comments from others (two pages of 100), one of them another project's.
    fake.seed_comments(
        REPO, PR, [f"LGTM {n}" for n in range(119)] + [github_report.marker("PRJ-999") + "\nother"]
    )
    project_id, token = _project(gh_app, site, {"home": OK, "again": OK})

    first = _run(gh_app, project_id, token, _github_body())
    report = first["integrations"]["github"]
    assert (first["verdict"], report["state"]) == ("passed", "posted"), report
    assert report["comment"]["action"] == "created" and report["commitStatus"]["state"] == "success"
    created = _sentri_comments(fake, project_id)
    assert len(created) == 1 and created[0]["id"] == report["comment"]["id"]
    assert first["runId"] in created[0]["body"] and "2 passed" in created[0]["body"]

    fake.requests.clear()
    second = _run(gh_app, project_id, token, _github_body())
    report = second["integrations"]["github"]
    assert report["comment"] == {**report["comment"], "action": "updated", "id": created[0]["id"]}
    comments = _sentri_comments(fake, project_id)
    assert (
        len(comments) == 1
        and second["runId"] in comments[0]["body"]
        and first["runId"] not in comments[0]["body"]
    )
    assert len(fake.comments(REPO, PR)) == 121
    # The marker comment sits on page 2: Sentri followed GitHub's Link header to find it.
    pages = [r.query.get("page", "1") for r in fake.requests if r.method == "GET" and "/comments" in r.path]
    assert pages == ["1", "2"]
    assert [r.method for r in fake.requests if "/comments" in r.path] == ["GET", "GET", "PATCH"]

    statuses = fake.statuses(REPO, SHA)
    assert [s["state"] for s in statuses] == ["pending", "success", "pending", "success"]
    assert {s["context"] for s in statuses} == {"sentri"}
    assert all(len(s["description"]) <= 140 for s in statuses)
    assert statuses[-1]["target_url"] == second["url"]
    posted = [r for r in fake.requests if r.method == "POST"]
    assert all(r.headers["authorization"] == f"Bearer {GOOD}" for r in posted)
    assert all(r.headers["x-github-api-version"] == "2022-11-28" for r in posted)


@pytest.mark.browser
@pytest.mark.parametrize(
    ("token", "login", "edit_others"),
    [
        # A personal token without write access: editing their comment was a 403, and nothing was posted.
        (GOOD, "sentri-bot", False),
        # An App's token (GET /user is a 403, GraphQL says whose it is): editing theirs went through, under their name.
        (APP, "sentri-app[bot]", True),
    ],
    ids=["user-token", "app-token"],
)
def test_a_pasted_marker_never_captures_the_comment(gh_app, site, fake, token, login, edit_others):
    fake.add_token(token, login=login, can_edit_others=edit_others)
    project_id, trigger_token = _project(gh_app, site, {"home": OK})
    pasted = f"{github_report.marker(project_id)}\nLooks like Sentri's, written by someone else."
    # A person and another App paste the marker before Sentri ever comments.
    theirs = [
        *fake.seed_comments(REPO, PR, [pasted], login="mallory"),
        *fake.seed_comments(REPO, PR, [pasted], login="other-app[bot]"),
    ]
    before = [c for c in fake.comments(REPO, PR) if c["id"] in theirs]

    first = _run(gh_app, project_id, trigger_token, _github_body(token))
    report = first["integrations"]["github"]
    assert (report["state"], report["comment"].get("action")) == ("posted", "created"), report
    mine = [c for c in fake.comments(REPO, PR) if c["id"] not in theirs]
    assert len(mine) == 1 and mine[0]["id"] == report["comment"]["id"] and first["runId"] in mine[0]["body"]
    assert mine[0]["user"]["login"] == login

    second = _run(gh_app, project_id, trigger_token, _github_body(token))
    report = second["integrations"]["github"]
    assert (report["state"], report["comment"]["action"], report["comment"]["id"]) == (
        "posted",
        "updated",
        mine[0]["id"],
    ), report
    comments = fake.comments(REPO, PR)
    assert len(comments) == 3 and second["runId"] in comments[-1]["body"]
    assert [c for c in comments if c["id"] in theirs] == before  # untouched, not even edited back
    assert not [
        r for r in fake.requests if r.method == "PATCH" and r.path.rsplit("/", 1)[-1] in map(str, theirs)
    ]


def _client(api_base: str, token: str) -> gh_client.Client:
    return gh_client.Client(api_base, token, retry_seconds=5, stopping=threading.Event())


def test_whose_the_token_is_from_rest_for_a_user_and_graphql_for_an_app(fake):
    fake.add_token(APP, login="sentri-app[bot]")
    with _client(fake.url, GOOD) as client:
        assert client.whoami() == gh_client.Identity("sentri-bot", fake.user_id("sentri-bot"))
    with _client(fake.url, APP) as client:
        assert client.whoami() == gh_client.Identity("sentri-app[bot]", fake.user_id("sentri-app[bot]"))
    assert [(r.method, r.path) for r in fake.requests] == [
        ("GET", "/user"),
        ("GET", "/user"),
        ("POST", "/graphql"),
    ]
    with _client(fake.url, "ghp_revoked" + "R" * 29) as client, pytest.raises(gh_client.GitHubError) as bad:
        client.whoami()
    assert bad.value.status == 401 and "rejected the token" in str(bad.value)
    with FakeGitHub(prefix="/api/v3") as enterprise:
        enterprise.add_token(APP, login="sentri-app[bot]")
        # GraphQL is beside the REST base (/api/graphql), on a loopback address: trusted like the base.
        assert gh_client.graphql_url(enterprise.url) == enterprise.root + "/api/graphql"
        with _client(enterprise.url, APP) as client:
            assert client.whoami().login == "sentri-app[bot]"


def test_when_whose_the_token_is_cannot_be_told_sentri_posts_its_own_comment(fake):
    with FakeGitHub(graphql=False) as bare:  # an API without GraphQL: an App's token says nothing of itself
        bare.add_token(APP, login="sentri-app[bot]")
        bare.add_repo(REPO, pulls=[PR])
        mark = github_report.marker("PRJ-1")
        [theirs] = bare.seed_comments(REPO, PR, [f"{mark}\npasted"], login="mallory")
        with _client(bare.url, APP) as client:
            action, made = client.upsert_comment(REPO, PR, mark, f"{mark}\nthe report")
            assert action == "created" and made["id"] != theirs
            assert [c["body"] for c in bare.comments(REPO, PR)] == [f"{mark}\npasted", f"{mark}\nthe report"]
            assert client.whoami() is None


@pytest.mark.browser
def test_a_gate_violation_with_every_test_passing_sets_failure(app_factory, site):
    with FakeGitHub(prefix="/api/v3") as enterprise:  # GitHub Enterprise Server's API lives under /api/v3
        enterprise.add_token(GOOD)
        enterprise.add_repo(REPO, pulls=[PR])
        app = app_factory(SENTRI_GITHUB_API_URL=enterprise.url, SENTRI_GITHUB_STATUS_CONTEXT="qa/sentri")
        project_id, token = _project(app, site, {"flaky": FLAKY, "home": OK}, gates={"maxFlakyPct": 0})
        status = _run(app, project_id, token, _github_body(dialsConfig={"retries": 1}))
        assert (status["failed"], status["passed"], status["flaky"]) == (0, 2, 1)
        assert status["gateResult"]["passed"] is False and status["verdict"] == "failed"
        statuses = enterprise.statuses(REPO, SHA)
        assert [(s["state"], s["context"]) for s in statuses] == [
            ("pending", "qa/sentri"),
            ("failure", "qa/sentri"),
        ]
        assert "gates: maxFlakyPct" in statuses[-1]["description"]
        (comment,) = _sentri_comments(enterprise, project_id)
        assert (
            "Quality gates:** :x: failed" in comment["body"]
            and "`maxFlakyPct` threshold 0" in comment["body"]
        )
        assert all(r.path.startswith("/api/v3/") for r in enterprise.requests)


@pytest.mark.browser
def test_failing_tests_are_listed_with_their_step_and_reason(gh_app, site, fake):
    project_id, token = _project(gh_app, site, {"broken | page": BROKEN, "home": OK})
    status = _run(gh_app, project_id, token, _github_body())
    assert status["verdict"] == "failed"
    (comment,) = _sentri_comments(fake, project_id)
    row = next(line for line in comment["body"].splitlines() if line.startswith("| broken"))
    assert row.startswith(r"| broken \| page | 2: `expect_text")  # the name's pipe cannot break the table
    assert "1 passed" in comment["body"] and "1 failed" in comment["body"]
    assert [s["state"] for s in fake.statuses(REPO, SHA)] == ["pending", "failure"]


@pytest.mark.browser
def test_a_weak_token_leaves_a_readable_message_and_the_run_stands(gh_app, site, fake):
    project_id, token = _project(gh_app, site, {"home": OK})
    status = _run(gh_app, project_id, token, _github_body(WEAK))
    assert (status["status"], status["verdict"], status["error"]) == ("completed", "passed", None)
    report = status["integrations"]["github"]
    assert report["state"] == "failed"
    assert "403" in report["message"] and "Resource not accessible by integration" in report["message"]
    assert "pull_requests: write" in report["message"] and "statuses: write" in report["message"]
    assert fake.comments(REPO, PR) == [] and fake.statuses(REPO, SHA) == []
    # The refused pending status is not asked for again at the end.
    assert len([r for r in fake.requests if "/statuses/" in r.path]) == 1
    with gh_app.app_context():
        from sentri import users

        users.create_user("viewer@example.com", PASSWORD, role="member")
    html = Browser(gh_app.test_client(), "viewer@example.com").html(f"/runs/{status['runId']}")
    assert "Resource not accessible by integration" in html and 'id="github-report"' in html


@pytest.mark.browser
@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("unknown token", "rejected the token (401"),
        ("unknown repo", "404 Not Found"),
    ],
)
def test_other_refusals_say_what_went_wrong(gh_app, site, fake, case, expected):
    project_id, token = _project(gh_app, site, {"home": OK})
    body = (
        _github_body("ghp_revoked" + "R" * 29)
        if case == "unknown token"
        else _github_body(githubRepo="octo/gone")
    )
    status = _run(gh_app, project_id, token, body)
    assert status["verdict"] == "passed"
    assert status["integrations"]["github"]["state"] == "failed"
    assert expected in status["integrations"]["github"]["message"]


@pytest.mark.browser
def test_a_secondary_rate_limit_is_waited_out(gh_app, site, fake):
    project_id, token = _project(gh_app, site, {"home": OK})
    fake.rate_limit_next(2, status=403, retry_after=1)  # the pending status, then its first retry
    status = _run(gh_app, project_id, token, _github_body())
    assert status["integrations"]["github"]["state"] == "posted", status["integrations"]
    assert [s["state"] for s in fake.statuses(REPO, SHA)] == ["pending", "success"]
    limited = [r for r in fake.requests if "/statuses/" in r.path]
    assert len(limited) == 4  # two refused, then pending and success


@pytest.mark.browser
def test_a_rate_limit_beyond_the_retry_budget_gives_up_with_a_message(gh_app, site, fake):
    project_id, token = _project(gh_app, site, {"home": OK})
    fake.rate_limit_next(1, status=429, retry_after=3600)  # the first request: reading the PR's comments
    status = _run(gh_app, project_id, token, _github_body(githubCommitSha=None))
    report = status["integrations"]["github"]
    assert report["state"] == "failed" and "SENTRI_GITHUB_RETRY_SECONDS" in report["message"], report
    assert status["verdict"] == "passed" and fake.comments(REPO, PR) == []
    assert len(fake.requests) == 1  # given up at once, without waiting an hour


@pytest.mark.browser
def test_a_refused_pending_status_does_not_spoil_the_final_one(gh_app, site, fake):
    project_id, token = _project(gh_app, site, {"home": OK})
    fake.rate_limit_next(1, status=429, retry_after=3600)  # the pending status gives up at once
    status = _run(gh_app, project_id, token, _github_body())
    report = status["integrations"]["github"]
    assert report["state"] == "posted" and report["commitStatus"]["state"] == "success", report
    assert [s["state"] for s in fake.statuses(REPO, SHA)] == ["success"]


@pytest.mark.browser
def test_the_token_is_never_stored_nor_logged(gh_app, site, fake, caplog):
    caplog.set_level(logging.DEBUG)
    project_id, token = _project(gh_app, site, {"home": OK, "broken": BROKEN})
    fake.rate_limit_next(1, retry_after=1)  # a retried request is logged too
    status = _run(gh_app, project_id, token, _github_body())
    assert status["integrations"]["github"]["state"] == "posted"
    client = gh_app.test_client()
    detail = client.get(f"/api/v1/runs/{status['runId']}", headers={"Authorization": f"Bearer {token}"})
    assert GOOD not in json.dumps(status)
    assert GOOD not in detail.get_data(as_text=True)
    assert caplog.records and GOOD not in caplog.text
    with gh_app.app_context():
        from sentri.extensions import db

        db.session.remove()
        db.engine.dispose()  # checkpoint nothing away: the WAL file is searched as it is
    files = [p for p in Path(gh_app.instance_path).rglob("*") if p.is_file()]
    assert any(p.name.startswith("sentri.db") for p in files)
    for path in files:
        assert GOOD.encode() not in path.read_bytes(), path
    assert gh_reporter.GitHubReporter.__repr__(runtime(gh_app).github).count("ghp_") == 0


# -- validation and the parts that need no browser -----------------------------------------------------


def test_a_catch_up_between_a_runs_end_and_its_verdict_still_posts_the_final_report(gh_app, site, fake):
    """The heartbeat's catch_up may look while a run's end is taken (finished_at written) but its verdict is
    not: it must neither post early nor drop the token, so the end's own hook posts the final report."""
    from sqlalchemy import update

    from sentri.extensions import db
    from sentri.queue import ending
    from sentri.timestamps import utcnow

    project_id, token = _project(gh_app, site, {"home": OK})
    started = (
        gh_app.test_client()
        .post(
            f"/api/v1/projects/{project_id}/trigger",
            json=_github_body(),
            headers={"Authorization": f"Bearer {token}"},
        )
        .get_json()
    )
    reporter = runtime(gh_app).github
    run_id = Run.key_of(started["runId"])
    _until(lambda: [s["state"] for s in fake.statuses(REPO, SHA)] == ["pending"])
    with gh_app.app_context():
        with write():  # what ending.end writes: the end is taken, the run still reads as active
            db.session.execute(
                update(Run).where(Run.id == run_id).values(finished_at=utcnow(), notify_state="ending")
            )
        reporter.catch_up({runtime(gh_app).engine.node_id})
        _until(lambda: run_id not in reporter._finishing)
        assert ending.finish(run_id)
    _until(lambda: _github_state(gh_app, run_id) != "pending")
    assert _github_state(gh_app, run_id) == "posted"
    assert [s["state"] for s in fake.statuses(REPO, SHA)] == ["pending", "success"]


def _until(condition, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline
        time.sleep(0.05)


def _github_state(app, run_id: int) -> str:
    with app.app_context():
        from sentri.extensions import db

        return db.session.get(Run, run_id).integrations["github"]["state"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"githubToken": GOOD, "githubPrNumber": 1}, "githubRepo: required"),
        ({"githubRepo": "octo/..", "githubToken": GOOD, "githubPrNumber": 1}, "githubRepo"),
        ({"githubRepo": REPO, "githubToken": GOOD}, "githubPrNumber or githubCommitSha"),
        ({"githubRepo": REPO, "githubPrNumber": "7", "githubToken": GOOD}, "githubPrNumber"),
        ({"githubRepo": REPO, "githubCommitSha": "abc", "githubToken": GOOD}, "githubCommitSha"),
        ({"githubRepo": REPO, "githubPrNumber": 1, "githubToken": 5}, "githubToken"),
    ],
)
def test_github_fields_are_validated_and_a_refused_trigger_leaves_no_run(app, site, body, field):
    project_id, token = _project(app, site, {"home": OK})
    response = app.test_client().post(
        f"/api/v1/projects/{project_id}/trigger", json=body, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 400 and field in response.get_json()["error"]
    assert GOOD not in response.get_data(as_text=True)
    with app.app_context():
        from sentri.extensions import db

        assert db.session.query(Run).count() == 0


def test_an_empty_token_is_recorded_as_nothing_to_post():
    state = gh_state.initial_state(REPO, PR, None, "")
    assert state["state"] == "skipped" and "forks" in state["message"]
    assert gh_state.initial_state(REPO, PR, SHA, None)["message"].startswith("No githubToken")


def _response(status: int, headers: dict | None = None, body: dict | None = None) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response.headers.update(headers or {})
    response._content = json.dumps(body or {}).encode()
    return response


def test_rate_limit_waits_follow_githubs_documented_order():
    now = 1_000_000.0
    secondary = {"message": "You have exceeded a secondary rate limit"}
    assert gh_client.rate_limit_wait(_response(403, {"retry-after": "7"}, secondary), 1, now) == 7
    assert (
        gh_client.rate_limit_wait(_response(403, {"retry-after": "7"}, secondary), 3, now) == 28
    )  # backs off
    reset = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(now) + 30)}
    assert (
        gh_client.rate_limit_wait(_response(403, reset, {"message": "API rate limit exceeded"}), 1, now) == 31
    )
    assert gh_client.rate_limit_wait(_response(429, {}, {}), 1, now) == 60  # no hint: at least a minute
    assert gh_client.rate_limit_wait(_response(403, {}, secondary), 2, now) == 120
    refused = {"message": "Resource not accessible by integration"}
    assert (
        gh_client.rate_limit_wait(_response(403, {"x-ratelimit-remaining": "4999"}, refused), 1, now) is None
    )
    assert gh_client.rate_limit_wait(_response(404, {}, {"message": "Not Found"}), 1, now) is None


def test_descriptions_fit_githubs_140_characters_and_follow_the_verdict():
    gates = {"passed": False, "violations": [{"rule": "minPassRate", "threshold": 95, "actual": 50.0}]}
    vitals = {"passed": False, "violations": [{"rule": "lcp", "threshold": 2500, "actual": 4000}]}
    run = Run(
        status="completed",
        passed=12,
        failed=0,
        skipped=1,
        flaky=0,
        total=13,
        gate_result=gates,
        vitals_result=vitals,
    )
    assert github_report.status_state(run) == "failure"
    assert (
        github_report.final_description(run)
        == "Failed: 12 passed, 0 failed, 1 skipped; gates: minPassRate; budgets: LCP"
    )
    broken = Run(
        status="failed",
        passed=0,
        failed=0,
        skipped=0,
        total=3,
        error="The browser could not start: " + "x" * 300,
    )
    assert github_report.status_state(broken) == "error"
    description = github_report.final_description(broken)
    assert len(description) == 140 and description.endswith("...")
    fine = Run(status="completed", passed=3, failed=0, skipped=0, flaky=0, total=3)
    assert (github_report.status_state(fine), github_report.final_description(fine)) == (
        "success",
        "Passed: 3 passed, 0 failed",
    )
    assert github_report.status_state(Run(status="aborted", passed=1, failed=0, total=3)) == "error"


def test_markdown_in_user_text_is_inert():
    assert (
        github_report.escape("a|b `c` <img src=x> [l](u)\nnext") == r"a\|b \`c\` \<img src=x\> \[l\](u) next"
    )


def test_a_request_outside_the_trusted_api_base_obeys_the_ssrf_rules(fake):
    client = gh_client.Client(fake.url + "/api/v3", GOOD, retry_seconds=0, stopping=threading.Event())
    with pytest.raises(gh_client.GitHubError) as refused:
        client.call("GET", fake.url + "/repos/octo/shop/issues/42/comments", "read the comments")
    assert "resolves to a loopback address" in str(refused.value)
    assert fake.requests == []


# -- across a real server process: a crash or a stop loses the token, and the run says so ----------------


def _e2e_project(sentri, site_url: str, name: str):
    from tests.support import wait_test

    return sentri.new_project(name, site_url, [wait_test(name, site_url, 3_000)])


def _e2e_start(sentri, fake, name: str):
    from tests.support import FixtureSite, http_session

    site = FixtureSite().start()
    project_id, token = _e2e_project(sentri, site.url, name)
    http = http_session()
    started = http.post(
        f"{sentri.url}/api/v1/projects/{project_id}/trigger",
        json=_github_body(),
        headers={"Authorization": f"Bearer {token}"},
        timeout=15,
    ).json()
    fake.wait_for(lambda: [s["state"] for s in fake.statuses(REPO, SHA)] == ["pending"], timeout=60)
    site.wait_for_request(f"/page/{name}", timeout=60)  # the browser is inside the 3 s test
    return site, http, started, token


def _e2e_final(http, started, token) -> dict:
    deadline = time.monotonic() + 60
    while True:
        body = http.get(started["statusUrl"], headers={"Authorization": f"Bearer {token}"}, timeout=15).json()
        if body["status"] != "running" and body["integrations"]["github"]["state"] != "pending":
            return body
        assert time.monotonic() < deadline, body
        time.sleep(0.2)


def _assert_token_nowhere(sentri, database: str | None = None) -> None:
    """Search the instance folder (the SQLite files included), the server's logs and, on PostgreSQL,
    every row of every table for the token."""
    folders = [sentri.instance_path, sentri.log_dir]
    files = [p for folder in folders for p in folder.rglob("*") if p.is_file()]
    assert any(p.name.endswith(".log") for p in files)
    assert database or any(p.name.startswith("sentri.db") for p in files)
    for path in files:
        assert GOOD.encode() not in path.read_bytes(), path
    if database:
        import psycopg

        with psycopg.connect(database) as conn:
            tables = [
                row[0]
                for row in conn.execute(
                    "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
                )
            ]
            assert "runs" in tables
            for table in tables:
                rows = conn.execute(f'SELECT t::text FROM "{table}" t').fetchall()
                assert not any(GOOD in row[0] for row in rows), table


@pytest.mark.browser
@pytest.mark.e2e
# Once, on PostgreSQL where the run has one (CI): what the reporter does is the same on both databases, and the
# crash recovery under it is tested on both (test_e2e_runs.py).
@pytest.mark.parametrize("database", [DATABASES[-1]], indirect=True)
def test_a_run_resumed_after_a_crash_cannot_post_and_says_so(tmp_path, fake, database):
    """The run outlives the process (the restarted server finishes it), the token does not: it was only
    ever in the dead process's memory."""
    from tests.support import SentriProcess

    env = {
        "SENTRI_GITHUB_API_URL": fake.url,
        "SENTRI_LEASE_SECONDS": "3",
        **({"SENTRI_DATABASE_URL": database} if database else {}),
    }
    with SentriProcess(tmp_path / "instance", max_browsers=1, env=env) as sentri:
        site, http, started, token = _e2e_start(sentri, fake, "crash")
        try:
            sentri.kill()  # SIGKILL: the token held in memory is gone with the process
            sentri.start()
            final = _e2e_final(http, started, token)
        finally:
            site.stop()
        assert (final["status"], final["passed"]) == ("completed", 1)
        report = final["integrations"]["github"]
        assert report["state"] == "failed" and report["message"] == gh_state.LOST_TOKEN
        assert [s["state"] for s in fake.statuses(REPO, SHA)] == ["pending"]
        assert fake.comments(REPO, PR) == []
        sentri.stop()
        _assert_token_nowhere(sentri, database)


@pytest.mark.browser
@pytest.mark.e2e
def test_a_run_handed_back_at_a_stop_finishes_later_and_says_it_could_not_post(tmp_path, fake):
    from tests.support import SentriProcess

    env = {"SENTRI_GITHUB_API_URL": fake.url, "SENTRI_SHUTDOWN_GRACE_SECONDS": "1"}
    with SentriProcess(tmp_path / "instance", max_browsers=1, env=env) as sentri:
        site, http, started, token = _e2e_start(sentri, fake, "stop")
        try:
            sentri.stop()  # SIGTERM: the test is handed back to the database, the run goes on
            assert [s["state"] for s in fake.statuses(REPO, SHA)] == ["pending"]
            sentri.start()
            final = _e2e_final(http, started, token)
        finally:
            site.stop()
        assert (final["status"], final["passed"]) == ("completed", 1)
        assert final["integrations"]["github"]["message"] == gh_state.LOST_TOKEN
        assert fake.comments(REPO, PR) == []
        sentri.stop()
        _assert_token_nowhere(sentri)


@pytest.mark.browser
@pytest.mark.skipif(not __import__("shutil").which("jq"), reason="needs jq")
@pytest.mark.parametrize("event", ["pull_request", "push"])
def test_the_automation_pages_github_actions_snippet_reports_to_github(
    app, live_server, site, fake, tmp_path, event
):
    import html as html_module
    import re
    import subprocess

    import yaml

    override(app, SENTRI_GITHUB_API_URL=fake.url)
    base = live_server
    project_id, token = _project(app, site, {"home": OK})
    with app.app_context():
        from sentri import users

        users.create_user("admin@example.com", PASSWORD, role="admin")
    page = Browser(app.test_client(), "admin@example.com").html(f"/projects/{project_id}/automation")
    text = html_module.unescape(
        re.search(r'<pre id="snippet-github"[^>]*><code>(.*?)</code>', page, re.S).group(1)
    )
    workflow = yaml.safe_load(text.replace("http://localhost", base))
    assert workflow["permissions"] == {"contents": "read", "pull-requests": "write", "statuses": "write"}
    step = workflow["jobs"]["sentri"]["steps"][0]
    # What GitHub Actions would put in the step's environment for this event.
    expressions = {
        "${{ secrets.SENTRI_TOKEN }}": token,
        "${{ secrets.GITHUB_TOKEN }}": GOOD,
        "${{ github.event.pull_request.number }}": str(PR) if event == "pull_request" else "",
        "${{ github.event.pull_request.head.sha || github.sha }}": SHA,
        "${{ github.head_ref || github.ref_name }}": "feature/cart" if event == "pull_request" else "main",
    }
    env = {name: expressions[value] for name, value in step["env"].items()}
    output = tmp_path / "github_output"
    done = subprocess.run(
        ["bash", "-eo", "pipefail", "-c", step["run"]],
        capture_output=True,
        text=True,
        timeout=60,
        env={**env, "PATH": "/usr/bin:/bin", "GITHUB_REPOSITORY": REPO, "GITHUB_OUTPUT": str(output)},
    )
    assert done.returncode == 0, done.stderr
    outputs = dict(line.split("=", 1) for line in output.read_text().splitlines())
    deadline = time.monotonic() + 90
    while (
        status := requests.get(
            outputs["status_url"], headers={"Authorization": f"Bearer {token}"}, timeout=10
        ).json()
    )["integrations"]["github"]["state"] == "pending":
        assert time.monotonic() < deadline, status
        time.sleep(0.2)
    assert status["integrations"]["github"]["state"] == "posted", status["integrations"]
    assert [s["state"] for s in fake.statuses(REPO, SHA)] == ["pending", "success"]
    assert len(_sentri_comments(fake, project_id)) == (1 if event == "pull_request" else 0)
    # The snippet sends the branch and commit: the regression gate compares runs of one branch.
    assert (status["branch"], status["commitSha"]) == (
        "feature/cart" if event == "pull_request" else "main",
        SHA,
    )
