"""The lists a team reads every day: tests found by a part of their name; runs with their branch, commit
and who started them in words (the token's label, the person's email), filtered by verdict and branch.
The pages show the showcase project."""

from __future__ import annotations

import re

import pytest

from sentri import projects, testcases
from sentri.queue import lifecycle
from sentri.reports import serialize
from tests.support import showcase
from tests.support.runs import recorded_run
from tests.test_run_triage import Admin


@pytest.fixture
def shown(app):
    ids = showcase.seed(app)
    with app.app_context():
        project = projects.get(ids["project"])
        ids["aborted"] = recorded_run(
            project, [{"status": "passed"}, {"status": "skipped", "skip_reason": "aborted"}], status="aborted"
        ).public_id
        testcases.create(project, {"name": "100% off_sale banner", "steps": [{"action": "goto", "url": "/"}]})
    return ids


@pytest.fixture
def admin(app, shown):
    return Admin(app.test_client())


def _names(html: str) -> list[str]:
    table = html[html.index('<table class="list">') : html.index("</table>")]
    return re.findall(r'/tests/TST-\d+">([^<]+)</a>', table)


def test_tests_are_found_by_a_part_of_their_name_in_any_case(admin, shown):
    tests = f"/projects/{shown['project']}/tests"
    assert _names(admin.html(f"{tests}?q=CHECK")) == ["Checkout"]
    assert _names(admin.html(f"{tests}?q=o")) == [
        "Home loads",
        "Checkout",
        "Account menu",
        "Product page",
        "100% off_sale banner",
    ]
    # % and _ are the name's own characters, not patterns.
    assert _names(admin.html(f"{tests}?q=100%25")) == ["100% off_sale banner"]
    assert _names(admin.html(f"{tests}?q=f_s")) == ["100% off_sale banner"]
    assert _names(admin.html(f"{tests}?q=%25_%25")) == []
    html = admin.html(f"{tests}?q=zzz&tag=smoke")
    assert "No tests match the filter." in html and 'name="q" type="search" value="zzz"' in html


def _rows(html: str) -> list[str]:
    table = html[html.index('<table class="list">') : html.index("</table>")]
    return re.findall(r"<tr>.*?</tr>", table, re.S)[1:]


def test_the_runs_list_says_branch_commit_and_who_started_each_run(admin, shown):
    rows = _rows(admin.html(f"/projects/{shown['project']}/runs"))
    by_token = next(r for r in rows if ">RUN-1</a>" in r)
    assert "<code>main</code>" in by_token and '<code title="' + "1" * 40 + '">1111111</code>' in by_token
    assert "<td>github-actions (CI token TOK-1)</td>" in by_token
    by_person = next(r for r in rows if ">RUN-2</a>" in r)
    assert "<code>feature/cart</code>" in by_person and "<td>admin@example.com</td>" in by_person
    assert "TOK-1</td>" not in by_person and "USR-1" not in "".join(rows)


@pytest.mark.parametrize("verdict", ["passed", "failed", "aborted", "pending"])
def test_the_runs_list_filters_by_verdict(app, admin, shown, verdict):
    html = admin.html(f"/projects/{shown['project']}/runs?verdict={verdict}")
    listed = re.findall(r'<td><a href="/runs/(RUN-\d+)">', html)
    with app.app_context():
        every, _ = lifecycle.list_for(projects.get(shown["project"]), limit=100)
        expected = [run.public_id for run in every if serialize.shown_verdict(run) == verdict]
    assert listed == expected and (verdict == "pending" or listed)
    assert f'<option value="{verdict}" selected>' in html
    if verdict == "aborted":
        assert listed[0] == shown["aborted"] and len(listed) == 2  # and the showcase's own aborted run


def test_verdict_and_branch_filters_combine(app, admin, shown):
    html = admin.html(f"/projects/{shown['project']}/runs?verdict=passed&branch=feature/cart")
    listed = re.findall(r'<td><a href="/runs/(RUN-\d+)">', html)
    assert listed == ["RUN-4", "RUN-2"]
    nothing = admin.html(f"/projects/{shown['project']}/runs?verdict=pending")
    assert "No pending runs." in nothing
