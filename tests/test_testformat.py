"""Parsing and strict validation of Sentri tests (sentri.testformat); pure Python, no app."""

from __future__ import annotations

import json
import re
import typing

import pytest

from sentri.testfiles import load_tests, parse_document
from sentri.testformat import ACTIONS, LOCATOR_KEYS, ROLES, TestFormatError, validate_steps, validate_test
from tests.support.shared import shared_path


def problems_of(step: dict | None = None, **doc) -> list[str]:
    """Validate a one-step test (or a given document) and return its problems; it must fail."""
    document = doc or {"name": "T", "steps": [step]}
    with pytest.raises(TestFormatError) as info:
        validate_test(document)
    return info.value.problems


def one_problem(step: dict) -> str:
    found = problems_of(step)
    assert len(found) == 1, found
    return found[0]


def spec_example(language: str) -> str:
    text = shared_path("spec", "test-format.md").read_text()
    return re.search(rf"```{language}\n(.*?)```", text, re.S).group(1)


# -- the spec's examples ---------------------------------------------------------------------------


def test_spec_yaml_and_json_examples_validate_to_the_same_canonical_form():
    from_yaml = load_tests(spec_example("yaml"), "example.yaml")[0]
    from_json = load_tests(spec_example("json"), "example.json")[0]
    assert from_json == [json.loads(spec_example("json"))]
    # The spec's JSON example leaves out the YAML's password step; everything else is identical.
    password = {"action": "fill", "target": {"label": "Password"}, "value": "{{USER_PASSWORD}}"}
    assert from_yaml[0]["steps"][2] == password
    del from_yaml[0]["steps"][2]
    assert from_yaml == from_json


def test_canonical_form_is_a_fixed_point_and_orders_keys():
    test = validate_test(
        {
            "name": "K",
            "steps": [
                {"description": "d", "timeout": 5, "value": "v", "fill": {"nth": 1, "css": "input"}},
            ],
        }
    )
    step = test["steps"][0]
    assert list(step) == ["action", "target", "value", "timeout", "description"]
    assert list(step["target"]) == ["css", "nth"]
    assert validate_test(test) == test
    assert test == {"name": "K", "tags": [], "steps": [step]}


def test_server_populated_keys_are_ignored_so_exports_reimport():
    exported = {
        "id": "t_1",
        "projectId": "p_1",
        "reviewStatus": "approved",
        "createdAt": "x",
        "updatedAt": "y",
        "flakyScore": 0.5,
        "lastResult": None,
        "version": 3,
        "name": "Home",
        "tags": ["a"],
        "steps": [{"action": "goto", "url": "/"}],
        "viewport": {"width": 400, "height": 812},
        "covers": ["src/**"],
    }
    assert validate_test(exported) == {
        "name": "Home",
        "tags": ["a"],
        "steps": [{"action": "goto", "url": "/"}],
        "viewport": {"width": 400, "height": 812},
        "covers": ["src/**"],
    }


# -- every action ----------------------------------------------------------------------------------

