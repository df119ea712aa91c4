"""Forms keep the person where they are: a refused save re-renders the same page at the form's section
(the form posts to its address + #section), keeps what was typed, lists every problem in a banner at
the top of the section and beside each field; a saved one says so beside the section; no form's address
answers a GET with a 405."""

from __future__ import annotations

import re

import pytest

from tests.support.pages import PASSWORD


def _section(html: str, section_id: str) -> str:
    start = html.index(f'id="{section_id}"')
    return html[start : html.index("</section>", start)]


def test_every_gate_problem_is_listed_in_a_banner_and_beside_its_field_with_the_typed_values(admin, shop):
    html = admin.html(f"/projects/{shop}/gates")
    assert f'action="/projects/{shop}/quality-gates#quality-gates"' in html
    bad = admin.post(
        f"/projects/{shop}/quality-gates", {"minPassRate": "abc", "maxFlakyPct": "120", "maxFailures": "-2"}
    )
    assert bad.status_code == 400
    gates = _section(bad.get_data(as_text=True), "quality-gates")
    banner = gates[
        gates.index('class="error-banner"') : gates.index("</div>", gates.index('class="error-banner"'))
    ]
    assert "3 fields need a change" in banner
    for field, problem in (
        ("minPassRate", "must be a number"),
        ("maxFlakyPct", "must be a number from 0 to 100"),
        ("maxFailures", "must be a whole number, 0 or more"),
    ):
        assert f'href="#gates-{field}"' in banner and problem in banner
        assert f'<p class="field-error" id="gates-{field}-error">{problem}</p>' in gates
    assert 'value="abc"' in gates and 'value="120"' in gates and 'value="-2"' in gates
    # The other sections show what is saved, with no error of the gates' form.
    budgets = _section(bad.get_data(as_text=True), "web-vitals-budgets")
    assert "error" not in budgets.replace("aria-describedby", "")


def test_a_saved_form_says_so_beside_its_section(admin, shop):
    saved = admin.post(f"/projects/{shop}/web-vitals-budgets", {"lcp": "2500"})
    assert saved.status_code == 302 and saved.headers["Location"].endswith("/gates#web-vitals-budgets")
    html = admin.html(f"/projects/{shop}/gates")
    assert "Web Vitals budgets saved." in _section(html, "web-vitals-budgets")
    assert 'class="flashes"' not in html  # not at the top of the page, out of sight


def test_the_regression_form_names_every_bad_number(admin, shop):
    bad = admin.post(
        f"/projects/{shop}/vitals-regression",
        {
            "lcp.maxIncreasePct": "ten",
            "alpha": "x",
            "baselineRuns": "2.5",
            "mode": "enforce",
            "excludeRegressedRuns": "true",
        },
    )
    section = _section(bad.get_data(as_text=True), "vitals-regression")
    assert bad.status_code == 400 and "3 fields need a change" in section
    assert 'href="#regression-lcp.maxIncreasePct">LCP: more than (%)</a>' in section
    assert 'value="ten"' in section and 'value="2.5"' in section


def test_a_refused_baseline_pin_keeps_the_typed_run(admin, shop):
    bad = admin.post(f"/projects/{shop}/vitals-regression/baseline", {"runId": "RUN-999"})
    html = bad.get_data(as_text=True)
    assert bad.status_code == 404 and 'id="baseline-runId-error"' in html and 'value="RUN-999"' in html


def test_the_crawl_form_keeps_what_was_typed_and_says_the_range(admin, shop):
    bad = admin.post(
        f"/projects/{shop}/crawls",
        {
            "maxPages": "-2",
            "maxDepth": "3",
            "testCount": "x",
            "crawlPages": "/pricing\n/about",
            "perspectives": "full_journey",
            "fillForms": "on",
        },
    )
    html = bad.get_data(as_text=True)
    form = _section(html, "crawl-form")
    assert bad.status_code == 400 and "2 fields need a change" in form
    assert '<p class="field-error" id="crawl-maxPages-error">must be a whole number from 1 to 500</p>' in form
    assert 'id="crawl-testCount-error">must be a whole number from 1 to ' in form
    assert 'value="-2"' in form and 'name="maxDepth" min="0" max="10" placeholder="3" value="3"' in form
    assert ">/pricing\n/about</textarea>" in form
    assert 'value="full_journey" checked' in form and 'value="page" checked' not in form
    assert 'name="fillForms" checked' in form and 'name="respectRobots" checked' not in form


