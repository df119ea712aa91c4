"""The demo project's approved tests pass in real Chromium against the demo site Sentri serves,
and a failing step is reported by its number."""

from __future__ import annotations

import threading

import pytest
from playwright.sync_api import sync_playwright

from sentri import projects, testcases
from sentri.bootstrap import first_run
from sentri.worker import browsers
from sentri.worker.steps import StepFailed, resolve_url, run_steps, url_pattern

pytestmark = pytest.mark.browser


@pytest.fixture
def page():
    choice = browsers.find_chromium()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(**browsers.launch_options(choice))
        context = browser.new_context()
        yield context.new_page()
        context.close()
        browser.close()


def test_the_demo_tests_pass_against_the_built_in_demo_site(app_factory, page):
    from waitress.server import create_server

    app = app_factory(SENTRI_DEMO=True)
    server = create_server(app, host="127.0.0.1", port=0, threads=4)
    app.config["SENTRI_PORT"] = server.effective_port
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        with app.app_context():
            created = first_run(app)
            demo = projects.get(created.demo_project_id)
            approved, total = testcases.list_for(demo, status="approved")
            assert total == 3
            for test in approved:
                run_steps(page, test.steps, demo.base_url, timeout_ms=10_000)
            failing = [*approved[0].steps, {"action": "expect_text", "target": {"css": "h1"}, "text": "Tea shop"}]
            with pytest.raises(StepFailed) as failure:
                run_steps(page, failing, demo.base_url, timeout_ms=1_000)
            assert failure.value.index == len(failing) and failure.value.action == "expect_text"
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
