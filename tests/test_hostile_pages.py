"""What the page under test can do to Sentri, and what Sentri does about it: a robots.txt that redirects into a
blocked network, never ends or never stops growing; a page that disables the vitals read; a page whose script
keeps the main thread busy forever; and, behind all of them, a job that outlives every bound of its own. Each
of these once held a browser worker (and its run, or its crawl) forever.

The blocked network is a loopback stand-in (127.0.0.2, declared in SENTRI_BROWSER_BLOCKED_NETWORKS) whose
server records whether anything arrived."""

from __future__ import annotations

import asyncio
import time

import pytest

from sentri import origins, projects, testcases, tokens, users
from sentri.auth import issue_jwt
from sentri.crawl.discovery import fetch_text
from sentri.runtime import runtime
from sentri.worker import executor, job_spec
from tests.support import StaticSite, TricklingReceiver

BLOCKED = "169.254.0.0/16,127.0.0.2/32"
NETWORKS = origins.parse_networks(BLOCKED)

# The page hands the vitals read a `store` that waits for INP forever, and a setTimeout that never fires.
VITALS_TRAP = """<!doctype html><title>Trap</title><h1>Trap</h1><script>
addEventListener("load", () => {
  if (globalThis.__sentriVitals) globalThis.__sentriVitals.interacted = true;
  window.setTimeout = () => 0;
});
</script>"""
# After load, the main thread never comes back: no evaluate, no screenshot, no title read ever answers.
BUSY = """<!doctype html><title>Busy</title><h1>Busy</h1><script>
addEventListener("load", () => setTimeout(() => { for (;;) {} }, 100));
</script>"""


# -- robots.txt and sitemaps, fetched by the server ---------------------------------------------------------


def test_a_robots_txt_that_redirects_into_a_blocked_network_is_refused_at_that_hop():
    with (
        StaticSite({"/latest/meta-data/": "AccessKeyId SecretAccessKey"}, host="127.0.0.2") as metadata,
        StaticSite(
            {}, redirects={"/robots.txt": (302, "/next"), "/next": (307, f"{metadata.url}/latest/meta-data/")}
        ) as site,
    ):
        text, why = fetch_text(f"{site.url}/robots.txt", networks=NETWORKS, user_agent="Sentri-test")
        assert text is None
        assert (
            why.startswith("refused: ")
            and "127.0.0.2 (127.0.0.2) is in the blocked network 127.0.0.2/32" in why
        )
        assert [hit.path for hit in site.hits] == ["/robots.txt", "/next"]  # the allowed hop was followed
        assert metadata.hits == []


def test_a_robots_txt_that_redirects_within_the_site_is_followed():
    with StaticSite(
        {"/robots.txt": "User-agent: *\nDisallow: /private\n"}, redirects={"/old": (301, "/robots.txt")}
    ) as site:
        # StaticSite answers text/html; a robots.txt answered as HTML is ignored, which proves it was reached.
        assert fetch_text(f"{site.url}/old", networks=NETWORKS, user_agent="Sentri-test") == (
            None,
            "an HTML page",
        )
        assert [hit.path for hit in site.hits] == ["/old", "/robots.txt"]


@pytest.mark.parametrize("mode", ["head", "slow-body"])
def test_a_robots_txt_that_never_finishes_ends_at_the_fetchs_deadline(mode):
    with TricklingReceiver(mode, interval=0.1) as never:
        text, why = fetch_text(
            never.hook_url("robots.txt"), networks=NETWORKS, user_agent="Sentri-test", seconds=1.0
        )
        assert (text, why) == (None, "no answer within 1 s")
        assert never.wait_for(requests=1)


def test_a_robots_txt_that_never_stops_growing_is_cut_at_the_byte_cap_as_it_streams():
    with TricklingReceiver("endless-body", cap=256 * 1024 * 1024) as endless:
        text, why = fetch_text(
            endless.hook_url("robots.txt"), networks=NETWORKS, user_agent="Sentri-test", limit=1024 * 1024
        )
        assert (text, why) == (None, "larger than 1 MB")
        assert endless.wait_for(hangups=1)  # Sentri hung up: it did not read the other 255 MB


# -- pages that fight the browser calls after the steps -------------------------------------------------------