T = {"css": "#x"}
# action -> (short form, canonical form)
VALID = {
    "goto": ({"goto": "/login"}, {"action": "goto", "url": "/login"}),
    "click": (
        {"click": {"role": "button", "name": "Go"}, "button": "right"},
        {"action": "click", "target": {"role": "button", "name": "Go"}, "button": "right"},
    ),
    "dblclick": ({"dblclick": T}, {"action": "dblclick", "target": T}),
    "hover": (
        {"hover": {"text": "Menu", "exact": True}},
        {"action": "hover", "target": {"text": "Menu", "exact": True}},
    ),
    "fill": (
        {"fill": {"label": "Email"}, "value": ""},
        {"action": "fill", "target": {"label": "Email"}, "value": ""},
    ),
    "press": ({"press": "Enter"}, {"action": "press", "key": "Enter"}),
    "select": (
        {"select": {"testid": "c"}, "value": "fr"},
        {"action": "select", "target": {"testid": "c"}, "value": "fr"},
    ),
    "check": ({"check": {"placeholder": "p"}}, {"action": "check", "target": {"placeholder": "p"}}),
    "uncheck": ({"uncheck": {"xpath": "//i"}}, {"action": "uncheck", "target": {"xpath": "//i"}}),
    "wait": ({"wait": 500}, {"action": "wait", "ms": 500}),
    "expect_visible": (
        {"expect_visible": T, "timeout": 9000},
        {"action": "expect_visible", "target": T, "timeout": 9000},
    ),
    "expect_hidden": (
        {"expect_hidden": {"css": ".spinner", "nth": -1}},
        {"action": "expect_hidden", "target": {"css": ".spinner", "nth": -1}},
    ),
    "expect_text": (
        {"expect_text": {"css": "h1"}, "text": "Welcome"},
        {"action": "expect_text", "target": {"css": "h1"}, "text": "Welcome"},
    ),
    "expect_url": ({"expect_url": "/dash*"}, {"action": "expect_url", "url": "/dash*"}),
    "expect_title": (
        {"expect_title": "Home", "description": "title"},
        {"action": "expect_title", "title": "Home", "description": "title"},
    ),
    "expect_screenshot": (
        {"expect_screenshot": "home", "mask": [{"css": ".clock"}], "maxDiffPixelRatio": 0},
        {
            "action": "expect_screenshot",
            "name": "home",
            "maxDiffPixelRatio": 0.0,
            "mask": [{"css": ".clock"}],
        },
    ),
}
# action -> (a step missing a required field, the field)
MISSING = {
    "goto": ({"action": "goto"}, "url"),
    "click": ({"action": "click"}, "target"),
    "dblclick": ({"action": "dblclick"}, "target"),
    "hover": ({"action": "hover"}, "target"),
    "fill": ({"fill": T}, "value"),
    "press": ({"press": T}, "key"),
    "select": ({"select": T}, "value"),
    "check": ({"action": "check"}, "target"),
    "uncheck": ({"action": "uncheck"}, "target"),
    "wait": ({"action": "wait"}, "ms"),
    "expect_visible": ({"action": "expect_visible"}, "target"),
    "expect_hidden": ({"action": "expect_hidden"}, "target"),
    "expect_text": ({"expect_text": T}, "text"),
    "expect_url": ({"action": "expect_url"}, "url"),
    "expect_title": ({"action": "expect_title"}, "title"),
    "expect_screenshot": ({"action": "expect_screenshot", "fullPage": True}, "name"),
}
# action -> (a step with a wrongly typed field, what the message says)
WRONG_TYPE = {
    "goto": ({"goto": 5}, '"url" must be a string (got 5)'),
    "click": ({"click": "Sign in"}, 'the value of "click" must be a target like {css: "h1"} (got "Sign in")'),
    "dblclick": ({"action": "dblclick", "target": "#x"}, '"target" must be a mapping (got "#x")'),
    "hover": ({"hover": T, "timeout": "5s"}, '"timeout" must be a whole number (got "5s")'),
    "fill": ({"fill": T, "value": 12345}, '"value" must be a string (got 12345)'),
    "press": ({"press": 5}, 'the value of "press" must be a key name or a target mapping (got 5)'),
    "select": ({"select": T, "value": ["a"]}, '"value" must be a string (got ["a"])'),
    "check": ({"check": {"css": "#x", "exact": "yes"}}, '"target.exact" must be true or false (got "yes")'),
    "uncheck": ({"uncheck": {"css": "#x", "nth": 1.5}}, '"target.nth" must be a whole number (got 1.5)'),
    "wait": ({"wait": "500"}, '"ms" must be a whole number (got "500")'),
    "expect_visible": ({"expect_visible": T, "description": 3}, '"description" must be a string (got 3)'),
    "expect_hidden": ({"expect_hidden": [T]}, 'the value of "expect_hidden" must be a target'),
    "expect_text": ({"expect_text": T, "text": 42}, '"text" must be a string (got 42)'),
    "expect_url": ({"expect_url": None}, '"url" must be a string (got null)'),
    "expect_title": ({"expect_title": True}, '"title" must be a string (got true)'),
    "expect_screenshot": (
        {"expect_screenshot": "x", "threshold": "low"},
        '"threshold" must be a number (got "low")',
    ),
}


def test_the_tables_cover_every_action():
    assert set(VALID) == set(MISSING) == set(WRONG_TYPE) == set(ACTIONS)
    assert len(ACTIONS) == 16


@pytest.mark.parametrize("action", ACTIONS)
def test_every_action_validates_in_both_forms(action):
    short, canonical = VALID[action]
    assert validate_steps([short]) == [canonical]
    assert validate_steps([canonical]) == [canonical]


@pytest.mark.parametrize("action", ACTIONS)
def test_every_action_names_a_missing_field(action):
    step, field = MISSING[action]
    assert one_problem(step) == f'test "T": step 1 ({action}): missing field "{field}"'


@pytest.mark.parametrize("action", ACTIONS)
def test_every_action_names_a_wrong_type(action):
    step, message = WRONG_TYPE[action]
    assert one_problem(step).startswith(f'test "T": step 1 ({action}): {message}')


