"""The daily UI's last parts in real Chromium, on the showcase project: pinning the Web Vitals baseline from
a run's page (and unpinning it) lands back at the section with its confirmation, and the runs tab's trend
charts mark the aborted run apart in a colour and shape of its own, with a legend in words."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect, sync_playwright

from sentri.worker.browsers import find_chromium, launch_options
from tests.support import showcase

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def chromium():
    with sync_playwright() as pw:
        browser = pw.chromium.launch(**launch_options(find_chromium()))
        yield browser
        browser.close()


@pytest.fixture
def shown(app):
    return showcase.seed(app)


def _page(chromium, live_server, width=1440, email="admin@example.com"):
    context = chromium.new_context(base_url=live_server, viewport={"width": width, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: m.type == "error" and problems.append(m.text))
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(showcase.PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/projects")
    return page, problems


@pytest.mark.parametrize("width", [390, 1440])
def test_the_run_is_pinned_and_unpinned_from_its_page(chromium, live_server, shown, width):
    page, problems = _page(chromium, live_server, width)
    run = shown["run"]
    page.goto(f"/runs/{run}")
    section = page.locator("#vitals-baseline")
    section.get_by_role("button", name="Pin as Web Vitals baseline").click()
    page.wait_for_url(f"**/runs/{run}#vitals-baseline")
    expect(section.get_by_role("status")).to_contain_text(f"{run} is now the pinned Web Vitals baseline")
    expect(section).to_contain_text("This run is the pinned baseline")
    assert page.evaluate("document.querySelector('#vitals-baseline').getBoundingClientRect().top") < 900
    page.goto(f"/projects/{shown['project']}/gates#vitals-baseline")
    expect(page.locator("table.baselines")).to_contain_text(f"{run} by USR-")
    page.goto(f"/runs/{run}")
    section.get_by_role("button", name="Unpin").click()
    page.wait_for_url(f"**/runs/{run}#vitals-baseline")
    expect(section.get_by_role("status")).to_contain_text("no longer the pinned Web Vitals baseline")
    expect(section.get_by_role("button", name="Pin as Web Vitals baseline")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    page.context.close()
    assert problems == []


def test_a_member_sees_why_not_and_no_button(chromium, live_server, shown):
    page, problems = _page(chromium, live_server, email="member@example.com")
    page.goto(f"/runs/{shown['run']}")
    section = page.locator("#vitals-baseline")
    expect(section).to_contain_text("Only an admin pins the baseline.")
    expect(section.get_by_role("button")).to_have_count(0)
    page.context.close()
    assert problems == []


def test_the_aborted_run_is_apart_on_the_charts_with_a_legend(chromium, live_server, shown):
    page, problems = _page(chromium, live_server)
    page.goto(f"/projects/{shown['project']}/runs")
    chart = page.locator("figure.chart").first
    expect(chart.locator(".chart-legend")).to_contain_text("aborted run: 1, 1 measured, not counted")
    expect(chart.locator(".chart-legend")).to_contain_text("completed run (the line)")
    marker = chart.locator("svg[role=img] rect.aborted")
    expect(marker).to_have_count(1)
    assert (
        marker.bounding_box()["width"] > 0 and chart.locator("svg[role=img] line.aborted-rule").count() == 1
    )
    colours = page.evaluate("""() => {
        const style = s => getComputedStyle(document.querySelector(s));
        return {line: style('figure.chart polyline').stroke, aborted: style('figure.chart rect.aborted').stroke,
                fill: style('figure.chart rect.aborted').fill};
    }""")
    assert (
        colours["aborted"] != colours["line"] and colours["aborted"] == "rgb(138, 75, 0)"
    )  # brown, 6.9:1 on white
    assert colours["fill"] == "rgb(255, 255, 255)"  # hollow: a shape unlike the line's dots, not colour alone
    assert (
        "6 completed run(s)" in chart.inner_text()
    )  # five before it and the last: the aborted one not counted
    page.context.close()
    assert problems == []
