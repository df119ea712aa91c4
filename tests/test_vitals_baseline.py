"""The regression gate's baseline is one a team controls (issue 28, findings 2 and 3): runs the gate found a
regression in stay out of later baselines, a person pins and unpins it, no run is judged against fewer than
minBaselineRuns runs, and only runs on the same browser and device count. Runs are written straight to the
database (tests/support/runs.py) and judged the one way runs are (ending.end)."""

from __future__ import annotations

import random
from types import SimpleNamespace

import pytest

from sentri import projects, testcases
from sentri.database import write
from sentri.policies import vitals_baseline
from sentri.reports.serialize import verdict
from sentri.runs.options import parse_options
from tests.conftest import both_databases
from tests.support.runs import recorded_run
from tests.test_openapi import Described

URL = "http://127.0.0.1:9/paced"
LCP = {"lcp": {"maxIncreasePct": 10, "minIncreaseMs": 100}}


@pytest.fixture
def paced(app):
    """A project with one test, its LCP gate on. run(level, **trigger) records a run of 5 samples around
    `level` ms (gaussian, sd 20) and returns its id, verdict and regression summary."""
    with app.app_context():
        project = projects.create("Paced", "http://127.0.0.1:9")
        test = testcases.review(
            testcases.create(project, {"name": "paced", "steps": [{"goto": "/paced"}]}), "approve"
        )
        project_id, test_key = project.public_id, test.id
    rng = random.Random(28)

    def run(level, status="completed", **body):
        samples = [round(level + rng.gauss(0, 20), 1) for _ in range(5)]
        vitals = [
            {
                "url": URL,
                "lcp": sorted(samples)[2],
                "cls": 0,
                "inp": None,
                "ttfb": 5,
                "samples": {"lcp": samples},
            }
        ]
        with app.app_context():
            done = recorded_run(
                projects.get(project_id),
                [{"test_id": test_key, "status": "passed", "vitals": vitals}],
                status=status,
                options=parse_options(body),
            )
            regression = (done.vitals_result or {}).get("regression")
            return SimpleNamespace(public_id=done.public_id, verdict=verdict(done), regression=regression)

    def configure(**settings):
        with app.app_context(), write():
            projects.get(project_id).vitals_regression = {**LCP, **settings}

    def pin(run_id):
        with app.app_context():
            return vitals_baseline.pin(projects.get(project_id), {"runId": run_id}, None)

    def unpin():
        with app.app_context():
            return vitals_baseline.unpin(projects.get(project_id), "chromium", "desktop", None)

    configure()
    return SimpleNamespace(project_id=project_id, run=run, configure=configure, pin=pin, unpin=unpin)


def _ids(runs):
    """Run ids newest first, as a baseline lists them."""
    return [r.public_id for r in reversed(runs)]


@both_databases
def test_a_regression_pushed_to_main_stays_flagged_instead_of_becoming_the_baseline(paced):
    clean = [paced.run(500, branch="main") for _ in range(3)]
    for push in range(4):
        slow = paced.run(800, branch="main")
        assert slow.verdict == "failed", (push, slow.regression)
        assert slow.regression["baselineRunIds"] == _ids(clean)
    # The fix on main is judged against the same clean runs, and passes.
    fixed = paced.run(505, branch="main")
    assert fixed.verdict == "passed" and fixed.regression["status"] == "evaluated"


def test_keeping_regressed_runs_is_a_choice_and_then_they_become_the_baseline(paced):
    paced.configure(excludeRegressedRuns=False)
    for _ in range(3):
        paced.run(500, branch="main")
    judged = [paced.run(800, branch="main").verdict for _ in range(4)]
    assert judged[0] == "failed" and judged[-1] == "passed"  # the slowdown became the baseline


def test_a_pinned_baseline_stops_moving_so_creep_below_the_limits_is_caught(paced):
    paced.configure(baselineRuns=3)
    _c1, c2, c3, c4 = (paced.run(500, branch="main") for _ in range(4))
    shown = paced.pin(c2.public_id)
    assert (
        shown["runs"] == [c4.public_id, c3.public_id, c2.public_id]
        and shown["pinned"]["runId"] == c2.public_id
    )
    for _ in range(3):  # +60 ms each: under the 100 ms limit, never flagged
        assert paced.run(560, branch="main").verdict == "passed"
    crept = paced.run(650, branch="main")  # +150 ms on the pinned runs; +90 ms on the last three
    assert crept.regression["pinnedRunId"] == c2.public_id
    assert crept.regression["baselineRunIds"] == [c4.public_id, c3.public_id, c2.public_id]
    assert crept.verdict == "failed"

    unpinned = paced.unpin()
    assert unpinned["pinned"] is None and c2.public_id not in unpinned["runs"]
    assert paced.run(650, branch="main").verdict == "passed"  # rolling: against the 560 ms runs