def test_the_import_form_errors_are_in_its_section_with_the_file_named(admin, shop):
    import io

    bad = admin.client.post(
        f"/projects/{shop}/tests/import",
        data={
            "csrf_token": admin.token,
            "skipUnsupported": "1",
            "file": (io.BytesIO(b"{not json"), "broken.json"),
        },
        content_type="multipart/form-data",
    )
    html = bad.get_data(as_text=True)
    section = _section(html, "import")
    assert bad.status_code == 400 and "Nothing was imported</strong> from broken.json" in section
    assert f'action="/projects/{shop}/tests/import#import"' in section
    assert 'name="skipUnsupported" value="1" checked' in section


def test_the_account_form_lists_every_problem_at_once(admin):
    bad = admin.post("/account", {"current_password": "", "new_password": "short", "confirm": "other"})
    html = bad.get_data(as_text=True)
    assert bad.status_code == 400 and "3 fields need a change" in html
    assert re.search(r'id="new_password-error">[^<]*at least \d+ characters', html)
    assert 'id="current_password-error">This field is required.' in html
    assert 'id="confirm-error">Must be the same as the new password.' in html


def test_settings_errors_are_in_a_banner_at_the_section(admin, shop):
    bad = admin.post(f"/projects/{shop}/settings", {"name": "", "baseUrl": "nope"})
    section = _section(bad.get_data(as_text=True), "project")
    assert bad.status_code == 400 and 'href="#settings-baseUrl">Base URL</a>' in section
    assert 'href="#settings-name">Name</a>' in section and 'value="nope"' in section


def test_no_form_address_answers_a_get_with_405(app, admin, shop):
    """Every page address that takes a POST also takes a GET: the page holding its form, at its section."""
    from tests.test_ui_pages import add_test

    test_id = add_test(app, shop)
    values = {
        "project_id": shop,
        "test_id": test_id,
        "run_id": "RUN-1",
        "token_id": "TOK-1",
        "user_id": "USR-1",
        "kind": "quality-gates",
    }
    checked = 0
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("pages.") or "POST" not in rule.methods:
            continue
        path = rule.rule
        for name, value in values.items():
            path = re.sub(rf"<(?:[^:<>]+:)?{name}>", value, path)
        path = re.sub(r"<any\([^)]*\):kind>", values["kind"], path)
        answer = admin.get(path)
        assert answer.status_code in (200, 302, 404), (path, answer.status_code)
        checked += 1
    assert checked >= 15
    gates = admin.get(f"/projects/{shop}/quality-gates")
    assert gates.status_code == 302 and gates.headers["Location"].endswith(
        f"/projects/{shop}/gates#quality-gates"
    )
    assert (
        admin.get("/logout").status_code == 302 and admin.get("/account").status_code == 200
    )  # still logged in


@pytest.mark.browser
@pytest.mark.parametrize(("width", "height"), [(1440, 900), (390, 844)])
def test_after_a_refused_save_the_banner_is_in_view(live_server, admin, shop, width, height):
    from playwright.sync_api import sync_playwright

    from sentri.worker.browsers import find_chromium, launch_options

    with sync_playwright() as pw:
        browser = pw.chromium.launch(**launch_options(find_chromium()))
        try:
            page = browser.new_page(base_url=live_server, viewport={"width": width, "height": height})
            page.goto("/login")
            page.get_by_label("Email").fill("admin@example.com")
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Log in").click()
            page.wait_for_url("**/projects")
            page.goto(f"/projects/{shop}/gates")
            page.locator("#policy-suggestReleaseAfter").fill("-2")  # the last section of a long page
            page.get_by_role("button", name="Save quarantine policy").click()
            page.wait_for_load_state()
            banner = page.locator("#policy-errors")
            box = banner.bounding_box()
            assert box is not None and box["y"] >= 0 and box["y"] + box["height"] <= height, box
            assert page.locator("#policy-suggestReleaseAfter").input_value() == "-2"
            assert page.locator("#policy-suggestReleaseAfter-error").is_visible()
            assert page.url.endswith("/quarantine-policy#quarantine-policy")
            page.goto(page.url.split("#")[0])  # the address it landed on, opened again: the page, not a 405
            assert page.url.endswith("/gates#quarantine-policy")  # the redirect keeps the section
            assert page.locator("#quarantine-policy").is_visible()
        finally:
            browser.close()