@pytest.mark.parametrize("action", ACTIONS)
def test_every_action_names_an_unknown_field(action):
    short, _ = VALID[action]
    message = one_problem({**short, "colour": "red"})
    assert message.startswith(f'test "T": step 1 ({action}): unknown field "colour" (allowed: ')
    assert "timeout, description" in message


def test_press_takes_a_target_or_the_keyboard():
    assert validate_steps([{"press": {"css": "input"}, "key": "Control+A"}]) == [
        {"action": "press", "target": {"css": "input"}, "key": "Control+A"}
    ]
    assert validate_steps([{"action": "press", "key": "Tab"}]) == [{"action": "press", "key": "Tab"}]


def test_required_strings_must_not_be_empty_but_fill_value_may():
    assert validate_steps([{"fill": T, "value": ""}])[0]["value"] == ""
    assert one_problem({"select": T, "value": ""}).endswith('"value" must not be empty')
    assert one_problem({"expect_text": T, "text": "  "}).endswith('"text" must not be empty')
    assert one_problem({"goto": ""}).endswith('"url" must not be empty')


@pytest.mark.parametrize(("ms", "ok"), [(0, True), (30000, True), (30001, False), (-1, False)])
def test_wait_is_bounded(ms, ok):
    if ok:
        assert validate_steps([{"wait": ms}]) == [{"action": "wait", "ms": ms}]
    else:
        bound = "at most 30000" if ms > 0 else "at least 0"
        assert one_problem({"wait": ms}) == f'test "T": step 1 (wait): "ms" must be {bound} (got {ms})'


def test_timeout_and_button_are_checked():
    assert one_problem({"goto": "/", "timeout": 0}).endswith('"timeout" must be at least 1 (got 0)')
    too_long = one_problem({"goto": "/", "timeout": 120001})
    assert too_long.endswith('"timeout" must be at most 120000 (got 120001)')
    assert one_problem({"click": T, "button": "primary"}).endswith(
        '"button" must be one of left, right or middle (got "primary")'
    )


def test_expect_screenshot_bounds_its_fields_and_names():
    step = validate_steps(
        [
            {
                "action": "expect_screenshot",
                "name": "b",
                "target": {"role": "button", "name": "Go"},
                "threshold": 0.3,
                "fullPage": False,
            }
        ]
    )[0]
    assert step == {
        "action": "expect_screenshot",
        "name": "b",
        "target": {"role": "button", "name": "Go"},
        "threshold": 0.3,
        "fullPage": False,
    }
    assert one_problem({"expect_screenshot": "x", "maxDiffPixelRatio": 1.5}).endswith(
        '"maxDiffPixelRatio" must be at most 1.0 (got 1.5)'
    )
    loosened = validate_steps([{"expect_screenshot": "x", "maxDiffPixelRatio": 0.01, "maxDiffPixels": 50}])[0]
    assert list(loosened) == ["action", "name", "maxDiffPixels", "maxDiffPixelRatio"]  # canonical order
    assert one_problem({"expect_screenshot": "x", "maxDiffPixels": -1}).endswith(
        '"maxDiffPixels" must be at least 0 (got -1)'
    )
    assert one_problem({"expect_screenshot": "x", "maxDiffPixels": 0.5}).endswith(
        '"maxDiffPixels" must be a whole number (got 0.5)'
    )
    assert one_problem({"expect_screenshot": "x", "mask": [T] * 21}).endswith(
        '"mask" holds at most 20 targets (got 21)'
    )
    assert one_problem({"expect_screenshot": "x", "mask": [{"css": ""}]}).endswith(
        '"mask.css" item 1 must not be empty'
    )
    assert one_problem({"expect_screenshot": "x" * 101}).startswith(
        'test "T": step 1 (expect_screenshot): "name" is too long'
    )
    twice = problems_of(
        name="T", steps=[{"expect_screenshot": "a"}, {"goto": "/"}, {"expect_screenshot": "a"}]
    )
    assert twice == [
        'test "T": step 3 (expect_screenshot): the name "a" is already used by step 1; '
        "each screenshot of a test needs its own name"
    ]


# -- targets ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        (
            {},
            "target must have exactly one of css, text, role, label, placeholder, testid, xpath (got: none)",
        ),
        (
            {"css": "a", "text": "b"},
            "target must have exactly one of css, text, role, label, placeholder, testid, xpath (got: css, text)",
        ),
        (
            {"css": "a", "frob": 1, "zap": 2},
            'unknown keys "frob", "zap" in "target" (allowed: css, text, role, '
            "label, placeholder, testid, xpath, name, exact, nth)",
        ),
        ({"text": "Go", "name": "Go"}, 'target "name" only goes with "role"'),
        ({"css": "a", "exact": True}, 'target "exact" only goes with role, text, label or placeholder'),
        ({"css": ""}, '"target.css" must not be empty'),
        ({"role": "button", "name": ""}, '"target.name" must not be empty'),
        ({"role": "buton"}, 'target role "buton" is not an ARIA role Playwright knows'),
        ({"css": "a", "nth": -2}, '"target.nth" must be at least -1 (got -2)'),
        ({"label": 5}, '"target.label" must be a string (got 5)'),
    ],
)
def test_bad_targets_are_named(target, expected):
    assert one_problem({"click": target}) == f'test "T": step 1 (click): {expected}'


