"""vitalsSamples measure a page the way the test's own visit did: a hero painted late (a JS timer after load)
is in every sample, not only in the test's own reading. Real Chromium, a local page, the app's own engine."""

from __future__ import annotations

import time

import pytest

from sentri import projects, testcases, tokens
from sentri.database import write
from sentri.queue import lifecycle
from tests.support import StaticSite

pytestmark = pytest.mark.browser

HERO_AFTER_LOAD_MS = 800
# A small heading paints at once; the hero (far larger, so the LCP element) appears 800 ms after load.
LATE_HERO = f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Late hero</title></head>
<body><h1>Late hero</h1>
<div id="hero" hidden style="width:700px;height:500px;background:#36c;color:#fff">The hero: a large block of
text painted long after the load event, as a JS timer or a late fetch would paint it.</div>
<script>addEventListener("load", () => setTimeout(() => {{
  document.getElementById("hero").hidden = false; }}, {HERO_AFTER_LOAD_MS}));</script>
</body></html>"""


def _samples_of_one_run(app, base_url: str, samples: int) -> dict:
    with app.app_context():
        project = projects.create("Late hero", base_url)
        steps = [{"goto": "/hero"}, {"expect_visible": {"css": "#hero"}}]
        testcases.review(testcases.create(project, {"name": "late hero", "steps": steps}), "approve")
        with write():
            project.vitals_regression = {"vitalsSamples": samples}
        _, token = tokens.create(project)
        project_id = project.public_id
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    status_url = client.post(f"/api/v1/projects/{project_id}/trigger", headers=headers).get_json()[
        "statusUrl"
    ]
    deadline = time.monotonic() + 90
    while client.get(status_url, headers=headers).get_json()["status"] in ("queued", "running"):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    with app.app_context():
        run = lifecycle.get(status_url.rsplit("/", 1)[1])
        assert run.status == "completed", run.error
        (result,) = run.results
        assert result.status == "passed", result.error
        (page,) = result.vitals
        return page


def test_a_hero_painted_800_ms_after_load_is_in_every_sample(app):
    with StaticSite({"/hero": LATE_HERO}) as site:
        page = _samples_of_one_run(app, site.url, samples=5)
    lcp = page["samples"]["lcp"]
    # The test's own visit first (it waited for the hero), then four fresh loads: each must have waited
    # for the page to be still, so each LCP is the hero's, painted at least 800 ms after load.
    assert len(lcp) == 5, page
    assert all(value >= HERO_AFTER_LOAD_MS for value in lcp), lcp
    assert page["lcp"] >= HERO_AFTER_LOAD_MS


def test_the_hero_a_test_waited_for_is_in_its_own_reading_every_time(app):
    """A test ends right after its hero became visible, maybe before that frame was presented: the reading
    waits for the frame. Read at once, plain Playwright loads missed the hero in 1-8 of 40 readings on Debian's
    headless shell (0-2 on its full Chromium), none of 160 with the wait. A race: this run of 12 found no miss
    without the wait either in 3 tries; it holds the property, the measurement is the evidence."""
    with StaticSite({"/hero": LATE_HERO}) as site:
        with app.app_context():
            project = projects.create("Own readings", site.url)
            for n in range(12):
                steps = [{"goto": f"/hero?n={n}"}, {"expect_visible": {"css": "#hero"}}]
                testcases.review(testcases.create(project, {"name": f"hero {n}", "steps": steps}), "approve")
            _, token = tokens.create(project)
            project_id = project.public_id
        client = app.test_client()
        headers = {"Authorization": f"Bearer {token}"}
        status_url = client.post(
            f"/api/v1/projects/{project_id}/trigger",
            headers=headers,
            json={"dialsConfig": {"parallelWorkers": 2}},
        ).get_json()["statusUrl"]
        deadline = time.monotonic() + 120
        while client.get(status_url, headers=headers).get_json()["status"] in ("queued", "running"):
            assert time.monotonic() < deadline
            time.sleep(0.1)
    with app.app_context():
        run = lifecycle.get(status_url.rsplit("/", 1)[1])
        assert (run.status, run.passed) == ("completed", 12), run.error
        lcp = {result.test_name: [page["lcp"] for page in result.vitals] for result in run.results}
    assert all(values and values[0] >= HERO_AFTER_LOAD_MS for values in lcp.values()), lcp
