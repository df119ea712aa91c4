"""The regression gate's baseline is one a team controls (issue 28, findings 2 and 3): runs the gate found a
regression in stay out of later baselines, no run is judged against fewer than minBaselineRuns runs, and
only runs on the same browser and device count. Runs are written straight to the
database (tests/support/runs.py) and judged the one way runs are (lifecycle.end)."""

from __future__ import annotations

import random
from types import SimpleNamespace

import pytest

from sentri import projects, testcases
from sentri.database import write
from sentri.runs.options import parse_options
from sentri.runs.serialize import verdict
from tests.conftest import both_databases
from tests.support.runs import recorded_run

URL = "http://127.0.0.1:9/paced"
LCP = {"lcp": {"maxIncreasePct": 10, "minIncreaseMs": 100}}


@pytest.fixture
def paced(app):
    """A project with one test, its LCP gate on. run(level, **trigger) records a run of 5 samples around
    `level` ms (gaussian, sd 20) and returns its id, verdict and regression summary."""
    with app.app_context():
        project = projects.create("Paced", "http://127.0.0.1:9")
        test = testcases.review(testcases.create(project, {"name": "paced", "steps": [{"goto": "/paced"}]}), "approve")
        project_id, test_key = project.public_id, test.id
    rng = random.Random(28)

    def run(level, status="completed", **body):
        samples = [round(level + rng.gauss(0, 20), 1) for _ in range(5)]
        vitals = [{"url": URL, "lcp": sorted(samples)[2], "cls": 0, "inp": None, "ttfb": 5, "samples": {"lcp": samples}}]
        with app.app_context():
            done = recorded_run(projects.get(project_id), [{"test_id": test_key, "status": "passed", "vitals": vitals}],
                                status=status, options=parse_options(body))
            regression = (done.vitals_result or {}).get("regression")
            return SimpleNamespace(public_id=done.public_id, verdict=verdict(done), regression=regression)

    def configure(**settings):
        with app.app_context(), write():
            projects.get(project_id).vitals_regression = {**LCP, **settings}

    configure()
    return SimpleNamespace(project_id=project_id, run=run, configure=configure)


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


@both_databases
def test_no_run_is_judged_against_fewer_than_min_baseline_runs(paced):
    first = paced.run(500, branch="main")
    assert "No completed run on main" in first.regression["reason"]
    paced.run(500, branch="main")
    slow = paced.run(900, branch="feature/x")  # against 2 runs: p = 1/3003, but 2 runs are one afternoon
    assert slow.regression["status"] == "not evaluated" and slow.verdict == "passed"
    assert slow.regression["reason"] == "The baseline holds 2 run(s) on main; the gate judges from 3 (minBaselineRuns)."
    paced.run(500, branch="main")
    slow = paced.run(900, branch="feature/x")
    assert slow.regression["minBaselineRuns"] == 3 and slow.verdict == "failed"

    paced.configure(minBaselineRuns=1)
    assert paced.run(900, branch="feature/y").verdict == "failed"


def test_min_baseline_runs_is_a_setting_that_never_exceeds_baseline_runs(client, project, admin_headers):
    url = f"/api/v1/projects/{project['id']}/vitals-regression"
    refused = client.patch(url, json={"minBaselineRuns": 6}, headers=admin_headers)
    assert refused.status_code == 400 and refused.get_json()["error"].startswith("minBaselineRuns: must not be")
    assert client.patch(url, json={"minBaselineRuns": 0}, headers=admin_headers).status_code == 400
    assert client.patch(url, json={"excludeRegressedRuns": "no"}, headers=admin_headers).status_code == 400
    saved = client.patch(url, json={"baselineRuns": 8, "minBaselineRuns": 6, "excludeRegressedRuns": False},
                         headers=admin_headers).get_json()
    assert (saved["minBaselineRuns"], saved["excludeRegressedRuns"]) == (6, False)
    assert client.patch(url, json={"baselineRuns": 5}, headers=admin_headers).status_code == 400  # 6 > 5


def test_the_minimum_defaults_to_three_or_to_baseline_runs_when_lower():
    from sentri.runs import regression

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
