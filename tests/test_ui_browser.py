"""The web UI in real Chromium against a live Sentri: log in, create a project, import a Recorder
export, approve it, see a token once, run now and watch the progress, open a failure screenshot,
roles and escaping. No console error (a CSP violation is one) is allowed on any page."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright

from sentri import projects, testcases, users
from sentri.worker.browsers import find_chromium, launch_options
from tests.support.shared import recorder_export

pytestmark = pytest.mark.browser

PASSWORD = "correct horse battery"
XSS = "<script>alert(1)</script>"


@pytest.fixture(scope="module")
def chromium():
    with sync_playwright() as pw:
        browser = pw.chromium.launch(**launch_options(find_chromium()))
        yield browser
        browser.close()


class Session:
    """A browser context of one user that records console errors and unexpected dialogs."""

    def __init__(self, chromium, base):
        self.base = base
        self.context = chromium.new_context(base_url=base)
        self.context.set_default_timeout(15_000)
        self.page = self.context.new_page()
        self.problems: list[str] = []
        self.page.on("console", lambda m: m.type == "error" and self.problems.append(m.text))
        self.page.on("pageerror", lambda e: self.problems.append(str(e)))
        self.page.on("dialog", lambda d: (self.problems.append(f"dialog: {d.message}"), d.dismiss()))

    def login(self, email):
        page = self.page
        page.goto("/login")
        page.get_by_label("Email").fill(email)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        expect(page.get_by_role("heading", name="Projects")).to_be_visible()
        return self

    def close(self):
        self.context.close()
        assert self.problems == []


@pytest.fixture
def accounts(app):
    with app.app_context():
        users.create_user("admin@example.com", PASSWORD, role="admin")
        users.create_user("member@example.com", PASSWORD, role="member")


@pytest.fixture
def admin(chromium, live_server, accounts):
    session = Session(chromium, live_server).login("admin@example.com")
    yield session
    session.close()


def test_create_import_approve_and_a_token_seen_once(admin):
    coffee = recorder_export("coffee-cart-order-coffees.json")
    page = admin.page
    page.get_by_label("Name").fill("Coffee cart")
    page.get_by_label("Base URL").fill("https://coffee-cart.app")
    page.get_by_role("button", name="Create project").click()
    expect(page.get_by_role("heading", name=re.compile("Coffee cart"))).to_be_visible()
    expect(page.get_by_role("link", name="Tests", exact=True)).to_have_attribute("aria-current", "page")

    page.get_by_label("File").set_input_files(str(coffee))
    page.get_by_role("button", name="Import").click()
    expect(page.get_by_text("Imported 1 test(s) as drafts")).to_be_visible()
    expect(page.get_by_role("link", name="Review queue")).to_have_attribute("aria-current", "page")
    expect(page.locator(".steps li").first).to_contain_text("goto https://coffee-cart.netlify.app/")
    page.get_by_label("Select all on this page").check()
    expect(page.get_by_role("checkbox", name=re.compile("order-coffees"))).to_be_checked()
    page.get_by_role("button", name="Approve selected").click()
    expect(page.get_by_text("Nothing to review")).to_be_visible()
    page.get_by_role("link", name="Tests", exact=True).click()
    expect(page.locator("td .review")).to_have_text("approved")

    page.get_by_role("link", name="CI", exact=True).click()
    page.get_by_label("Label").fill("github")
    page.get_by_role("button", name="New token").click()
    dialog = page.get_by_role("dialog", name="Your new trigger token")
    expect(dialog).to_be_visible()
    plaintext = dialog.get_by_label("Token").input_value()
    assert re.fullmatch(r"sentri_[0-9A-Za-z]{38}", plaintext)
    page.keyboard.press("Escape")  # a <dialog> closes with Escape
    expect(dialog).to_be_hidden()
    expect(page.get_by_role("cell", name="github")).to_be_visible()
    page.reload()
    expect(page.get_by_role("cell", name="github")).to_be_visible()
    expect(page.get_by_role("dialog")).to_have_count(0)
    assert plaintext not in page.content()

    # Revoking asks first, in a dialog.
    page.get_by_role("button", name="Revoke…").click()
    confirm = page.get_by_role("dialog", name=re.compile("Revoke TOK-1"))
    confirm.get_by_role("button", name="Cancel").click()
    expect(confirm).to_be_hidden()
    page.get_by_role("button", name="Revoke…").click()
    confirm.get_by_role("button", name="Revoke").click()
    expect(page.get_by_text("Token TOK-1 revoked.")).to_be_visible()


def test_run_now_shows_live_progress_results_and_the_failure_screenshot(app, admin, site):
    with app.app_context():
        project = projects.create("Fixture site", site)
        project_id = project.public_id
        documents = [
            {
                "name": f"Slow page {n}",
                "steps": [{"action": "goto", "url": "/slow"}, {"action": "expect_title", "title": "OK"}],
            }
            for n in range(3)
        ] + [
            {
                "name": "Wrong title",
                "steps": [{"action": "goto", "url": "/fail"}, {"action": "expect_title", "title": "OK"}],
            }
        ]
        for document in documents:
            testcases.review(testcases.create(project, document), "approve")
    page = admin.page
    page.goto(f"/projects/{project_id}/runs")
    page.get_by_role("button", name="Run now").click()
    expect(page).to_have_url(re.compile(r"/runs/RUN-\d+$"))
    page.evaluate("window.__sameDocument = true")  # gone if anything reloads the page
    page.evaluate("""() => {
        window.__updates = 0;
        new MutationObserver(() => { window.__updates += 1; })
            .observe(document.getElementById("run-progress"), {attributes: true});
    }""")
    progress = page.locator("#run-progress")
    expect(page.locator('#run-live [data-field="status"]')).to_have_text("completed", timeout=60_000)
    expect(progress).to_have_attribute("value", "4")
    expect(page.locator('[data-field="done"]')).to_have_text("4")
    expect(page.get_by_role("button", name="Abort run")).to_be_hidden()
    expect(page.locator("[data-verdict]")).to_have_text("Failed")  # the headline was swapped in when it ended
    assert page.evaluate("window.__sameDocument") is True
    assert page.evaluate("window.__updates") >= 2  # the poll updated the bar while the run went on
    expect(page.locator("#run-results .status-passed")).to_have_count(3)
    failing = page.locator("article.result-failed")
    expect(failing.locator(".failing-step")).to_contain_text('expect_title title contains "OK"')
    expect(failing.locator("p.failure-sentence")).to_contain_text("Step 2")
    expect(failing.locator(".expectation")).to_contain_text("Something else")
    thumbnail = failing.get_by_role("img", name=re.compile("Screenshot of Wrong title"))
    expect(thumbnail).to_be_visible()
    assert page.evaluate("img => img.complete && img.naturalWidth > 0", thumbnail.element_handle())
    failing.locator("a.shot").click()  # enlarges in place; "Open in a new tab" opens the picture alone
    expect(page.locator("dialog#zoom")).to_be_visible()
    with admin.context.expect_page() as opened:
        page.locator("#zoom-open").click()
    full = opened.value
    full.wait_for_load_state()
    assert re.search(r"/api/v1/runs/RUN-\d+/results/\d+/screenshot\.png$", full.url)
    response = admin.context.request.get(full.url)
    assert response.status == 200 and response.headers["content-type"] == "image/png"
    full.close()

    page.goto(f"/projects/{project_id}/runs")
    expect(page.locator("table.list tbody tr")).to_have_count(1)
    expect(page.locator("table.list .verdict")).to_have_text("failed")
    expect(page.locator("figure.chart").first).to_contain_text("Pass rate (%)")


def test_a_member_is_refused_an_admin_page(chromium, live_server, accounts):
    member = Session(chromium, live_server).login("member@example.com")
    expect(member.page.get_by_role("link", name="Users")).to_have_count(0)
    response = member.page.goto("/users")
    assert response.status == 403
    expect(member.page.get_by_role("heading", name="Error 403")).to_be_visible()
    member.problems.clear()  # the browser logs the 403 itself as a console error
    member.close()


def test_a_script_in_names_renders_as_text(app, admin):
    with app.app_context():
        project = projects.create(XSS, "http://127.0.0.1:9")
        testcases.create(project, {"name": XSS, "tags": [XSS], "steps": [{"action": "goto", "url": "/"}]})
        project_id = project.public_id
    page = admin.page
    page.goto("/projects")
    expect(page.get_by_role("link", name=XSS)).to_be_visible()
    page.goto(f"/projects/{project_id}/review")
    expect(page.locator(".review-item h2")).to_contain_text(XSS)
    page.goto(f"/projects/{project_id}/tests")
    expect(page.get_by_role("link", name=XSS)).to_be_visible()
    expect(page.locator(".tag")).to_have_text(XSS)
    # admin.close() asserts that no alert() dialog ever opened.


AXE = Path(
    os.environ.get("SENTRI_AXE_JS")
    or Path(__file__).resolve().parents[1] / "node_modules" / "axe-core" / "axe.min.js"
)


@pytest.mark.skipif(
    not AXE.exists(), reason="axe-core is not installed (npm package axe-core in package.json)"
)
def test_every_page_has_no_axe_violations(app, chromium, live_server, accounts):
    from sentri import tokens
    from tests.support.runs import recorded_run

    with app.app_context():
        project = projects.create("Shop", "https://shop.example.com")
        project.vitals_budgets = {"lcp": 2500}
        steps = [{"action": "goto", "url": "/"}, {"action": "expect_title", "title": "OK"}]
        test = testcases.create(project, {"name": "Home", "tags": ["smoke"], "steps": steps})
        testcases.create(project, {"name": "Draft", "steps": steps})
        testcases.review(test, "approve")
        run = recorded_run(
            project,
            [
                {
                    "test_id": test.id,
                    "test_name": "Home",
                    "status": "failed",
                    "failing_step": 2,
                    "error": "title was Nope",
                    "attempts": [{}],
                    "vitals": [
                        {
                            "url": "https://shop.example.com/",
                            "lcp": 3000.0,
                            "cls": 0.2,
                            "inp": None,
                            "ttfb": 100.0,
                        }
                    ],
                }
            ],
        )
        tokens.create(project, label="ci")
        ids = (project.public_id, test.public_id, run.public_id)
    project_id, test_id, run_id = ids
    # axe is injected by the test, which the page's CSP (script-src 'self') would refuse.
    context = chromium.new_context(base_url=live_server, bypass_csp=True)
    page = context.new_page()
    page.goto("/login")
    page.get_by_label("Email").fill("admin@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/projects")
    source = AXE.read_text(encoding="utf-8")
    found = {}
    for path in (
        "/login",
        "/projects",
        f"/projects/{project_id}/tests",
        f"/projects/{project_id}/review",
        f"/projects/{project_id}/tests/{test_id}",
        f"/projects/{project_id}/runs",
        f"/runs/{run_id}",
        f"/projects/{project_id}/automation",
        f"/projects/{project_id}/gates",
        f"/projects/{project_id}/settings",
        "/users",
    ):
        page.goto(path)
        page.evaluate(source)
        violations = page.evaluate(
            "async () => (await axe.run(document, {runOnly: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}))"
            ".violations.map(v => v.id + ': ' + v.nodes.map(n => n.target.join(' ')).join(', '))"
        )
        if violations:
            found[path] = violations
    context.close()
    assert found == {}