def test_pinning_a_flagged_run_accepts_its_level(paced):
    for _ in range(3):
        paced.run(500, branch="main")
    slow = paced.run(800, branch="main")
    assert slow.verdict == "failed"
    paced.pin(slow.public_id)
    filling = [paced.run(800, branch="main") for _ in range(2)]
    assert [r.regression["status"] for r in filling] == ["not evaluated"] * 2  # 1, then 2 runs: under 3
    judged = paced.run(810, branch="main")
    assert judged.regression["baselineRunIds"] == [filling[1].public_id, filling[0].public_id, slow.public_id]
    assert judged.verdict == "passed" and judged.regression["status"] == "evaluated"


@both_databases
def test_no_run_is_judged_against_fewer_than_min_baseline_runs(paced):
    first = paced.run(500, branch="main")
    assert "No completed run on main" in first.regression["reason"]
    paced.run(500, branch="main")
    slow = paced.run(900, branch="feature/x")  # against 2 runs: p = 1/3003, but 2 runs are one afternoon
    assert slow.regression["status"] == "not evaluated" and slow.verdict == "passed"
    assert (
        slow.regression["reason"]
        == "The baseline holds 2 run(s) on main; the gate judges from 3 (minBaselineRuns)."
    )
    paced.run(500, branch="main")
    slow = paced.run(900, branch="feature/x")
    assert slow.regression["minBaselineRuns"] == 3 and slow.verdict == "failed"

    paced.configure(minBaselineRuns=1)
    assert paced.run(900, branch="feature/y").verdict == "failed"


def test_min_baseline_runs_is_a_setting_that_never_exceeds_baseline_runs(client, project, admin_headers):
    url = f"/api/v1/projects/{project['id']}/vitals-regression"
    refused = client.patch(url, json={"minBaselineRuns": 6}, headers=admin_headers)
    assert refused.status_code == 400 and refused.get_json()["error"].startswith(
        "minBaselineRuns: must not be"
    )
    assert client.patch(url, json={"minBaselineRuns": 0}, headers=admin_headers).status_code == 400
    assert client.patch(url, json={"excludeRegressedRuns": "no"}, headers=admin_headers).status_code == 400
    saved = client.patch(
        url,
        json={"baselineRuns": 8, "minBaselineRuns": 6, "excludeRegressedRuns": False},
        headers=admin_headers,
    ).get_json()
    assert (saved["minBaselineRuns"], saved["excludeRegressedRuns"]) == (6, False)
    assert client.patch(url, json={"baselineRuns": 5}, headers=admin_headers).status_code == 400  # 6 > 5


def test_the_minimum_defaults_to_three_or_to_baseline_runs_when_lower():
    from sentri.policies import regression

    assert regression.settings(None)["minBaselineRuns"] == 3
    assert regression.settings({"baselineRuns": 2})["minBaselineRuns"] == 2
    assert regression.settings(None)["excludeRegressedRuns"] is True


def test_only_runs_on_the_same_browser_and_device_are_a_baseline(paced):
    desktop = [paced.run(500, branch="main") for _ in range(3)]
    mobile = [paced.run(1500, branch="main", device="mobile") for _ in range(3)]
    assert [r.regression["status"] for r in mobile] == ["not evaluated"] * 3  # no mobile baseline yet
    again = paced.run(1500, branch="main", device="mobile")
    assert again.regression["baselineRunIds"] == _ids(mobile)
    assert again.verdict == "passed"
    back = paced.run(520, branch="main")
    assert back.regression["baselineRunIds"] == _ids(desktop)


