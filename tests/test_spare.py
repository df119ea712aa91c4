"""A page opened ahead by an idle worker (sentri/worker/spare.py): taken only when it fits, fresh, and
behind the taking test's own guard."""

from __future__ import annotations

import time
from types import SimpleNamespace

import pytest
from playwright.async_api import Error as PlaywrightError

from sentri import origins, projects, testcases, tokens
from sentri.models import Result
from sentri.runtime import runtime
from sentri.worker import vitals_probe
from sentri.worker.guard import HostCache, gated_context, guard_context, install_routes
from sentri.worker.spare import Spare, settle
from tests.support import StaticSite
from tests.support.async_browser import chromium_on_own_loop

pytestmark = pytest.mark.browser
BLOCKED = "169.254.0.0/16,fe80::/10,127.0.0.2/32"
NETWORKS = origins.parse_networks(BLOCKED)


@pytest.fixture(scope="module")
def chromium():
    yield from chromium_on_own_loop()


def test_a_spare_is_taken_only_by_the_same_browser_and_options(chromium):
    loop, browser = chromium

    async def scenario():
        spare = Spare()
        assert await spare.take(browser, {}) is None  # nothing prepared
        before = len(browser.contexts)
        spare.prepare(browser, NETWORKS, {"viewport": {"width": 800, "height": 600}})
        spare.prepare(browser, NETWORKS, {})  # one at a time: the first stays
        await settle()
        assert spare.ready and len(browser.contexts) == before + 1
        assert await spare.take(browser, {}) is None  # other options: closed, not handed over
        await settle()
        assert len(browser.contexts) == before and not spare.ready

        spare.prepare(browser, NETWORKS, {"viewport": {"width": 800, "height": 600}})
        context, page, nothing, _gate = await spare.take(browser, {"viewport": {"width": 800, "height": 600}})
        assert page.url == "about:blank" and context.pages == [page] and spare.taken == 1 and nothing is None
        assert page.viewport_size == {"width": 800, "height": 600}
        assert await spare.take(browser, {}) is None  # taken once
        await context.close()

        spare.prepare(
            browser, NETWORKS, {}, vitals_probe.arm
        )  # what a worker does: the probe is set up while idle
        context, page, recorder, _gate = await spare.take(browser, {})
        assert (
            isinstance(recorder, vitals_probe.VitalsRecorder)
            and await page.evaluate(f"typeof globalThis.{vitals_probe.BINDING}") == "function"
        )
        await context.close()

        spare.prepare(browser, NETWORKS, {})
        await spare.close()
        await settle()
        assert len(browser.contexts) == before and not spare.ready

    loop.run_until_complete(scenario())


def test_routes_opened_ahead_refuse_until_a_guard_answers_them_and_fit_any_guard(chromium):
    """A page opened at a test's end gets routes for a test like it before the next test's guard exists:
    nothing they route loads until a guard answers them, and a test on another site still gets its whole guard."""
    loop, browser = chromium
    metadata = StaticSite({"/": "<h1>instance-secret</h1>"}, host="127.0.0.2").start()
    here = StaticSite({"/": "<title>Here</title><h1>here</h1>"}).start()
    there = StaticSite({"/": "<title>There</title><h1>there</h1>"}).start()

    def where(base_url: str) -> SimpleNamespace:
        return SimpleNamespace(blocked_networks=NETWORKS, secret_values=[], trusted=None, base_url=base_url)

    async def scenario():
        hosts = HostCache()
        context, gate = await gated_context(browser, NETWORKS, {})
        try:
            routes = await install_routes(context, where(here.url), hosts)
            page = await context.new_page()
            with pytest.raises(PlaywrightError, match="ERR_BLOCKED_BY_CLIENT"):
                await page.goto(there.url + "/")  # routed, and no guard answers yet: refused
            page = await context.new_page()  # (the refused one goes on to its error page)
            await page.goto(here.url + "/")  # the origin the routes leave out (the gate still checks it)
            # The next test is on the other site: its guard answers these routes and adds its own.
            guard = await guard_context(context, where(there.url), hosts, gate, routes)
            assert routes.guard is guard
            await page.goto(there.url + "/")
            assert await page.title() == "There"
            await page.goto(here.url + "/")
            with pytest.raises(PlaywrightError):
                await page.goto(metadata.url + "/")
            assert guard.refusals and "blocked network 127.0.0.2/32" in guard.refusals[0]
        finally:
            await context.close()

    try:
        loop.run_until_complete(scenario())
    finally:
        for site in (metadata, here, there):
            site.stop()
    assert metadata.hits == [] and [hit.path for hit in there.hits] == ["/"]


