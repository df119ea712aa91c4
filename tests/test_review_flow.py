"""The review queue built for flow: a decision leaves the reviewer at the next item, the bulk bar stays in
reach, the keyboard decides, pictures compare side by side, by slider, toggled or cut to the changed area,
and a heal shows the
value its run used beside the template the test keeps. The pages show the showcase project."""

from __future__ import annotations

import re

import pytest

from sentri import projects, testcases
from sentri.extensions import db
from sentri.review.models import Baseline
from sentri.stores import artifact_store
from sentri.visual import crop, store
from sentri.visual.limits import png_size
from tests.support import showcase
from tests.test_run_triage import Admin

STEPS = [{"action": "goto", "url": "/"}, {"action": "expect_title", "title": "Shop"}]


@pytest.fixture
def shown(app):
    ids = showcase.seed(app)
    with app.app_context():
        project = projects.get(ids["project"])
        ids["drafts"] = [
            testcases.create(project, {"name": f"Draft {n}", "steps": STEPS}).public_id for n in range(8)
        ]
    return ids


@pytest.fixture
def admin(app, shown):
    return Admin(app.test_client())


def _order(html: str) -> list[str]:
    return re.findall(r'<article class="card review-item[^"]*" id="([A-Z]+-\d+)"', html)


def test_a_heal_shows_the_value_its_run_used_and_the_template(admin, shown):
    html = admin.html(f"/projects/{shown['project']}/review")
    heal = html[html.index("review-heal") :]
    heal = heal[: heal.index("</article>")]
    assert "<del><code>role link &#34;teapot&#34;</code></del>" in heal
    assert "as written: <code>role link &#34;{{TERM}}&#34;</code>" in heal
    assert "<ins><code>role link &#34;Porcelain teapot&#34;</code></ins>" in heal
    run = admin.html(f"/runs/{shown['run']}")
    assert (
        "Step 3 healed: <code>role link &#34;teapot&#34;</code> → <code>role link &#34;Porcelain teapot&#34;"
        '</code> <span class="muted">(written <code>role link &#34;{{TERM}}&#34;</code>)</span>'
    ) in run


def test_a_decision_leads_to_the_next_item(app, admin, shown):
    page = f"/projects/{shown['project']}/review"
    html = admin.html(page)
    order = _order(html)
    assert order[0].startswith("BSL-") and order[1].startswith("HEA-") and len(order) == 2 + 9
    assert 'class="toolbar review-bar" role="toolbar"' in html
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)

    def decide(value, **form):
        return admin.client.post(page, data={"csrf_token": token, "decision": value, **form})

    answer = decide(f"reject:{order[3]}")
    assert answer.status_code == 302 and answer.headers["Location"].endswith(f"{page}#{order[4]}")
    answer = decide("approve", items=[order[5], order[6]])  # bulk: on from the first decided
    assert answer.headers["Location"].endswith(f"#{order[7]}")
    answer = decide(f"approve:{order[-1]}")  # the last: back to the one before it
    assert answer.headers["Location"].endswith(f"#{order[-2]}")
    assert _order(admin.html(page)) == [
        i for i in order if i not in (order[3], order[5], order[6], order[-1])
    ]


def test_the_review_page_offers_compare_modes_and_keys(admin, shown):
    html = admin.html(f"/projects/{shown['project']}/review")
    assert "js/review.js" in html and 'class="review-keys"' not in html.replace("muted small review-keys", "")
    figure = html[html.index("data-compare") : html.index("</figure>", html.index("data-compare"))]
    for mode in ("side", "slider", "toggle", "crop"):
        assert f'data-mode="{mode}"' in figure and f'data-view="{mode}"' in figure
    assert figure.count("data-zoom") == 5 and 'id="zoom"' in html  # three pictures, and two cut to the change


# -- in a real browser -------------------------------------------------------------------------------------


@pytest.fixture
def chromium():
    from playwright.sync_api import sync_playwright

    from sentri.worker.browsers import find_chromium, launch_options

    with sync_playwright() as pw:
        browser = pw.chromium.launch(**launch_options(find_chromium()))
        yield browser
        browser.close()


