"""Pinning the Web Vitals baseline from a run's own page: offered for a run the API would pin (completed,
Web Vitals measured), refused with the reason otherwise, admins only, and the page says when the run is the
pinned baseline and offers to unpin it. Each form answers on the run's page, at its section."""

from __future__ import annotations

import re

import pytest

from sentri import projects
from sentri.errors import Conflict
from sentri.policies import vitals_baseline
from tests.support.runs import recorded_run
from tests.test_vitals_baseline import paced  # noqa: F401  (the fixture)

PIN = "Pin as Web Vitals baseline"


def _section(html: str) -> str:
    return re.search(r'<section class="card" id="vitals-baseline".*?</section>', html, re.S).group(0)


def test_a_run_is_pinned_and_unpinned_from_its_page_and_lands_back_at_the_section(app, admin, member, paced):  # noqa: F811
    runs = [paced.run(500, branch="main") for _ in range(2)]
    first = runs[0].public_id
    page = f"/runs/{first}"
    section = _section(admin.html(page))
    assert PIN in section and f'action="/runs/{first}/vitals-baseline#vitals-baseline"' in section
    assert "chromium (desktop)" in section and "Today it rolls." in section
    assert PIN not in _section(member.html(page)) and "Only an admin pins the baseline." in member.html(page)
    assert member.post(f"{page}/vitals-baseline").status_code == 403

    pinned = admin.post(f"{page}/vitals-baseline")
    assert pinned.status_code == 302 and pinned.headers["Location"].endswith(f"{page}#vitals-baseline")
    section = _section(admin.html(page))
    assert f"{first} is now the pinned Web Vitals baseline on chromium (desktop)" in section
    assert "This run is the pinned baseline" in section and "Unpin" in section and PIN not in section
    with app.app_context():
        assert (
            vitals_baseline.describe(projects.get(paced.project_id), "chromium", "desktop")["pinned"]["runId"]
            == first
        )
    # Another run of the same browser and device says it would replace that pin.
    other = _section(admin.html(f"/runs/{runs[1].public_id}"))
    assert PIN in other and f'Pinning replaces the pin at <a href="/runs/{first}">{first}</a>.' in other
    # Unpinning from a run that is not (or no longer) the pinned one leaves the pin alone.
    refused = admin.post(f"/runs/{runs[1].public_id}/vitals-baseline/unpin", follow_redirects=True)
    assert "is not the pinned baseline (any more): nothing was unpinned." in refused.get_data(as_text=True)
    assert member.post(f"{page}/vitals-baseline/unpin").status_code == 403
    unpinned = admin.post(f"{page}/vitals-baseline/unpin")
    assert unpinned.headers["Location"].endswith(f"{page}#vitals-baseline")
    section = _section(admin.html(page))
    assert "is no longer the pinned Web Vitals baseline" in section and PIN in section
    # A reload of the form's address goes back to the section.
    assert admin.get(f"{page}/vitals-baseline").headers["Location"].endswith(f"{page}#vitals-baseline")


def test_a_run_that_cannot_be_the_baseline_says_why_and_the_api_refuses_it_the_same_way(app, admin, paced):  # noqa: F811
    stopped = paced.run(500, status="aborted").public_id
    with app.app_context():
        project = projects.get(paced.project_id)
        unmeasured = recorded_run(project, [{"status": "passed"}]).public_id
        # A test that loaded no page, and one whose page measured nothing, measured no Web Vitals either.
        empty = recorded_run(
            project,
            [
                {"status": "passed", "vitals": []},
                {
                    "status": "passed",
                    "vitals": [{"url": "/", "lcp": None, "cls": None, "inp": None, "ttfb": None}],
                },
            ],
        ).public_id
    for run_id, why in (
        (stopped, "is aborted: only a completed run can be the baseline."),
        (unmeasured, "measured no Web Vitals"),
        (empty, "measured no Web Vitals"),
    ):
        section = _section(admin.html(f"/runs/{run_id}"))
        assert "This run cannot be the baseline." in section and why in section and PIN not in section
        refused = admin.post(f"/runs/{run_id}/vitals-baseline", follow_redirects=True).get_data(as_text=True)
        assert why in _section(refused) and 'class="flash flash-error"' in _section(refused)
        with app.app_context(), pytest.raises(Conflict, match=re.escape(why)):
            vitals_baseline.pin(projects.get(paced.project_id), {"runId": run_id}, None)  # as the API pins
