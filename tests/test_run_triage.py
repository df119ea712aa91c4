"""A run's page built for triage: the verdict and its reasons as the headline, failures first and
filterable, each failure's expected and received values on their own lines, the trace, the JUnit file,
one Web Vitals table, and what the end of the run changed. The pages show the showcase project."""

from __future__ import annotations

import asyncio
import re

import pytest

from sentri.queue import lifecycle
from sentri.ui import vitals_table
from sentri.ui.failures import explain
from tests.support import showcase
from tests.support.pages import csrf_of


@pytest.fixture
def shown(app):
    return showcase.seed(app)


class Admin:
    """The showcase's admin, logged in with the Flask test client."""

    def __init__(self, client):
        self.client = client
        token = csrf_of(client.get("/login").get_data(as_text=True))
        response = client.post(
            "/login", data={"email": "admin@example.com", "password": showcase.PASSWORD, "csrf_token": token}
        )
        assert response.status_code == 302

    def get(self, url):
        return self.client.get(url)

    def html(self, url):
        response = self.client.get(url)
        assert response.status_code == 200, (url, response.status_code)
        return response.get_data(as_text=True)


@pytest.fixture
def admin(app, shown):
    return Admin(app.test_client())


# -- a failure's message in parts ------------------------------------------------------------------------


def test_an_expect_text_failure_splits_into_sentence_expected_received_and_call_log():
    told = explain(showcase.PLAYWRIGHT_ERROR, 3)
    assert (told.step, told.action) == (3, "expect_text")
    assert told.sentence == "Locator expected to contain text"
    assert (told.expected, told.received) == ("Thanks", "Your cart")
    assert told.log.startswith('- Expect "to_contain_text"') and "Call log" not in told.sentence


def test_the_step_said_twice_and_a_dangling_call_log_are_dropped():
    told = explain(
        "Step 3: step 3 (expect_text): Locator expected to have text 'OK'\nActual value: Nope\nCall log:"
    )
    assert (told.step, told.action, told.sentence) == (3, "expect_text", "Locator expected to have text")
    assert (told.expected, told.received, told.log) == ("OK", "Nope", "")


def test_a_message_without_an_expectation_is_the_sentence():
    told = explain("step 2 (click): Locator.click: Timeout 3000ms exceeded.", 2)
    assert told.sentence == "Locator.click: Timeout 3000ms exceeded." and told.expected is None
    assert told.received is None
    assert explain(None).sentence == "failed, without a message"
    # A title the steps turned into a pattern reads as the test wrote it.
    assert (
        explain("step 1 (expect_title): Page title expected to be 're.compile('O\\\\.K')'").expected == "O.K"
    )


async def _fail(steps, base_url):
    from playwright.async_api import async_playwright

    from sentri.worker import browsers
    from sentri.worker.steps import StepFailed, run_steps

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(**browsers.launch_options(browsers.find_chromium()))
        try:
            page = await (await browser.new_context()).new_page()
            try:
                await run_steps(page, steps, base_url, timeout_ms=500)
            except StepFailed as exc:
                return str(exc)
        finally:
            await browser.close()
    return None


@pytest.mark.browser
def test_what_playwright_really_says_is_told_in_parts(site):
    """The messages of the Playwright this project runs, not a copy of one: expect_text and expect_title."""
    text = asyncio.run(
        _fail(
            [
                {"action": "goto", "url": "/fail"},
                {"action": "expect_text", "target": {"css": "h1"}, "text": "OK"},
            ],
            site,
        )
    )
    told = explain(text)
    assert (told.step, told.expected, told.received) == (2, "OK", "Something else"), text
    assert "Call log" not in told.sentence and "Actual value" not in told.sentence
    text = asyncio.run(
        _fail([{"action": "goto", "url": "/fail"}, {"action": "expect_title", "title": "OK"}], site)
    )
    told = explain(text)
    assert (told.step, told.received) == (2, "Something else"), text
    assert told.expected is not None and "OK" in told.expected


# -- one Web Vitals cell says one thing ------------------------------------------------------------------


