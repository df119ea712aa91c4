"""Every page of the UI, in real Chromium, at a phone's width (390 px) and a desktop's (1440 px): nothing
scrolls sideways (a wide table scrolls inside its own box) and axe-core finds no serious or critical
violation. The pages show the showcase project (tests/support/showcase.py), which has something in
every part of every page: Settings (environments, data sets, suites, healing, default variables), New
test, Schedules & alerts, CI, Gates, the run page with its baseline pin, and the review queue, checked
again with its pictures cut to the changed area."""

from __future__ import annotations

import pytest
from playwright.sync_api import sync_playwright

from sentri.worker.browsers import find_chromium, launch_options
from tests.support import showcase
from tests.test_ui_browser import AXE

pytestmark = pytest.mark.browser

WIDTHS = {"phone": (390, 844), "desktop": (1440, 900)}
# Every rule axe has (WCAG and best practice); what a person cannot get past is serious or critical.
AXE_RUN = """async () => (await axe.run(document)).violations
    .filter(v => v.impact === 'serious' || v.impact === 'critical')
    .map(v => v.id + ' (' + v.impact + '): ' + v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(', '))"""


@pytest.fixture(scope="module")
def chromium():
    with sync_playwright() as pw:
        browser = pw.chromium.launch(**launch_options(find_chromium()))
        yield browser
        browser.close()


@pytest.fixture
def showcase_pages(app):
    return showcase.pages(showcase.seed(app))


def _log_in(page, email="admin@example.com"):
    page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(showcase.PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/projects")


@pytest.mark.skipif(
    not AXE.exists(), reason="axe-core is not installed (npm package axe-core in package.json)"
)
@pytest.mark.parametrize("width", WIDTHS)
def test_no_page_scrolls_sideways_or_has_a_serious_axe_violation(
    chromium, live_server, showcase_pages, width
):
    w, h = WIDTHS[width]
    # axe is injected by the test, which the page's CSP (script-src 'self') would refuse.
    context = chromium.new_context(base_url=live_server, viewport={"width": w, "height": h}, bypass_csp=True)
    page = context.new_page()
    source = AXE.read_text(encoding="utf-8")
    wide, violations = {}, {}
    checks = [(name, path, None) for name, path in showcase_pages.items()]
    checks += [
        (name, showcase_pages[page_name], button) for name, (page_name, button) in showcase.STATES.items()
    ]
    for name, path, button in checks:
        if name == "projects":
            _log_in(page)
        page.goto(path)
        if button:
            page.get_by_role("button", name=button).first.click()
        scroll = page.evaluate("document.documentElement.scrollWidth")
        if scroll > w:
            wide[name] = scroll
        page.evaluate(source)
        found = page.evaluate(AXE_RUN)
        if found:
            violations[name] = found
    context.close()
    assert len(showcase_pages) >= 17  # the check covers the whole UI, not a page or two
    assert {"settings", "new-test", "schedules", "ci", "gates", "run", "review"} <= set(showcase_pages)
    assert wide == {}, f"pages wider than {w} px"
    assert violations == {}
