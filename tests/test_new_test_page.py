"""Writing a test in the browser (the New test page: YAML or JSON, checked by the API's validator, problems
listed per step beside the editor, the text kept on a refused save), running one test alone from its
page, and what an empty project offers to start with."""

from __future__ import annotations

import html as htmllib
import json

from sentri import projects, testcases
from sentri.extensions import db
from sentri.models import Run
from sentri.routes.pages_new_test import MAX_SOURCE_CHARS
from tests.test_ui_pages import add_test


def _tests_of(app, shop):
    with app.app_context():
        items, _total = testcases.list_for(projects.get(shop))
        return [(t.name, t.review_status, t.steps) for t in items]


def test_a_yaml_test_is_saved_as_a_draft_like_the_api_does(app, admin, shop):
    page = admin.html(f"/projects/{shop}/tests/new")
    assert f'action="/projects/{shop}/tests/new#new-test"' in page and 'name="csrf_token"' in page
    assert f'maxlength="{MAX_SOURCE_CHARS}"' in page
    source = "name: Checkout\ntags: [cart]\nsteps:\n  - goto: /cart\n  - click: {role: button, name: Pay}\n"
    saved = admin.post(f"/projects/{shop}/tests/new", {"source": source})
    assert saved.status_code == 302 and "/tests/TST-" in saved.headers["Location"]
    assert _tests_of(app, shop) == [
        (
            "Checkout",
            "draft",
            [
                {"action": "goto", "url": "/cart"},
                {"action": "click", "target": {"role": "button", "name": "Pay"}},
            ],
        )
    ]
    test_page = admin.html(saved.headers["Location"])
    assert "saved as a draft" in test_page and "Only approved tests run" in test_page
    assert "Checkout" in admin.html(f"/projects/{shop}/review")


def test_a_json_test_is_saved(app, admin, shop):
    document = {
        "name": "Title",
        "steps": [{"action": "goto", "url": "https://example.com/"}, {"expect_title": "Example"}],
    }
    saved = admin.post(f"/projects/{shop}/tests/new", {"source": json.dumps(document, indent=2)})
    assert saved.status_code == 302
    assert _tests_of(app, shop) == [
        (
            "Title",
            "draft",
            [
                {"action": "goto", "url": "https://example.com/"},
                {"action": "expect_title", "title": "Example"},
            ],
        )
    ]


def test_a_bad_step_is_named_beside_the_editor_and_the_text_is_kept(app, admin, shop):
    source = (
        "name: Broken\nsteps:\n  - goto: /\n  - click: {css: a, text: b}\n"
        "  - fill: {label: Email}\n  - goto: javascript:alert(1)\n"
    )
    refused = admin.post(f"/projects/{shop}/tests/new", {"source": source})
    page = refused.get_data(as_text=True)
    assert refused.status_code == 400 and _tests_of(app, shop) == []
    assert 'class="error-banner" role="alert" id="new-test-errors"' in page
    assert "Not saved.</strong> 3 problems in 3 steps" in page
    assert f">{htmllib.escape(source, quote=False)}</textarea>" in page  # kept as typed
    problems = page[page.index('id="step-problems"') : page.index("</ol>", page.index('id="step-problems"'))]
    for number, action, line, words in (
        (2, "click", 4, "exactly one of"),
        (3, "fill", 5, "missing field"),
        (4, "goto", 6, "http(s) URL"),
    ):
        item = problems[problems.index(f'id="problem-step-{number}"') :]
        item = item[: item.index("</li>\n")]
        assert f"Step {number} ({action})" in item and f"line {line}" in item and words in item
    assert 'id="problem-step-1"' not in problems  # the good step is not listed


def test_problems_of_the_test_itself_and_of_syntax_are_listed_too(app, admin, shop):
    missing = admin.post(f"/projects/{shop}/tests/new", {"source": "steps:\n  - goto: /\n"})
    assert missing.status_code == 400 and 'id="problem-test"' in missing.get_data(as_text=True)
    assert "missing field &#34;name&#34;" in missing.get_data(as_text=True)
    broken = admin.post(f"/projects/{shop}/tests/new", {"source": '{"name": "x", "steps": ['})
    assert broken.status_code == 400 and "invalid JSON" in broken.get_data(as_text=True)
    several = admin.post(
        f"/projects/{shop}/tests/new",
        {"source": "- name: a\n  steps: [{goto: /}]\n- name: b\n  steps: [{goto: /}]\n"},
    )
    assert several.status_code == 400 and "holds one test" in several.get_data(as_text=True)
    assert admin.post(f"/projects/{shop}/tests/new", {"source": "  "}).status_code == 400
    assert _tests_of(app, shop) == []