def test_every_locator_key_is_accepted_alone():
    for key in LOCATOR_KEYS:
        value = "button" if key == "role" else "x"
        assert validate_steps([{"hover": {key: value}}])[0]["target"] == {key: value}


def test_roles_match_what_playwright_accepts():
    sync_api = pytest.importorskip("playwright.sync_api")
    hints = typing.get_type_hints(sync_api.Page.get_by_role)
    assert set(ROLES) == set(typing.get_args(hints["role"]))


# -- forms and actions -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("step", "expected"),
    [
        (
            {"tap": T},
            'step 1: unknown action "tap" (valid: goto, click, dblclick, hover, fill, press, select, '
            "check, uncheck, wait, expect_visible, expect_hidden, expect_text, expect_url, "
            "expect_title, expect_screenshot)",
        ),
        ({"action": "tap", "target": T}, 'step 1: unknown action "tap" (valid: goto, click'),
        (
            {"action": "click", "click": T},
            'step 1: mixes the canonical form ("action") with the short form ("click")',
        ),
        ({"click": T, "hover": T}, "step 1: has several actions (click, hover); use one step per action"),
        ({"value": "x"}, "step 1: has no action: expected one of goto, click"),
        ({"foo": 1, "bar": 2}, "step 1: has no action: expected one of goto"),
        ({"goto": "/a", "url": "/b"}, 'step 1 (goto): sets "url" twice'),
        ("click #x", 'step 1: must be a mapping (got "click #x")'),
    ],
)
def test_malformed_steps_are_named(step, expected):
    assert one_problem(step).startswith(f'test "T": {expected}')


def test_no_action_names_the_stray_keys():
    assert one_problem({"foo": 1, "bar": 2}).endswith("(got: foo, bar)")


# -- documents -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("doc", "expected"),
    [
        ({"steps": [{"goto": "/"}]}, 'test: missing field "name"'),
        ({"name": "E", "steps": []}, 'test "E": "steps" must not be empty'),
        ({"name": "E"}, 'test "E": missing field "steps"'),
        ({"name": "E", "steps": {"goto": "/"}}, 'test "E": "steps" must be a list (got {"goto": "/"})'),
        ({"name": "x" * 201, "steps": [{"goto": "/"}]}, '"name" is too long (201 characters, at most 200)'),
        (
            {"name": "E", "steps": [{"goto": "/"}], "title": "t"},
            'test "E": unknown field "title" (allowed: name, tags, steps, viewport, covers)',
        ),
        (
            {"name": "E", "steps": [{"goto": "/"}], "tags": ["a", ""]},
            'test "E": "tags" item 2 must not be empty',
        ),
        (
            {"name": "E", "steps": [{"goto": "/"}], "tags": "smoke"},
            'test "E": "tags" must be a list (got "smoke")',
        ),
        (
            {"name": "E", "steps": [{"goto": "/"}], "viewport": {"width": 99, "height": 4321}},
            'test "E": "viewport.width" must be at least 100 (got 99)',
        ),
        (
            {"name": "E", "steps": [{"goto": "/"}], "covers": [3]},
            'test "E": "covers" item 1 must be a string (got 3)',
        ),
    ],
)
def test_bad_documents_are_named(doc, expected):
    assert any(expected in p for p in problems_of(**doc)), problems_of(**doc)


def test_too_many_steps():
    too_many = problems_of(name="L", steps=[{"goto": "/"}] * 501)
    assert too_many == ['test "L": "steps" has 501 steps (at most 500)']
    assert len(validate_test({"name": "L", "steps": [{"goto": "/"}] * 500})["steps"]) == 500


def test_all_problems_of_a_test_are_collected():
    found = problems_of(
        name="Many",
        steps=[{"goto": "/"}, {"fill": T}, {"tap": T}, {"wait": 40000}],
        viewport={"width": 10, "height": 500},
    )
    assert [p.split(": ")[1] for p in found] == [
        '"viewport.width" must be at least 100 (got 10)',
        "step 2 (fill)",
        "step 3",
        "step 4 (wait)",
    ]


