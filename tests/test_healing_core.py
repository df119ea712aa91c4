"""Healing locators: what an element's description holds, when a changed page is healed and when it is
refused (candidates disagreeing, none matching), and which Playwright messages mean a target failed to
find its element — read from messages a real Chromium produces, not from copies that could drift."""

from __future__ import annotations

import asyncio

import pytest
from playwright.async_api import Error as PlaywrightError
from playwright.async_api import expect

from sentri.review.heal_rules import Rules, rules_for
from sentri.review.hints import MAX_HINT_CHARS
from sentri.worker.locator_healing import (
    HealRefused,
    candidates,
    describe,
    heal,
    heal_allowed,
    is_locator_failure,
)
from sentri.worker.steps import locate
from tests.support.async_browser import chromium_on_own_loop

SHORT_MS = 300

V1 = '<h1>Welcome</h1><button class="primary" data-testid="signin">Sign in</button><a href="/help">Help</a>'
V2 = '<h1>Welcome</h1><button class="primary" data-testid="signin">Log in</button><a href="/help">Help</a>'
V3 = '<h1>Welcome</h1><button data-testid="signin">Log in</button><button class="primary">Register</button>'
V4 = "<h1>Welcome</h1><p>Nothing to sign in with.</p>"


@pytest.fixture(scope="module")
def browser():
    """One Chromium for the module, on an event loop of its own."""
    yield from chromium_on_own_loop()


@pytest.fixture
def on_page(browser):
    """Run `work(page)` on a fresh page holding `html`; return what it returns."""
    loop, chromium = browser

    def run(html: str, work):
        async def go():
            page = await chromium.new_page()
            try:
                await page.set_content(html)
                return await work(page)
            finally:
                await page.close()

        return loop.run_until_complete(go())

    return run


# -- describe ------------------------------------------------------------------------------------------


def test_describe_a_button_gives_role_name_text_testid_and_a_unique_css(on_page):
    async def work(page):
        hints = await describe(page.get_by_test_id("save"))
        return hints, await page.locator(hints["css"]).count()

    hints, count = on_page('<p>Form</p><button data-testid="save">Save</button>', work)
    assert {key: hints[key] for key in ("role", "name", "text", "testid")} == {
        "role": "button",
        "name": "Save",
        "text": "Save",
        "testid": "save",
    }
    assert count == 1
    assert "label" not in hints and "placeholder" not in hints  # empty fields are dropped


def test_describe_a_labelled_input_names_it_by_its_label(on_page):
    async def work(page):
        return await describe(page.locator("input"))

    hints = on_page("<label for=e>Email</label><input id=e>", work)
    assert hints["role"] == "textbox" and hints["label"] == "Email" and hints["name"] == "Email"
    assert hints["css"] == "#e"


def test_describe_prefers_a_class_path_to_a_generated_looking_id(on_page):
    async def work(page):
        return await describe(page.get_by_role("button"))

    hints = on_page(
        '<div class="bar"><span>x</span><button id="btn-48213" class="go">Go</button></div>', work
    )
    assert hints["css"] == "button.go"


@pytest.mark.parametrize("html", ["<button>Dup</button><button>Dup</button>", "<p>no buttons here</p>"])
def test_describe_is_none_unless_exactly_one_element_matches(on_page, html):
    async def work(page):
        return await describe(page.get_by_role("button"))

    assert on_page(html, work) is None


def test_describe_leaves_out_page_text_too_long_to_be_a_locator(on_page):
    """A 1 MB test id is not cut (a cut one would match nothing): it is left out, the rest is kept."""

    async def work(page):
        return await describe(page.get_by_role("button"))

    long_id = "t" * 1_000_000
    hints = on_page(f'<button class="primary" data-testid="{long_id}">Sign in</button>', work)
    assert hints == {"role": "button", "name": "Sign in", "text": "Sign in", "css": "button.primary"}


# -- candidates ----------------------------------------------------------------------------------------

HINTS = {
    "role": "button",
    "name": "Sign in",
    "label": "L",
    "placeholder": "P",
    "text": "Sign in",
    "testid": "signin",
    "css": "button.primary",
}


def test_candidates_come_in_priority_order():
    assert candidates(HINTS, {"css": "#gone"}) == [
        {"testid": "signin"},
        {"role": "button", "name": "Sign in", "exact": True},
        {"label": "L", "exact": True},
        {"placeholder": "P", "exact": True},
        {"text": "Sign in", "exact": True},
        {"css": "button.primary"},
    ]


def test_candidates_skip_the_old_target_ignoring_nth_and_exact():
    found = candidates(HINTS, {"role": "button", "name": "Sign in", "nth": 0})
    assert {"role": "button", "name": "Sign in", "exact": True} not in found
    assert candidates(HINTS, {"text": "Sign in", "exact": False})[-1] == {"css": "button.primary"}


def test_hints_stored_before_the_limit_never_become_a_target():
    at_limit, over = "a" * MAX_HINT_CHARS, "b" * (MAX_HINT_CHARS + 1)
    old_hints = {"testid": over, "label": over, "placeholder": at_limit, "css": "button.primary"}
    assert candidates(old_hints, {"css": "#gone"}) == [
        {"placeholder": at_limit, "exact": True},
        {"css": "button.primary"},
    ]