def _log_in(chromium, live_server, width, height):
    page = chromium.new_page(base_url=live_server, viewport={"width": width, "height": height})
    page.goto("/login")
    page.get_by_label("Email").fill("admin@example.com")
    page.get_by_label("Password").fill(showcase.PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/projects")
    return page


def _in_view(page, selector: str) -> bool:
    return page.evaluate(
        """s => { const r = document.querySelector(s).getBoundingClientRect();
                                   return r.top >= 0 && r.top < innerHeight; }""",
        selector,
    )


@pytest.mark.browser
def test_a_decision_leaves_the_next_item_in_view_and_the_bar_in_reach(chromium, live_server, shown):
    page = _log_in(chromium, live_server, 1440, 900)
    page.goto(f"/projects/{shown['project']}/review")
    fifth, sixth = shown["drafts"][4], shown["drafts"][5]
    page.locator(f"#{fifth}").scroll_into_view_if_needed()
    assert page.evaluate("scrollY") > 1000
    assert _in_view(page, ".review-bar")  # sticky
    page.get_by_role("button", name=f"Approve {fifth}").click()
    page.wait_for_url(f"**/review#{sixth}")
    assert page.evaluate("scrollY") > 1000 and _in_view(page, f"#{sixth}")
    assert page.locator(".review-bar").bounding_box()["y"] <= 1  # stuck to the top, over the queue

    # The keyboard: the current item is the one the address named; j moves on, r rejects it.
    page.keyboard.press("j")
    seventh = shown["drafts"][6]
    assert page.url.endswith(f"#{seventh}") and _in_view(page, f"#{seventh}")
    page.keyboard.press("r")
    eighth = shown["drafts"][7]
    page.wait_for_url(f"**/review#{eighth}")
    with page.expect_navigation():
        page.keyboard.press("a")
    assert page.locator(f"#{seventh}").count() == 0 and page.locator(f"#{eighth}").count() == 0
    assert "Approved " + eighth in page.locator(".flashes").inner_text()


@pytest.mark.browser
def test_the_pictures_compare_by_slider_both_ways_toggle_and_zoom(chromium, live_server, shown):
    page = _log_in(chromium, live_server, 390, 844)
    page.goto(f"/projects/{shown['project']}/review")
    figure = page.locator("[data-compare]").first
    assert figure.locator('[data-view="slider"]').is_hidden()
    figure.get_by_role("button", name="Slider").click()
    slider = figure.locator('[data-view="slider"]')
    assert slider.is_visible() and figure.locator('[data-view="side"]').is_hidden()
    slider.scroll_into_view_if_needed()
    box = slider.locator('input[type="range"]').bounding_box()
    y = box["y"] + box["height"] / 2
    for start, end, check in ((0.5, 0.95, lambda v: v >= 85), (0.95, 0.05, lambda v: v <= 15)):
        page.mouse.move(box["x"] + box["width"] * start, y)
        page.mouse.down()
        page.mouse.move(box["x"] + box["width"] * end, y, steps=6)
        page.mouse.up()
        value = int(slider.locator('input[type="range"]').input_value())
        assert check(value), value
        assert slider.locator(".visual-slider-handle").evaluate("e => e.style.left") == f"{value}%"
    figure.get_by_role("button", name="Toggle").click()
    said = figure.locator("[data-showing]")
    assert said.inner_text() == "actual"
    figure.locator("[data-toggle]").click()
    assert said.inner_text() == "expected" and figure.locator(".toggle-top").is_hidden()
    page.keyboard.press("t")
    assert said.inner_text() == "actual"
    figure.get_by_role("button", name="Side by side").click()
    figure.get_by_alt_text(re.compile("^Difference")).click()
    assert page.locator("dialog#zoom").is_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390


@pytest.mark.browser
@pytest.mark.parametrize("width", [390, 1440])
def test_the_changed_area_view_shows_both_pictures_cut_to_the_change(
    app, chromium, live_server, shown, width
):
    with app.app_context():
        row = (
            db.session.query(Baseline)
            .filter(Baseline.status == "pending", Baseline.diff_box.is_not(None))
            .one()
        )
        expected = store.read(artifact_store(app), db.session.get(Baseline, row.compared_with_id).sha256)
        left, top, right, bottom = crop.area(row.diff_box, png_size(expected, "expected"))
    page = _log_in(chromium, live_server, width, 900)
    page.goto(f"/projects/{shown['project']}/review")
    figure = page.locator("[data-compare]").first
    view = figure.locator('[data-view="crop"]')
    assert view.is_hidden()
    figure.get_by_role("button", name="Changed area").click()
    assert view.is_visible() and figure.locator('[data-view="side"]').is_hidden()
    assert figure.get_by_role("button", name="Changed area").get_attribute("aria-pressed") == "true"
    for name in ("Expected (baseline) product, the changed area", "Actual product, the changed area"):
        picture = view.get_by_alt_text(name)
        picture.scroll_into_view_if_needed()
        page.wait_for_function("e => e.complete && e.naturalWidth > 0", arg=picture.element_handle())
        assert picture.evaluate("e => [e.naturalWidth, e.naturalHeight]") == [right - left, bottom - top]
        assert 0 < picture.bounding_box()["width"] <= width
    assert page.evaluate("document.documentElement.scrollWidth") <= width