def test_a_recording_is_not_a_native_test():
    found = problems_of(title="Rec", steps=[{"type": "navigate", "url": "/"}])
    assert found == ["test: is a Chrome Recorder recording; import it as a file to convert it"]


def test_validate_steps_alone():
    assert validate_steps([{"goto": "/"}, {"press": "Enter"}]) == [
        {"action": "goto", "url": "/"},
        {"action": "press", "key": "Enter"},
    ]
    with pytest.raises(TestFormatError) as info:
        validate_steps([{"goto": "/"}, {"fill": T}], label='test "Login"')
    assert info.value.problems == ['test "Login": step 2 (fill): missing field "value"']
    with pytest.raises(TestFormatError, match="must hold 1 to 500 steps"):
        validate_steps([])
    with pytest.raises(TestFormatError, match='"steps" must be a list'):
        validate_steps({"goto": "/"})


# -- files -----------------------------------------------------------------------------------------

SEVERAL = """\
- name: Fine
  steps:
    - goto: /
- name: Sign-in
  steps:
    - goto: /login
    - fill: {label: Email}
    - click: {css: a, text: b}
- steps:
    - goto: /
    - tap: {css: x}
- name: Also fine
  tags: [smoke]
  steps: [{action: expect_title, title: Home}]
"""


def test_a_file_with_several_tests_names_every_invalid_one():
    with pytest.raises(TestFormatError) as info:
        load_tests(SEVERAL, "suite.yaml")
    assert info.value.problems == [
        'suite.yaml: test "Sign-in" (#2): step 2 (fill): missing field "value"',
        'suite.yaml: test "Sign-in" (#2): step 3 (click): target must have exactly one of css, text, role, '
        "label, placeholder, testid, xpath (got: css, text)",
        'suite.yaml: test #3: missing field "name"',
        'suite.yaml: test #3: step 2: unknown action "tap" (valid: goto, click, dblclick, hover, fill, '
        "press, select, check, uncheck, wait, expect_visible, expect_hidden, expect_text, expect_url, "
        "expect_title, expect_screenshot)",
    ]
    assert str(info.value).startswith('4 problems:\n- suite.yaml: test "Sign-in" (#2): step 2 (fill)')


def test_a_list_of_tests_loads_every_test():
    valid = "\n".join(SEVERAL.splitlines()[:3] + SEVERAL.splitlines()[11:])
    tests, warnings = load_tests(valid)
    assert warnings == []
    assert [t["name"] for t in tests] == ["Fine", "Also fine"]
    assert tests[1] == {
        "name": "Also fine",
        "tags": ["smoke"],
        "steps": [{"action": "expect_title", "title": "Home"}],
    }


def test_yaml_syntax_error_names_the_line():
    text = "name: Broken\nsteps:\n  - goto: /\n  - fill: {label: Email\n    value: x\n"
    with pytest.raises(TestFormatError) as info:
        load_tests(text, "broken.yaml")
    (problem,) = info.value.problems
    assert re.match(r"broken\.yaml: line [56], column \d+: invalid YAML: ", problem), problem


def test_json_syntax_error_names_the_line():
    with pytest.raises(TestFormatError) as info:
        load_tests('{"name": "J",\n "steps": [\n  {"action" "goto"}\n]}', "t.json")
    assert info.value.problems == ["t.json: line 3, column 13: invalid JSON: Expecting ':' delimiter"]


def test_json_that_yaml_accepts_is_accepted():
    # A trailing comma is not JSON, but YAML (which JSON files are also read as) allows it.
    tests, _ = load_tests('{"name": "J", "steps": [{"action": "goto", "url": "/"},]}')
    assert tests[0]["steps"] == [{"action": "goto", "url": "/"}]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "the file is empty"),
        ("# only a comment\n", "the file is empty"),
        ("[]", "the file holds an empty list: no tests"),
        ("42", "expected a test (a mapping) or a list of tests, got 42"),
    ],
)
def test_files_without_tests(text, expected):
    with pytest.raises(TestFormatError) as info:
        parse_document(text)
    assert info.value.problems == [expected]


def test_parse_document_returns_raw_documents():
    assert parse_document("name: A\nsteps: [{goto: /}]") == [{"name": "A", "steps": [{"goto": "/"}]}]
    recording = {"title": "R", "steps": [{"type": "navigate", "url": "https://e.test/"}]}
    assert parse_document(json.dumps(recording)) == [recording]
    flows = parse_document(json.dumps({"first": recording, "second": recording}))
    assert [f["title"] for f in flows] == ["first", "second"]
    assert flows[0]["steps"] == recording["steps"]