def test_candidates_use_only_roles_get_by_role_knows():
    assert candidates({"role": "banana", "name": "x"}, {"css": "a"}) == []


# -- heal ----------------------------------------------------------------------------------------------

OLD = {"role": "button", "name": "Sign in"}


def test_a_renamed_button_is_healed_and_the_new_target_works(on_page):
    async def record(page):
        return await describe(locate(page, OLD))

    hints = on_page(V1, record)

    async def replay(page):
        target = await heal(page, hints, OLD)
        await locate(page, target).click(timeout=SHORT_MS)
        return target, await locate(page, target).inner_text()

    target, text = on_page(V2, replay)
    assert target == {"testid": "signin"}
    assert text == "Log in"


def test_candidates_pointing_at_different_elements_heal_nothing(on_page):
    async def replay(page):
        return await heal(page, HINTS, OLD)

    assert on_page(V3, replay) is None


def test_a_target_that_still_matches_one_element_is_not_healed(on_page):
    async def replay(page):
        return await heal(page, HINTS, {"css": "button.primary"})

    assert on_page(V1, replay) is None


def test_no_matching_candidate_or_no_hints_heal_nothing(on_page):
    async def replay(page):
        return await heal(page, HINTS, OLD), await heal(page, None, OLD), await heal(page, {}, OLD)

    assert on_page(V4, replay) == (None, None, None)


# -- what a heal may become (review/heal_rules.py) -------------------------------------------------------

FIRST_LABEL = {"css": "#todo-list li label", "nth": 0}
FIRST_IS_MILK = [
    {"action": "goto", "url": "/"},
    {"action": "expect_text", "target": FIRST_LABEL, "text": "buy milk"},
]


def todo_list(*texts, list_id="todo-list"):
    items = "".join(f'<li><input type="checkbox"><label>{text}</label></li>' for text in texts)
    return f'<ul id="{list_id}">{items}</ul>'


def test_an_asserted_first_item_heals_by_its_position_never_by_the_asserted_text(on_page):
    """The text and the CSS path find the same label; before, the text won: {text: "buy milk"} asserts
    that "buy milk" shows wherever it is, and the ordering the step guards could break unseen."""

    async def record(page):
        return await describe(locate(page, FIRST_LABEL))

    hints = on_page(todo_list("buy milk", "walk the dog"), record)
    assert hints["text"] == "buy milk" and hints["css"] == "li:nth-of-type(1) > label"

    async def replay(page):
        return await heal(page, hints, FIRST_LABEL, rules_for(FIRST_IS_MILK, FIRST_LABEL))

    assert on_page(todo_list("buy milk", "walk the dog", list_id="todos"), replay) == {"css": hints["css"]}
    # Reordered as well: the first label is another element than the one that says "buy milk": no heal.
    assert on_page(todo_list("walk the dog", "buy milk", list_id="todos"), replay) is None


def test_a_heal_only_the_asserted_text_could_make_is_refused_with_its_reason(on_page):
    old = {"css": "p.greeting"}
    steps = [{"action": "expect_text", "target": old, "text": "Hello Ann"}]

    async def replay(page):
        return await heal(
            page, {"role": "paragraph", "text": "Hello Ann", "css": "p.greeting"}, old, rules_for(steps, old)
        )

    with pytest.raises(HealRefused) as refused:
        on_page('<div class="hello">Hello Ann</div>', replay)
    assert str(refused.value) == (
        'A heal was refused: only text "Hello Ann" still finds the element, and it is '
        'made of the asserted text "Hello Ann", so the assertion could never fail.'
    )


def test_a_count_read_from_the_page_never_becomes_a_target(on_page):
    hints = {
        "role": "button",
        "name": "Clear completed (1)",
        "text": "Clear completed (1)",
        "css": "button.clear",
    }

    async def replay(page):
        return await heal(page, hints, {"css": "#clear"})

    assert on_page('<div><button class="clear">Clear completed (1)</button></div>', replay) == {
        "css": "button.clear"
    }
    with pytest.raises(HealRefused, match=r'page text with a number in it \("Clear completed \(1\)"\)'):
        on_page("<div><button>Clear completed (1)</button></div>", replay)


def test_a_positional_assertion_heals_only_to_a_css_path(on_page):
    old = {"css": "ul li", "nth": 0}
    rules = rules_for([{"action": "expect_visible", "target": old}], old)
    hints = {"testid": "milk", "css": "li.item:nth-of-type(1)"}

    async def replay(page):
        return await heal(page, hints, old, rules)

    both = '<ol><li class="item" data-testid="milk">a</li><li class="item">b</li></ol>'
    assert on_page(both, replay) == {"css": "li.item:nth-of-type(1)"}  # before: the test id, ranked first
    with pytest.raises(HealRefused, match="picks its element by position, which only a CSS path keeps"):
        on_page('<ol><li data-testid="milk">a</li><li>b</li></ol>', replay)