def test_pinning_over_the_api_is_described_admin_only_and_refused_by_name(
    app, client, paced, admin_headers, member_headers
):
    api = Described(client)
    runs = [paced.run(500, branch="main") for _ in range(3)]
    stopped = paced.run(500, status="aborted", branch="main")
    with app.app_context():
        other = projects.create("Other", "http://127.0.0.1:9")
        foreign = recorded_run(other, [{"status": "passed"}]).public_id
    base, project_id = "/api/v1/projects/{projectId}/vitals-regression/baseline", paced.project_id
    shown = api("GET", base, 200, headers=member_headers, projectId=project_id).get_json()
    assert shown["runs"] == _ids(runs) and shown["pinned"] is None and shown["enough"] is True
    api(
        "PUT", base, 403, headers=member_headers, json_body={"runId": runs[0].public_id}, projectId=project_id
    )
    for body, status, words in (
        ({}, 400, "runId"),
        ({"runId": "nope"}, 400, "runId"),
        ({"runId": "RUN-9999"}, 404, "RUN-9999"),
        ({"runId": foreign}, 404, foreign),
        ({"runId": stopped.public_id}, 409, "only a completed run"),
    ):
        refused = api("PUT", base, status, headers=admin_headers, json_body=body, projectId=project_id)
        assert words in refused.get_json()["error"], refused.get_json()
    pinned = api(
        "PUT", base, 200, headers=admin_headers, json_body={"runId": runs[0].public_id}, projectId=project_id
    ).get_json()
    assert pinned["pinned"]["runId"] == runs[0].public_id and pinned["pinned"]["pinnedBy"].startswith("USR-")
    assert pinned["runs"] == _ids(runs)  # the pinned run and the first two after it
    project = api(
        "GET", "/api/v1/projects/{projectId}", 200, headers=member_headers, projectId=project_id
    ).get_json()
    assert "pins" not in project["vitalsRegression"]  # the settings stay the settings
    api("GET", base, 400, headers=member_headers, query="device=tablet", projectId=project_id)
    api("DELETE", base, 403, headers=member_headers, projectId=project_id)
    unpinned = api("DELETE", base, 200, headers=admin_headers, projectId=project_id).get_json()
    assert unpinned["pinned"] is None and unpinned["runs"] == _ids(runs)
    mobile = api(
        "GET", base, 200, headers=member_headers, query="device=mobile", projectId=project_id
    ).get_json()
    assert (mobile["device"], mobile["runs"], mobile["enough"]) == ("mobile", [], False)


def test_the_gates_tab_shows_the_baseline_and_pins_and_unpins_it(app, admin, member, paced):
    runs = [paced.run(500, branch="main") for _ in range(2)]
    project_id = paced.project_id
    page = f"/projects/{project_id}/gates"
    html = admin.html(page)
    assert runs[1].public_id in html and "not judged until 3 run(s)" in html and "no: rolling" in html
    assert (
        member.post(
            f"/projects/{project_id}/vitals-regression/baseline", {"runId": runs[0].public_id}
        ).status_code
        == 403
    )
    refused = admin.client.post(
        f"/projects/{project_id}/vitals-regression/baseline",
        data={"runId": "RUN-9999", "csrf_token": admin.token},
        follow_redirects=True,
    )
    assert "Run RUN-9999 not found" in refused.get_data(as_text=True)
    assert (
        admin.post(
            f"/projects/{project_id}/vitals-regression/baseline", {"runId": runs[0].public_id}
        ).status_code
        == 302
    )
    html = admin.html(page)
    assert f"{runs[0].public_id} by USR-" in html and "Unpin" in html
    assert (
        admin.post(
            f"/projects/{project_id}/vitals-regression/baseline/unpin",
            {"browser": "chromium", "device": "desktop"},
        ).status_code
        == 302
    )
    assert "no: rolling" in admin.html(page)

    form = {
        "lcp.maxIncreasePct": "10",
        "lcp.minIncreaseMs": "",
        "ttfb.maxIncreasePct": "",
        "ttfb.minIncreaseMs": "",
        "cls.maxIncreasePct": "",
        "cls.minIncrease": "",
        "alpha": "",
        "baselineRuns": "5",
        "minBaselineRuns": "4",
        "excludeRegressedRuns": "false",
        "vitalsSamples": "5",
        "mode": "enforce",
        "baselineBranch": "",
    }
    assert admin.post(f"/projects/{project_id}/vitals-regression", form).status_code == 302
    with app.app_context():
        stored = projects.get(project_id).vitals_regression
    assert (stored["minBaselineRuns"], stored["excludeRegressedRuns"]) == (4, False)
    bad = admin.post(f"/projects/{project_id}/vitals-regression", {**form, "minBaselineRuns": "9"})
    assert bad.status_code == 400 and (
        'id="regression-minBaselineRuns-error">must not be more than baselineRuns'
        in bad.get_data(as_text=True)
    )
