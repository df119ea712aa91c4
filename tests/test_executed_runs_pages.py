"""The pages judge tests and trends by the runs that executed them (issue 28, finding 10): a test's last result
and history come from runs that ran it, the charts from completed runs, and an aborted run is shown as
aborted, with how many of its tests ran and its gates and budgets not evaluated."""

from __future__ import annotations

import re

import pytest

from sentri import projects, testcases, users
from sentri.database import write
from sentri.models import TestCase
from sentri.runs.options import parse_options
from tests.support.pages import PASSWORD, Browser
from tests.support.runs import recorded_run


@pytest.fixture
def member(app):
    with app.app_context():
        users.create_user("member@example.com", PASSWORD, role="member")
    return Browser(app.test_client(), "member@example.com")


@pytest.fixture
def shop(app):
    with app.app_context():
        return projects.create("Shop", "http://127.0.0.1:9/shop").public_id


def _runs(app, project_id, *specs):
    """Record runs, each (results, status, branch); return their ids."""
    with app.app_context():
        project = projects.get(project_id)
        return [
            recorded_run(
                project, results, status=status, options=parse_options({"branch": branch} if branch else {})
            ).public_id
            for results, status, branch in specs
        ]


def test_the_last_result_and_the_history_come_from_the_runs_that_ran_the_test(app, member, shop):
    with app.app_context():
        test = testcases.create(projects.get(shop), {"name": "Checkout", "steps": [{"goto": "/checkout"}]})
        testcases.review(test, "approve")
        test_id, key = test.public_id, TestCase.key_of(test.public_id)
    ran, *left_out = _runs(
        app,
        shop,
        ([{"test_id": key, "status": "failed", "error": "always broken"}], "completed", None),
        ([{"test_id": key, "status": "skipped", "skip_reason": "deselected"}], "completed", None),
        ([{"test_id": key, "status": "skipped", "skip_reason": "over_budget"}], "completed", None),
        ([{"test_id": key, "status": "skipped", "skip_reason": "aborted"}], "aborted", None),
    )
    tab = member.html(f"/projects/{shop}/tests")
    assert f'<a href="/runs/{ran}" class="status status-failed">failed</a>' in tab
    assert "status-skipped" not in tab
    page = member.html(f"/projects/{shop}/tests/{test_id}")
    assert f'href="/runs/{ran}"' in page and "always broken" in page
    assert not any(f'href="/runs/{run}"' in page for run in left_out)
    assert "3 run(s) left it out" in page


def _passed(n=1):
    return [
        {"status": "passed", "vitals": [{"url": "/", "lcp": 1000.0, "cls": 0.01, "inp": None, "ttfb": 50.0}]}
    ] * n


def test_the_runs_charts_cover_the_last_completed_runs_with_values_on_their_axes_and_a_branch_filter(
    app, member, shop
):
    on_main = _runs(app, shop, *[(_passed(), "completed", "main")] * 3)
    on_feature = _runs(
        app,
        shop,
        (_passed(), "completed", "feature"),
        ([{"status": "passed"}, {"status": "failed"}], "completed", "feature"),
    )
    # Newest of all, more aborted runs than the charts' window: they ran nothing and must not push the
    # completed runs out; the newest 30 of them are marked apart.
    aborted = _runs(app, shop, *[([{"status": "skipped", "skip_reason": "aborted"}], "aborted", "main")] * 31)
    html = member.html(f"/projects/{shop}/runs")
    assert "5 completed run(s), 5 measured" in html
    pass_chart = re.search(r'<figure class="chart">.*?</figure>', html, re.S).group(0)
    ticks = re.findall(r'<text class="tick"[^>]*>([^<]+)</text>', pass_chart)
    assert ticks == ["0", "50", "100", on_main[0], aborted[-1]]  # the value axis, then the first and last run
    assert pass_chart.count('class="aborted-rule"') == 30 + 1  # one each, and the legend's
    assert "aborted run: 30, 0 measured, not counted" in pass_chart
    branches = html[
        html.index('id="filter-branch"') : html.index("</select>", html.index('id="filter-branch"'))
    ]
    assert re.findall(r'<option value="([^"]*)"', branches) == ["", "main", "feature"]
    filtered = member.html(f"/projects/{shop}/runs?branch=feature")
    assert "2 completed run(s) on branch feature, 2 measured" in filtered
    assert re.findall(r'<td><a href="/runs/(RUN-\d+)">', filtered) == on_feature[::-1]
    assert '<option value="feature" selected>' in filtered


