"""The pages for quarantine and the regression gate: forms that save, refuse by field, and show what runs did."""

from __future__ import annotations

from sentri import projects, testcases
from sentri.extensions import db
from sentri.models import TestCase
from sentri.runs.options import parse_options
from tests.support.runs import recorded_run

URL = "http://127.0.0.1:9/paced"


def _test(app, project_id):
    with app.app_context():
        test = testcases.create(projects.get(project_id), {"name": "paced", "steps": [{"goto": "/paced"}]})
        testcases.review(test, "approve")
        return test.public_id


def test_a_member_quarantines_and_releases_a_test_from_its_page(app, member, shop):
    test_id = _test(app, shop)
    page = f"/projects/{shop}/tests/{test_id}"
    refused = member.post(f"{page}/quarantine", {"action": "enter", "reason": ""})
    assert refused.status_code == 400 and "reason" in refused.get_data(as_text=True)
    saved = member.post(f"{page}/quarantine", {"action": "enter", "reason": "times out <on> CI"})
    assert saved.status_code == 302
    html = member.html(page)
    assert "times out &lt;on&gt; CI" in html and "Take out of quarantine" in html
    assert "quarantined" in member.html(f"/projects/{shop}/tests")
    assert member.post(f"{page}/quarantine", {"action": "enter", "reason": "again"}).status_code == 409
    assert member.post(f"{page}/quarantine", {"action": "release"}).status_code == 302
    assert "Reason to quarantine" in member.html(page)
    assert member.post(f"{page}/quarantine", {"action": "release"}).status_code == 409
    assert (
        member.client.post(f"{page}/quarantine", data={"action": "release"}).status_code == 400
    )  # no CSRF token


def test_the_regression_form_saves_rules_and_refuses_by_field(app, admin, member, shop):
    url = f"/projects/{shop}/vitals-regression"
    form = {
        "lcp.maxIncreasePct": "10",
        "lcp.minIncreaseMs": "",
        "ttfb.maxIncreasePct": "",
        "ttfb.minIncreaseMs": "",
        "cls.maxIncreasePct": "",
        "cls.minIncrease": "",
        "alpha": "",
        "baselineRuns": "5",
        "vitalsSamples": "5",
        "mode": "advisory",
        "baselineBranch": "trunk",
    }
    assert member.post(url, form).status_code == 403
    assert admin.post(url, form).status_code == 302
    with app.app_context():
        stored = projects.get(shop).vitals_regression
    assert stored["lcp"] == {"maxIncreasePct": 10, "minIncreaseMs": 100} and "ttfb" not in stored
    assert (stored["mode"], stored["vitalsSamples"], stored["baselineBranch"]) == ("advisory", 5, "trunk")
    html = admin.html(f"/projects/{shop}/gates")
    assert 'value="trunk"' in html and 'name="lcp.minIncreaseMs"' in html

    bad = admin.post(url, {**form, "vitalsSamples": "12"})
    assert bad.status_code == 400 and (
        'id="regression-vitalsSamples-error">must be a whole number from 1 to 9' in bad.get_data(as_text=True)
    )
    bad = admin.post(url, {**form, "cls.minIncrease": "3"})
    assert bad.status_code == 400 and "cls.minIncrease" in bad.get_data(as_text=True)


def test_the_quarantine_policy_form_saves_and_refuses_by_field(app, admin, shop):
    url = f"/projects/{shop}/quarantine-policy"
    bad = admin.post(url, {"autoFlakyScore": "30", "suggestReleaseAfter": "3"})
    assert bad.status_code == 400 and "autoFlakyScore" in bad.get_data(as_text=True)
    assert admin.post(url, {"autoFlakyScore": "0.3", "suggestReleaseAfter": "3"}).status_code == 302
    with app.app_context():
        assert projects.get(shop).quarantine_policy == {"autoFlakyScore": 0.3, "suggestReleaseAfter": 3}


def test_the_run_page_shows_samples_spread_regressions_and_quarantined_results(app, admin, shop):
    test_id = _test(app, shop)
    with app.app_context():
        project = projects.get(shop)
        project.vitals_regression = {"lcp": {"maxIncreasePct": 10, "minIncreaseMs": 100}}
        db.session.commit()
        key = TestCase.key_of(test_id)

        def run(samples, **fields):
            page = {
                "url": URL,
                "lcp": sorted(samples)[len(samples) // 2],
                "cls": 0,
                "inp": None,
                "ttfb": 5,
                "samples": {"lcp": samples},
            }
            return recorded_run(
                project,
                [{"test_id": key, "status": "passed", "vitals": [page], **fields}],
                options=parse_options({"branch": "main"}),
            ).public_id

        for _ in range(3):
            run([500, 510, 490, 505, 495])
        slow = run([800, 810, 790, 805, 795])
        held = run([500, 505], quarantined=True)
    html = admin.html(f"/runs/{slow}")
    assert "LCP_REGRESSION on Test 1" in html and "median 800 vs baseline 500, limit 600" in html
    assert "LCP slower than the baseline on " in html and "800 ms against 500 ms" in html
    assert "vital-regressed" in html and "790 ms–810 ms, median of 5 samples" in html
    assert "branch <code>main</code>" in html
    html = admin.html(f"/runs/{held}")
    assert "badge-quarantined" in html and '<span data-field="quarantined">1</span> quarantined' in html