def test_a_vitals_cell_is_judged_by_the_budget_when_there_is_one():
    found = [
        {"test": "A", "value": 2600.0, "samples": []},
        {"test": "B", "value": 900.0, "samples": [880.0, 900.0, 950.0]},
    ]
    over = vitals_table.cell("lcp", found, 2500, None)
    assert (over["state"], over["note"], over["text"]) == ("over", "over the 2,500 ms budget", "2,600 ms")
    # 2,600 ms is "needs improvement" by Google's rating; within a 3,000 ms budget it is not marked over.
    held = vitals_table.cell("lcp", found, 3000, None)
    assert held["state"] == "needs-improvement" and held["note"] == "needs improvement, budget 3,000 ms"
    slower = vitals_table.cell("lcp", found, None, {"baseline": 1200.0})
    assert slower["state"] == "regressed" and "slower than the baseline's 1,200 ms" in slower["note"]
    assert over["measurements"][1]["spread"] == "880 ms–950 ms, median of 3 samples"
    assert vitals_table.cell("inp", [{"test": "A", "value": None, "samples": []}], 200, None)["state"] is None


# -- the page ----------------------------------------------------------------------------------------------


def _cards(html: str) -> list[str]:
    return re.findall(r'<article class="card result-card result-(\w+)"', html)


def test_the_headline_says_the_verdict_and_why(admin, shown):
    html = admin.html(f"/runs/{shown['run']}")
    head = html[html.index('id="run-headline"') : html.index('id="run-live"')]
    assert '<span class="verdict-word" data-verdict="failed">Failed</span>' in head
    assert "2 tests failed: Checkout, Product page" in head
    assert "Pass rate 60% is under the quality gate&#39;s minimum of 90%" in head
    assert (
        "LCP over its 2,500 ms budget on 1 page" in head and "1 test passed only on a retry (flaky)." in head
    )
    assert f'href="/api/v1/runs/{shown["run"]}/junit.xml"' in head
    # The end of the run quarantined Wishlist (its flaky score reached the policy) and proposed a screenshot.
    changes = head[head.index('id="run-changes"') :]
    assert re.search(r">Wishlist</a> was quarantined automatically: flaky score \d+% reached", changes)
    assert "A changed screenshot “product” of Product page" in changes and "waits for review" in changes


def test_failures_come_first_then_flaky_then_quarantined_then_the_rest(admin, shown):
    html = admin.html(f"/runs/{shown['run']}")
    assert _cards(html) == ["failed", "failed", "flaky", "quarantined"]
    results = html[html.index('id="results"') :]
    assert (
        results.index(">Checkout</a>") < results.index(">Product page</a>") < results.index(">Wishlist</a>")
    )
    assert (
        results.index(">Account menu</a>") < results.index('class="results"') < results.index('id="vitals"')
    )
    for kind, count in (("failed", 2), ("flaky", 1), ("quarantined", 1), ("passed", 2)):
        assert f'show={kind}#results" class="filter-{kind}">{kind.title()} ({count})</a>' in html


def test_the_filter_shows_one_kind(admin, shown):
    failed = admin.html(f"/runs/{shown['run']}?show=failed")
    assert _cards(failed) == ["failed", "failed"] and 'class="results"' not in failed
    assert 'class="filter-failed" aria-current="true"' in failed
    passed = admin.html(f"/runs/{shown['run']}?show=passed")
    assert _cards(passed) == [] and ">Home loads</a>" in passed and ">Checkout</a>" not in passed
    assert _cards(admin.html(f"/runs/{shown['run']}?show=nonsense")) == [
        "failed",
        "failed",
        "flaky",
        "quarantined",
    ]


def test_a_failure_shows_expected_and_received_its_step_screenshot_and_trace(admin, shown):
    html = admin.html(f"/runs/{shown['run']}")
    card = html[html.index('id="result-1"') : html.index('id="result-2"')]
    assert (
        "<strong>Step 3</strong> <code>expect_text css &#34;h1&#34; contains &#34;Thanks&#34;</code>: "
        "Locator expected to contain text</p>"
    ) in card
    assert "<dt>Expected</dt><dd><code>Thanks</code></dd>" in card
    assert "<dt>Received</dt><dd><code>Your cart</code></dd>" in card
    assert "step 3 (" not in card and "Call log:" not in card.split("<details")[0]
    assert f'href="/api/v1/runs/{shown["run"]}/results/1/screenshot.png" data-zoom' in card
    trace = f"{shown['run']}-test1-trace.zip"
    assert f'href="/api/v1/runs/{shown["run"]}/results/1/trace.zip" download="{trace}"' in card
    assert f"npx playwright show-trace {trace}" in card
    assert admin.get(f"/api/v1/runs/{shown['run']}/results/1/trace.zip").status_code == 200
    visual = html[html.index('id="result-2"') : html.index('id="result-3"')]
    assert "data-visual-slider" in visual and "Diff</span>" in visual and "3.10% of pixels differ" in visual
    flaky = html[html.index('id="result-3"') : html.index('id="result-4"')]
    assert (
        "Passed on a retry. The first attempt failed at step 2: Locator.click: Timeout 3000ms exceeded."
        in flaky
    )