def test_a_runs_next_test_starts_on_the_page_its_predecessor_opened_fresh_and_guarded(app_factory):
    metadata = StaticSite({"/latest/meta-data/": "<h1>instance-secret</h1>"}, host="127.0.0.2").start()
    fresh = """<!doctype html><title>Fresh</title><h1 id="c"></h1>
<script>document.getElementById("c").textContent = document.cookie ? "seen " + document.cookie : "fresh";
document.cookie = "visited=1";</script>"""
    reaching = f"""<!doctype html><title>Shop</title><h1>Shop</h1>
<script>fetch("{metadata.url}/latest/meta-data/").then(r => r.text()).then(t => document.title = t)</script>"""
    site = StaticSite({"/fresh": fresh, "/reach": reaching}).start()
    try:
        app = app_factory(SENTRI_BROWSER_BLOCKED_NETWORKS=BLOCKED, SENTRI_MAX_BROWSERS="1")
        engine = runtime(app).engine
        steps = [{"goto": "/fresh"}, {"expect_text": {"css": "#c"}, "text": "fresh"}]
        with app.app_context():
            project = projects.create("Ahead", site.url)
            _, token = tokens.create(project)
            project_id = project.public_id
            for name, test_steps in (
                ("one", steps),
                ("two", steps),
                ("reach", [{"goto": "/reach"}, {"wait": 500}, {"expect_title": "Shop"}]),
            ):
                testcases.review(testcases.create(project, {"name": name, "steps": test_steps}), "approve")
        engine.start()
        _wait_for(lambda: all(w.spare.ready for w in engine._workers), "the idle workers' spares")
        taken = sum(w.spare.taken for w in engine._workers)
        body = (
            app.test_client()
            .post(
                f"/api/v1/projects/{project_id}/trigger",
                json={"wait": True, "dialsConfig": {"parallelWorkers": 1, "retries": 0}},
                headers={"Authorization": f"Bearer {token}"},
            )
            .get_json()
        )
        assert body["status"] == "completed" and (body["passed"], body["failed"]) == (2, 1), body
        with app.app_context():
            results = {r.test_name: r for r in Result.query.all()}
        assert results["one"].status == results["two"].status == "passed"  # each on a fresh page
        assert "127.0.0.2" in results["reach"].error  # the guard of the test that took the page
        assert metadata.hits == []
        # Each of the three started on a page opened before it was claimed (a refusal is not re-run for a trace).
        assert sum(w.spare.taken for w in engine._workers) == taken + 3
    finally:
        metadata.stop()
        site.stop()


def _wait_for(predicate, what: str, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_an_idle_workers_spare_starts_the_next_run_fresh_and_guarded(app_factory):
    metadata = StaticSite({"/latest/meta-data/": "<h1>instance-secret</h1>"}, host="127.0.0.2").start()
    fresh = """<!doctype html><title>Fresh</title><h1 id="c"></h1>
<script>document.getElementById("c").textContent = document.cookie ? "seen " + document.cookie : "fresh";
document.cookie = "visited=1"; localStorage.setItem("visited", "1");</script>"""
    reaching = f"""<!doctype html><title>Shop</title><h1>Shop</h1>
<script>fetch("{metadata.url}/latest/meta-data/").then(r => r.text()).then(t => document.title = t)</script>"""
    site = StaticSite({"/fresh": fresh, "/reach": reaching}).start()
    try:
        app = app_factory(SENTRI_BROWSER_BLOCKED_NETWORKS=BLOCKED)
        client = app.test_client()
        engine = runtime(app).engine
        with app.app_context():
            project = projects.create("Spare", site.url)
            _, token = tokens.create(project)
            project_id = project.public_id
            test = testcases.create(
                project,
                {
                    "name": "fresh",
                    "steps": [{"goto": "/fresh"}, {"expect_text": {"css": "#c"}, "text": "fresh"}],
                },
            )
            testcases.review(test, "approve")
        engine.start()
        worker = engine._workers[0]

        def run(pages: int = 1) -> dict:
            _wait_for(lambda: worker.spare.ready, "the idle worker's spare")
            taken = worker.spare.taken
            answer = client.post(
                f"/api/v1/projects/{project_id}/trigger",
                json={"wait": True},
                headers={"Authorization": f"Bearer {token}"},
            )
            # The run's first test started on the spare (and a failure's re-run for its trace on the page the
            # failed attempt opened at its end).
            assert worker.spare.taken == taken + pages
            return answer.get_json()

        # Twice: the second run's spare was opened after the first run set its cookie and storage.
        for _ in range(2):
            body = run()
            assert body["status"] == "completed" and body["passed"] == 1, body
        with app.app_context():
            testcases.review(test, "reject")
            reach = testcases.create(
                projects.get(project_id),
                {"name": "reach", "steps": [{"goto": "/reach"}, {"expect_visible": {"css": "h1"}}]},
            )
            testcases.review(reach, "approve")
        body = run(pages=2)
        assert body["failed"] == 1, body  # the spare's page carries the taking test's guard
        assert metadata.hits == []
    finally:
        metadata.stop()
        site.stop()