def _run_to_end(app, site_url: str, tests: dict[str, list[dict]], body: dict | None = None) -> dict:
    with app.test_request_context():
        project = projects.create("Hostile", site_url)
        for name, steps in tests.items():
            testcases.review(testcases.create(project, {"name": name, "steps": steps}), "approve")
        _, token = tokens.create(project)
        admin = users.create_user("hostile-admin@example.com", "correct horse battery", role="admin")
        jwt = issue_jwt(admin)[0]
        project_id = project.public_id
    client = app.test_client()
    started = client.post(
        f"/api/v1/projects/{project_id}/trigger",
        json=body or {},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert started.status_code == 202, started.get_json()
    url = f"/api/v1/runs/{started.get_json()['runId']}"
    deadline = time.monotonic() + 240
    while (detail := client.get(url, headers={"Authorization": f"Bearer {jwt}"}).get_json())[
        "status"
    ] == "running":
        assert time.monotonic() < deadline, detail
        time.sleep(0.1)
    return detail


@pytest.mark.browser
def test_a_page_that_disables_the_vitals_read_cannot_hold_the_test(app_factory):
    with StaticSite({"/": VITALS_TRAP}) as site:
        app = app_factory(SENTRI_TEST_TIMEOUT_SECONDS=20)
        detail = _run_to_end(
            app,
            site.url,
            {
                "trap": [
                    {"goto": "/"},
                    {"click": {"css": "h1"}},
                    {"expect_text": {"css": "h1"}, "text": "Trap"},
                ]
            },
            {"dialsConfig": {"vitalsSamples": 2}},
        )
        [result] = detail["results"]
        assert detail["status"] == "completed" and result["status"] == "passed", result


@pytest.mark.browser
def test_a_page_busy_forever_fails_its_test_and_the_run_ends(app_factory):
    with StaticSite({"/": BUSY}) as site:
        app = app_factory(SENTRI_TEST_TIMEOUT_SECONDS=8)
        detail = _run_to_end(
            app, site.url, {"busy": [{"goto": "/"}, {"expect_title": "Never", "timeout": 2000}]}
        )
        [result] = detail["results"]
        assert detail["status"] == "completed" and result["status"] == "failed"
        assert result["failingStep"] == 2


@pytest.mark.browser
def test_a_crawl_gives_up_a_page_busy_forever_and_ends(app_factory):
    page_links = (
        '<!doctype html><title>Home</title><h1>Home</h1><a href="/busy">busy</a><a href="/fine">fine</a>'
    )
    fine = "<!doctype html><title>Fine</title><h1>Fine</h1>"
    with StaticSite({"/": page_links, "/busy": BUSY, "/fine": fine}) as site:
        app = app_factory(SENTRI_STEP_TIMEOUT_MS=2000)
        with app.test_request_context():
            project = projects.create("Crawled", site.url)
            admin = users.create_user("crawl-admin@example.com", "correct horse battery", role="admin")
            headers = {"Authorization": f"Bearer {issue_jwt(admin)[0]}"}
            project_id = project.public_id
        client = app.test_client()
        started = client.post(
            f"/api/v1/projects/{project_id}/crawls", json={"generateTests": False}, headers=headers
        )
        assert started.status_code == 202, started.get_json()
        deadline = time.monotonic() + 120
        while (crawl := client.get(started.get_json()["statusUrl"], headers=headers).get_json())[
            "status"
        ] in ("queued", "running"):
            assert time.monotonic() < deadline, crawl
            time.sleep(0.2)
        assert crawl["status"] == "completed", crawl
        pages = {page["path"]: page for page in crawl["pages"]}
        assert set(pages) == {"/", "/busy", "/fine"}
        assert pages["/fine"]["error"] is None
        # Named for what it was doing when given up on (its facts' read, bounded on its own), not the page's whole budget.
        busy = pages["/busy"]["error"]
        assert busy.startswith("the page was not read (its links") or "Timeout" in busy, busy


# -- the backstop: a job that outlives every bound of its own -----------------------------------------------


@pytest.mark.browser
def test_a_job_past_its_hard_deadline_is_given_up_failed_and_the_browser_relaunched(app_factory, monkeypatch):
    """Whatever kept it (a browser call no bound covers): the engine cancels it past job_spec.hard_deadline,
    records the test as failed saying so, and the worker relaunches its browser for the next test."""
    monkeypatch.setattr(executor, "WRAP_UP_SECONDS", 0.5)
    monkeypatch.setattr(job_spec, "WRAP_UP_SECONDS", 0.5)  # hard_deadline reads both from there
    monkeypatch.setattr(job_spec, "SLACK_SECONDS", 0.5)
    calls = []

    async def held_once(*args, **kwargs):
        calls.append(args)
        if len(calls) == 1:
            await asyncio.sleep(3600)  # an await nothing of its own bounds
        return await real(*args, **kwargs)

    from sentri.worker import browser_worker

    real = browser_worker.execute
    monkeypatch.setattr(browser_worker, "execute", held_once)
    with StaticSite({"/": "<!doctype html><title>Fine</title><h1>Fine</h1>"}) as site:
        app = app_factory(SENTRI_TEST_TIMEOUT_SECONDS=1)
        detail = _run_to_end(
            app,
            site.url,
            {"one": [{"goto": "/"}], "two": [{"goto": "/"}]},
            {"dialsConfig": {"parallelWorkers": 1}},
        )
        held, after = sorted(detail["results"], key=lambda r: r["startedAt"])
        assert detail["status"] == "completed" and len(calls) == 2
        assert held["status"] == "failed"
        assert "outlived every deadline of its own" in held["error"], held
        assert after["status"] == "passed"  # on a relaunched browser
        worker = runtime(app).engine._workers[0]
        assert worker.browsers.local is not None and worker.browsers.local.is_connected()
