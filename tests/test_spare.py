"""A page opened ahead by an idle worker (sentri/worker/spare.py): taken only when it fits, fresh, and
behind the taking test's own guard."""

from __future__ import annotations

import time

import pytest

from sentri import origins, projects, testcases, tokens
from sentri.runtime import runtime
from sentri.worker import vitals_probe
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

        def run() -> dict:
            _wait_for(lambda: worker.spare.ready, "the idle worker's spare")
            taken = worker.spare.taken
            answer = client.post(
                f"/api/v1/projects/{project_id}/trigger",
                json={"wait": True},
                headers={"Authorization": f"Bearer {token}"},
            )
            assert worker.spare.taken == taken + 1  # the run's first test started on the spare
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
        body = run()
        assert body["failed"] == 1, body  # the spare's page carries the taking test's guard
        assert metadata.hits == []
    finally:
        metadata.stop()
        site.stop()
