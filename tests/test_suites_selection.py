"""Suites (API + CLI) and test selection: suiteIds, caseIds and the selection strategies."""

from __future__ import annotations

from datetime import timedelta

import pytest

from sentri import projects, testcases, tokens
from sentri.database import write
from sentri.extensions import db
from sentri.models import TestCase, utcnow

OK = [{"goto": "/ok"}, {"expect_text": {"css": "h1"}, "text": "OK"}]


def _project(app, site, tests):
    """tests: name -> (steps, extra fields); all approved. Return (project id, token, {name: TST-n})."""
    with app.app_context():
        project = projects.create("Sel", site)
        ids = {}
        for name, extra in tests.items():
            test = testcases.create(project, {"name": name, "steps": OK, **extra})
            testcases.review(test, "approve")
            ids[name] = test.public_id
        _, token = tokens.create(project)
        return project.public_id, token, ids


def test_suites_api(client, project, member_headers, admin_headers):
    base = f"/api/v1/projects/{project['id']}"
    for name in ("a", "b"):
        client.post(f"{base}/tests", json={"name": name, "steps": OK}, headers=member_headers)
    created = client.post(
        f"{base}/suites", json={"name": "Checkout", "testIds": ["TST-1"]}, headers=member_headers
    )
    assert created.status_code == 201 and created.get_json()["id"] == "SUI-1"
    assert created.get_json()["testIds"] == ["TST-1"]
    added = client.post(
        f"{base}/suites/SUI-1/tests", json={"testIds": ["TST-2", "TST-1"]}, headers=member_headers
    )
    assert added.get_json()["testIds"] == ["TST-1", "TST-2"]
    second = client.post(
        f"{base}/suites", json={"name": "Smoke", "testIds": ["TST-2"]}, headers=member_headers
    )
    assert second.get_json()["testIds"] == ["TST-2"]  # a test may be in several suites
    removed = client.delete(f"{base}/suites/SUI-1/tests/TST-1", headers=member_headers)
    assert removed.get_json()["testIds"] == ["TST-2"]
    assert [s["id"] for s in client.get(f"{base}/suites", headers=member_headers).get_json()] == [
        "SUI-1",
        "SUI-2",
    ]
    bad = client.post(f"{base}/suites", json={"name": "x", "testIds": ["TST-9"]}, headers=member_headers)
    assert bad.status_code == 400 and "TST-9" in bad.get_json()["error"]
    assert client.post(f"{base}/suites", json={"testIds": []}, headers=member_headers).status_code == 400
    assert (
        client.patch(f"{base}/suites/SUI-1", json={"name": "Pay"}, headers=member_headers).get_json()["name"]
        == "Pay"
    )
    # Members edit suites; deleting one takes an admin (README: roles).
    assert client.delete(f"{base}/suites/SUI-2", headers=member_headers).status_code == 403
    assert client.get(f"{base}/suites/SUI-2", headers=member_headers).status_code == 200
    assert client.delete(f"{base}/suites/SUI-2", headers=admin_headers).get_json() == {"ok": True}
    assert client.get(f"{base}/suites/SUI-2", headers=member_headers).status_code == 404


def test_suites_cli(runner, app):
    runner.invoke(args=["projects", "create", "P", "--base-url", "http://127.0.0.1:9"])
    with app.app_context():
        testcases.create(projects.get("PRJ-1"), {"name": "a", "steps": OK})
        testcases.create(projects.get("PRJ-1"), {"name": "b", "steps": OK})
    created = runner.invoke(args=["suites", "create", "--project", "PRJ-1", "Nightly", "--test", "TST-1"])
    assert created.exit_code == 0 and created.stdout.strip().splitlines()[-1] == "SUI-1"
    added = runner.invoke(args=["suites", "add", "--project", "PRJ-1", "SUI-1", "TST-2"])
    assert added.stdout.strip().splitlines()[-1] == "2"
    assert (
        "SUI-1\tNightly\tTST-1,TST-2" in runner.invoke(args=["suites", "list", "--project", "PRJ-1"]).stdout
    )
    removed = runner.invoke(args=["suites", "remove", "--project", "PRJ-1", "SUI-1", "TST-1"])
    assert removed.stdout.strip().splitlines()[-1] == "1"
    bad = runner.invoke(args=["suites", "add", "--project", "PRJ-1", "SUI-1", "TST-7"])
    assert bad.exit_code != 0 and "TST-7" in bad.output


def _selected(client, project_id, token, body, admin_headers):
    response = client.post(
        f"/api/v1/projects/{project_id}/trigger",
        json={**body, "wait": True},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code in (200, 422), response.get_json()
    detail = client.get(f"/api/v1/runs/{response.get_json()['runId']}", headers=admin_headers).get_json()
    # The approved tests the selection left out are in the run too, skipped as deselected.
    assert all(r["status"] != "skipped" or r["skipReason"] == "deselected" for r in detail["results"])
    return sorted(r["testName"] for r in detail["results"] if r["skipReason"] != "deselected"), detail[
        "options"
    ]["selection"]


@pytest.mark.browser
def test_selection_strategies_and_suites_choose_the_tests(app, client, site, admin_headers):
    project_id, token, ids = _project(
        app,
        site,
        {
            "cart": {"covers": ["src/cart/**"]},
            "login": {"covers": ["src/auth/*.py"]},
            "smoke home": {},
            "old": {},
        },
    )
    with app.app_context(), write():
        old = db.session.get(TestCase, int(ids["old"][4:]))
        old.created_at = old.updated_at = utcnow() - timedelta(days=30)
        db.session.get(TestCase, int(ids["login"][4:])).flaky_score = 0.2

    names, selection = _selected(
        client,
        project_id,
        token,
        {"selectionStrategy": "changed", "changedFiles": ["src/cart/view.js"]},
        admin_headers,
    )
    assert names == ["cart", "smoke home"]  # the covering test and the smoke test
    assert selection["selectionStrategy"] == "changed" and sorted(selection["testIds"]) == sorted(
        [ids["cart"], ids["smoke home"]]
    )

    names, _ = _selected(client, project_id, token, {"selectionStrategy": "flaky"}, admin_headers)
    assert names == ["login"]
    names, _ = _selected(
        client, project_id, token, {"selectionStrategy": "recent", "recentDays": 7}, admin_headers
    )
    assert names == ["cart", "login", "smoke home"]

    suite = client.post(
        f"/api/v1/projects/{project_id}/suites",
        json={"name": "s", "testIds": [ids["old"]]},
        headers=admin_headers,
    ).get_json()
    names, selection = _selected(client, project_id, token, {"suiteIds": [suite["id"]]}, admin_headers)
    assert names == ["old"] and selection["suiteIds"] == [suite["id"]]

    # Nothing left to run is not an error: the run completes at once with every test deselected.
    names, _ = _selected(
        client, project_id, token, {"suiteIds": [suite["id"]], "selectionStrategy": "flaky"}, admin_headers
    )
    assert names == []