def test_web_vitals_are_one_table_of_pages(admin, shown):
    html = admin.html(f"/runs/{shown['run']}")
    assert html.count('class="vitals-table"') == 1
    table = html[
        html.index('class="vitals-table"') : html.index("</table>", html.index('class="vitals-table"'))
    ]
    assert list(re.findall(r'<th scope="row" class="url">([^<]+)</th>', table)) == [
        "/cart",
        "/wishlist?utm_source=newsletter&amp;utm_medium=email&amp;utm_campaign=spring-sale-2026",
        "/",
    ]
    # The cart's LCP is over its budget: marked over, never also called good.
    cart = table[table.index(">/cart<") : table.index(">/wishlist")]
    assert "vital-over" in cart and "over the 2,500 ms budget" in cart
    assert not re.search(r'vital-over"><span class="vital-value">[^<]*</span> <small>good', cart)


def test_a_run_that_ends_mid_crawl_links_its_crawl_and_counts(app, admin, shown):
    from sentri.crawl.models import Crawl
    from sentri.database import write
    from sentri.extensions import db

    with app.app_context():
        run = lifecycle.get(shown["run"])
        crawl = db.session.scalars(db.select(Crawl)).first()
        with write():
            crawl.run_id, crawl.status = run.id, "running"
            crawl.progress = {"found": 12, "visited": 5, "queued": 7}
    html = admin.html(f"/runs/{shown['run']}")
    assert "12 page(s) found, 5 visited, 7 queued" in html
    assert f'href="/projects/{shown["project"]}/crawls/{shown["crawl"]}">Crawl {shown["crawl"]}</a>' in html


# -- in a real browser -------------------------------------------------------------------------------------


@pytest.mark.browser
def test_a_screenshot_enlarges_and_the_slider_drags_both_ways(live_server, shown):
    from playwright.sync_api import sync_playwright

    from sentri.worker.browsers import find_chromium, launch_options

    with sync_playwright() as pw:
        browser = pw.chromium.launch(**launch_options(find_chromium()))
        try:
            page = browser.new_page(base_url=live_server, viewport={"width": 1440, "height": 900})
            page.goto("/login")
            page.get_by_label("Email").fill("admin@example.com")
            page.get_by_label("Password").fill(showcase.PASSWORD)
            page.get_by_role("button", name="Log in").click()
            page.wait_for_url("**/projects")
            page.goto(f"/runs/{shown['run']}")
            page.get_by_alt_text("Screenshot of Checkout when it failed").click()
            zoom = page.locator("dialog#zoom")
            assert zoom.is_visible()
            assert page.locator("#zoom-image").get_attribute("src").endswith("/results/1/screenshot.png")
            page.keyboard.press("Escape")
            assert not zoom.is_visible()

            slider = page.locator("[data-visual-slider]").first
            slider.scroll_into_view_if_needed()
            box = slider.locator('input[type="range"]').bounding_box()
            top = slider.locator(".visual-slider-top")
            y = box["y"] + box["height"] / 2
            page.mouse.move(box["x"] + box["width"] / 2, y)
            page.mouse.down()
            page.mouse.move(box["x"] + box["width"] * 0.9, y, steps=5)
            page.mouse.up()
            right = int(slider.locator('input[type="range"]').input_value())
            assert right >= 80 and top.evaluate("e => e.style.clipPath") == f"inset(0px 0px 0px {right}%)"
            handle = slider.locator(".visual-slider-handle")
            assert handle.is_visible() and handle.evaluate("e => e.style.left") == f"{right}%"
            page.mouse.move(box["x"] + box["width"] * 0.9, y)
            page.mouse.down()
            page.mouse.move(box["x"] + box["width"] * 0.1, y, steps=5)
            page.mouse.up()
            left = int(slider.locator('input[type="range"]').input_value())
            assert left <= 20 and top.evaluate("e => e.style.clipPath") == f"inset(0px 0px 0px {left}%)"
        finally:
            browser.close()