def test_an_over_long_or_huge_input_is_refused_cleanly(app, admin, shop):
    long = "name: Long\nsteps:\n  - goto: /\n#" + "x" * MAX_SOURCE_CHARS
    refused = admin.post(f"/projects/{shop}/tests/new", {"source": long})
    page = refused.get_data(as_text=True)
    assert refused.status_code == 400 and "the editor takes at most" in page
    assert "x" * 1000 not in page  # an oversized body is not echoed back
    huge = admin.post(f"/projects/{shop}/tests/new", {"source": "x" * (6 * 1024 * 1024)})
    # Past MAX_CONTENT_LENGTH (5 MiB) the body is not read: a 413 page, not a 500 from the page rendering it.
    assert huge.status_code == 413 and "exceeds the capacity limit" in huge.get_data(as_text=True)
    assert _tests_of(app, shop) == []


def test_run_this_test_starts_a_run_of_that_test_alone(app, member, shop):
    first = add_test(app, shop, name="First")
    second = add_test(app, shop, name="Second")
    page = member.html(f"/projects/{shop}/tests/{second}")
    assert f'action="/projects/{shop}/tests/{second}/run"' in page and "Run this test" in page
    started = member.post(f"/projects/{shop}/tests/{second}/run")
    assert started.status_code == 302 and "/runs/RUN-" in started.headers["Location"]
    with app.app_context():
        run = db.session.scalars(db.select(Run)).one()  # queued: no browser starts in these tests
        planned = [entry["testId"] for entry in run.plan if entry["plan"] != "deselected"]
        assert planned == [second] and run.options["selection"]["caseIds"] == [second]
        assert first in [entry["testId"] for entry in run.plan if entry["plan"] == "deselected"]
    busy = member.post(f"/projects/{shop}/tests/{first}/run")
    assert busy.status_code == 302 and busy.headers["Location"].endswith(f"/tests/{first}#run-test")
    assert "already has an active run" in member.html(f"/projects/{shop}/tests/{first}")
    back = member.get(f"/projects/{shop}/tests/{first}/run")
    assert back.status_code == 302 and back.headers["Location"].endswith(f"/tests/{first}#run-test")


def test_a_draft_cannot_be_run_alone(app, admin, shop):
    draft = add_test(app, shop, name="Draft", approve=False)
    page = admin.html(f"/projects/{shop}/tests/{draft}")
    assert "Run this test" not in page and "Only approved tests run" in page
    refused = admin.post(f"/projects/{shop}/tests/{draft}/run")
    assert refused.status_code == 302
    assert "approve" in admin.html(f"/projects/{shop}/tests/{draft}")
    with app.app_context():
        assert db.session.scalars(db.select(Run)).first() is None


def test_an_empty_project_offers_three_starts_and_the_example_saves(app, admin, shop):
    page = admin.html(f"/projects/{shop}/tests")
    start = page[page.index('id="start"') : page.index("</section>", page.index('id="start"'))]
    assert f'href="/projects/{shop}/crawls#crawl-form"' in start
    assert 'href="#import"' in start and 'id="import"' in page
    assert f'href="/projects/{shop}/tests/new?example=1"' in start
    assert f'href="/projects/{shop}/tests/new"' in page  # the New test button
    example = admin.html(f"/projects/{shop}/tests/new?example=1")
    source = htmllib.unescape(
        example[example.index("<textarea") : example.index("</textarea>")].split(">", 1)[1]
    )
    assert "goto: /" in source and "expect_title" in source and "http://127.0.0.1:9/shop" in source
    assert admin.post(f"/projects/{shop}/tests/new", {"source": source}).status_code == 302
    assert _tests_of(app, shop)[0][2] == [
        {"action": "goto", "url": "/"},
        {"action": "expect_title", "title": "Shop"},
    ]
    listed = admin.html(f"/projects/{shop}/tests")
    assert 'id="start"' not in listed and "New test" in listed