def test_an_aborted_run_says_how_many_tests_ran_and_that_gates_and_budgets_were_not_evaluated(
    app, member, shop
):
    with app.app_context(), write():
        project = projects.get(shop)
        project.quality_gates = {"minPassRate": 50}
        project.vitals_budgets = {"lcp": 2500}
    [aborted] = _runs(
        app, shop, (_passed(2) + [{"status": "skipped", "skip_reason": "aborted"}] * 6, "aborted", None)
    )
    page = member.html(f"/runs/{aborted}")
    assert re.search(
        r'<span data-field="done">2</span> of <span data-field="total">8</span> tests '
        r'<span data-field="done-verb">ran</span>',
        page,
    )
    assert "the others did not: 6 left when the run was aborted" in page
    assert page.count("Not evaluated: the run was aborted before all its tests ran.") == 2
    assert ">Passed<" not in page and "tests done" not in page
    assert '<span class="verdict-word" data-verdict="failed">Aborted</span>' in page
    assert "Aborted before all its tests ran (2 of 8 ran): gates and budgets were not evaluated." in page
    assert '<span class="verdict verdict-aborted">aborted</span>' in member.html(f"/projects/{shop}/runs")
    assert f'class="verdict verdict-aborted">{aborted} · aborted</a>' in member.html("/projects")


def test_aborted_runs_are_marked_apart_in_their_own_colour_and_counted_in_no_figure(app, member, shop):
    passed, failed = {"status": "passed"}, {"status": "failed"}
    ids = _runs(
        app,
        shop,
        ([passed, passed], "completed", "main"),
        ([passed, failed, failed], "aborted", "main"),
        ([passed, failed], "completed", "main"),
        ([{"status": "skipped", "skip_reason": "aborted"}], "aborted", "feature"),
        ([passed], "failed", "main"),
    )
    html = member.html(f"/projects/{shop}/runs")
    pass_chart = re.search(r'<figure class="chart">.*?</figure>', html, re.S).group(0)
    # The line joins the two completed runs (100 % and 50 %) alone; the aborted run that ran tests is a
    # diamond at its own 33 %, the one that ran nothing a rule only, the failed run nowhere.
    line = re.search(r'<polyline points="([^"]+)"', pass_chart).group(1).split()
    assert len(line) == 2 and re.findall(r"<circle [^>]*><title>(RUN-\d+)</title>", pass_chart) == [
        ids[0],
        ids[2],
    ]
    assert re.findall(r'<rect class="aborted"[^>]*><title>([^<]+)</title>', pass_chart) == [
        f"{ids[1]}: aborted, not counted"
    ]
    assert pass_chart.count('<line class="aborted-rule"') == 2 and ids[4] not in pass_chart
    assert "2 completed run(s), 2 measured" in pass_chart  # the figures count completed runs only
    assert (
        "aborted run: 2, 1 measured, not counted" in pass_chart and "completed run (the line)" in pass_chart
    )
    assert "and 2 aborted run(s) marked apart, not counted" in pass_chart  # said to a screen reader too
    feature = member.html(f"/projects/{shop}/runs?branch=feature")
    assert "aborted run: 1, 0 measured, not counted" in feature and "No measurements in the last 0" in feature
    css = app.test_client().get("/static/sentri.css").get_data(as_text=True)
    assert re.search(
        r"\.chart \.aborted, [^{]*\{[^}]*stroke: var\(--warn\)", css
    )  # brown: not red, not green
