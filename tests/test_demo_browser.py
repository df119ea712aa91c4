"""The demo project's approved tests pass in real Chromium against the demo site Sentri serves,
and a failing step is reported by its number."""

from __future__ import annotations

import asyncio
import threading

import pytest
from playwright.async_api import async_playwright

from sentri import projects, testcases
from sentri.bootstrap import first_run
from sentri.worker import browsers
from sentri.worker.steps import StepFailed, resolve_url, run_steps, url_pattern
from tests.support.settings import override

pytestmark = pytest.mark.browser


async def _run_all(tests, base_url, failing_steps):
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(**browsers.launch_options(browsers.find_chromium()))
        try:
            for steps in tests:
                context = await browser.new_context()
                await run_steps(await context.new_page(), steps, base_url, timeout_ms=10_000)
                await context.close()
            context = await browser.new_context()
            try:
                await run_steps(await context.new_page(), failing_steps, base_url, timeout_ms=1_000)
            except StepFailed as exc:
                return exc
            finally:
                await context.close()
        finally:
            await browser.close()
    return None


def test_the_demo_tests_pass_against_the_built_in_demo_site(app_factory):
    from waitress.server import create_server

    app = app_factory(SENTRI_DEMO=True)
    server = create_server(app, host="127.0.0.1", port=0, threads=4)
    override(app, SENTRI_PORT=server.effective_port)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        with app.app_context():
            demo = projects.get(first_run(app).demo_project_id)
            approved, total = testcases.list_for(demo, status="approved")
            base_url = demo.base_url
        assert total == 3
        failing = [*approved[0].steps, {"action": "expect_text", "target": {"css": "h1"}, "text": "Tea shop"}]
        failure = asyncio.run(_run_all([t.steps for t in approved], base_url, failing))
        assert failure is not None
        assert failure.index == len(failing) and failure.action == "expect_text"
    finally:
        server.close()
        thread.join(timeout=5)


def test_relative_urls_keep_the_base_path_and_url_patterns():
    assert resolve_url("http://h:1/demo", "/login") == "http://h:1/demo/login"
    assert resolve_url("http://h:1/demo/", "login") == "http://h:1/demo/login"
    assert resolve_url("http://h:1/demo", "https://other.example/x") == "https://other.example/x"
    assert url_pattern("http://h:1/demo", "/dashboard").match("http://h:1/demo/dashboard?email=a")
    assert not url_pattern("http://h:1/demo", "/dashboard").match("http://h:1/demo/dashboard2")
    assert url_pattern("http://h:1/demo", "*/cart*").match("http://h:1/demo/cart?item=x")
    assert not url_pattern("http://h:1/demo", "http://h:1/demo/cart").match("http://h:1/demo/cart?item=x")