@pytest.mark.parametrize(
    ("steps", "target", "refused"),
    [
        # An action's target: anything but a count.
        ([{"action": "click", "target": {"css": "#a"}}], {"text": "Save", "exact": True}, None),
        ([{"action": "click", "target": {"css": "#a"}}], {"role": "link", "name": "Page 2"}, "number"),
        # A target shared with an assertion takes the assertion's rules, both ways round the text.
        (
            [
                {"action": "click", "target": {"css": "#a"}},
                {"action": "expect_text", "target": {"css": "#a"}, "text": "Buy  MILK"},
            ],
            {"text": "buy milk now"},
            "asserted",
        ),
        (
            [{"action": "expect_text", "target": {"css": "#a"}, "text": "buy milk"}],
            {"label": "milk"},
            "asserted",
        ),
        ([{"action": "expect_text", "target": {"css": "#a"}, "text": "milk"}], {"testid": "milk-row"}, None),
        (
            [{"action": "expect_text", "target": {"css": "#a"}, "text": "1"}],
            {"css": "li:nth-of-type(1)"},
            None,
        ),
        ([{"action": "expect_hidden", "target": {"xpath": "//li[2]"}}], {"testid": "x"}, "position"),
        (
            [{"action": "expect_screenshot", "name": "n", "target": {"css": "li:first-child"}}],
            {"css": "li.a"},
            None,
        ),
        ([{"action": "click", "target": {"css": "li", "nth": 1}}], {"testid": "x"}, None),  # not an assertion
    ],
)
def test_the_rules_come_from_every_step_sharing_the_broken_target(steps, target, refused):
    reason = rules_for(steps, steps[0]["target"]).refusal(target)
    assert (reason is None) if refused is None else (refused in reason), reason


def test_an_assertion_ranks_structural_descriptions_first():
    found = [
        {"role": "button", "name": "Go", "exact": True},
        {"text": "Go", "exact": True},
        {"css": "b"},
        {"testid": "go"},
    ]
    assert Rules(assertion=True).ranked(found) == [{"css": "b"}, {"testid": "go"}, found[0], found[1]]
    assert Rules().ranked(found) == found


# -- which steps may heal ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("step", "allowed"),
    [
        ({"action": "expect_hidden", "target": {"css": "#x"}}, False),
        ({"action": "expect_text", "target": {"css": "#x"}, "text": "hi"}, True),
        ({"action": "click", "target": {"text": "Go"}}, True),
        ({"action": "press", "key": "Enter"}, False),
        ({"action": "goto", "url": "/"}, False),
    ],
)
def test_heal_allowed_only_where_the_element_must_exist(step, allowed):
    assert heal_allowed(step) is allowed


# -- Playwright's messages -----------------------------------------------------------------------------

PAGE = '<button>Dup</button><button>Dup</button><p id="p">hello</p><input id="i"><button id="h" hidden>H</button>'

PROVOKED = {
    "click missing": (lambda page: page.locator("#nope").click(timeout=SHORT_MS), True),
    "fill missing": (lambda page: page.locator("#nope").fill("x", timeout=SHORT_MS), True),
    "click duplicated": (lambda page: page.get_by_role("button", name="Dup").click(timeout=SHORT_MS), True),
    "fill duplicated": (lambda page: page.get_by_role("button").fill("x", timeout=SHORT_MS), True),
    "visible missing": (lambda page: expect(page.locator("#nope")).to_be_visible(timeout=SHORT_MS), True),
    "visible duplicated": (lambda page: expect(page.locator("button")).to_be_visible(timeout=SHORT_MS), True),
    "text missing": (lambda page: expect(page.locator("#nope")).to_contain_text("x", timeout=SHORT_MS), True),
    "text duplicated": (
        lambda page: expect(page.locator("button")).to_contain_text("x", timeout=SHORT_MS),
        True,
    ),
    "text differs": (lambda page: expect(page.locator("#p")).to_contain_text("bye", timeout=SHORT_MS), False),
    "visible but hidden": (lambda page: expect(page.locator("#h")).to_be_visible(timeout=SHORT_MS), False),
    # Long enough for the element to resolve before the timeout, even on a loaded machine.
    "click hidden": (lambda page: page.locator("#h").click(timeout=1_000), False),
    "fill not editable": (lambda page: page.locator("#p").fill("x", timeout=1_000), False),
}


def test_is_locator_failure_reads_real_playwright_messages(on_page):
    async def provoke(page):
        outcomes = await asyncio.gather(*(act(page) for act, _ in PROVOKED.values()), return_exceptions=True)
        return {
            case: str(outcome)
            for case, outcome in zip(PROVOKED, outcomes, strict=True)
            if isinstance(outcome, (PlaywrightError, AssertionError))
        }

    messages = on_page(PAGE, provoke)
    assert messages.keys() == PROVOKED.keys()  # every case failed
    verdicts = {case: is_locator_failure(message) for case, message in messages.items()}
    assert verdicts == {case: expected for case, (_, expected) in PROVOKED.items()}
