"""Conversion of Chrome DevTools Recorder exports (sentri.recorder), on real exports; pure Python."""

from __future__ import annotations

import json

import pytest

from sentri import recorder
from sentri.testfiles import load_tests, parse_document
from sentri.testformat import TestFormatError, validate_test
from tests.support.shared import shared_files, shared_path

RECORDINGS = ("real-world", "recorder")
FILES = shared_files("/".join(RECORDINGS), "*.json")


def read(name: str) -> str:
    return shared_path(*RECORDINGS, name).read_text()


def flow(*steps: dict, **extra) -> dict:
    return {"title": "F", "steps": list(steps), **extra}


def converted(*steps: dict, **extra) -> tuple[list[dict], list[tuple[int, str, str]]]:
    doc, unsupported = recorder.convert(flow(*steps, **extra))
    return doc["steps"], unsupported


def click(*selectors, **extra) -> dict:
    return {"type": "click", "target": "main", "selectors": list(selectors), **extra}


# -- every real export -----------------------------------------------------------------------------


def test_the_real_exports_are_there():
    folder = shared_path(*RECORDINGS)
    assert len(list(folder.glob("*.json"))) == 5, f"expected the five Recorder exports in {folder}"


@pytest.mark.parametrize("path", FILES, ids=lambda p: getattr(p, "name", None))
def test_every_real_export_converts_to_valid_tests(path):
    flows = parse_document(path.read_text(), path.name)
    assert flows and all(recorder.is_recording(f) for f in flows)
    for recording in flows:
        doc, unsupported = recorder.convert(recording)
        assert validate_test(doc)["steps"], recording["title"]
        for number, kind, reason in unsupported:
            assert recording["steps"][number - 1]["type"] == kind and reason


def test_coffee_cart():
    doc, unsupported = recorder.convert(json.loads(read("coffee-cart-order-coffees.json")))
    assert unsupported == []
    assert doc["name"] == "order-coffees"
    assert doc["viewport"] == {"width": 400, "height": 812}
    assert doc["steps"] == [
        {"action": "goto", "url": "https://coffee-cart.netlify.app/"},
        # aria/Espresso has no role: the exact [data-test] CSS that follows it is preferred
        {"action": "click", "target": {"css": "[data-test='Espresso']"}},
        {"action": "click", "target": {"css": "[data-test='Cappuccino']"}},
        {"action": "click", "target": {"css": "[data-test='checkout']"}},
        {"action": "fill", "target": {"css": "#name"}, "value": "jec"},
        {"action": "press", "key": "Tab"},  # the keyUp adds nothing
        {"action": "fill", "target": {"css": "#email"}, "value": "jec@fish.com"},
        {"action": "click", "target": {"css": "#promotion-label"}},
        {"action": "click", "target": {"css": "#submit-payment"}},
    ]


def test_puppeteer_replay_benchmark():
    doc, unsupported = recorder.convert(json.loads(read("puppeteer-replay-benchmark.json")))
    assert doc["viewport"] == {"width": 900, "height": 700}
    steps = doc["steps"]
    assert steps[0] == {"action": "goto", "url": "http://localhost:8907/benchmark.html"}
    assert steps[1] == {"action": "click", "target": {"css": "#button"}}
    assert steps[2] == {"action": "dblclick", "target": {"css": "#button"}}
    assert steps[3:7] == [
        {"action": "press", "key": "Tab"},
        {"action": "fill", "target": {"css": "#input"}, "value": "test"},
        {"action": "fill", "target": {"css": "#input-prefilled"}, "value": "testSuffix"},
        {"action": "press", "key": "Enter"},
    ]
    assert steps[7] == {"action": "click", "target": {"css": "#input"}, "button": "right"}
    # the flat "selectors": ["#button"] form, with its attribute/id-property checks kept in the CSS
    assert steps[9] == {"action": "expect_visible", "target": {"css": '#button[id="button"]'}}
    assert steps[10] == {"action": "select", "target": {"css": "#select"}, "value": "optionB"}
    assert len(steps) == 11
    assert unsupported == [(13, "waitForExpression", "Sentri never runs page code")]


def test_benchmark_import_fails_naming_the_step_unless_skipped():
    text = read("puppeteer-replay-benchmark.json")
    with pytest.raises(TestFormatError) as info:
        load_tests(text, "benchmark.json")
    assert info.value.problems == [
        'benchmark.json: test "benchmark": step 13 (waitForExpression): not supported — '
        "Sentri never runs page code"
    ]
    tests, warnings = load_tests(text, "benchmark.json", skip_unsupported=True)
    assert len(tests) == 1 and len(tests[0]["steps"]) == 11
    assert warnings == [
        'benchmark.json: test "benchmark": step 13 (waitForExpression): '
        "skipped, not supported — Sentri never runs page code"
    ]


def test_webpagetest_config():
    doc, unsupported = recorder.convert(json.loads(read("webpagetest-config-select-change.json")))
    assert unsupported == []
    assert doc["viewport"] == {"width": 1342, "height": 1336}
    assert doc["steps"][1] == {
        "action": "click",
        "target": {"css": "#analytical-review > div:nth-child(3) > label"},
    }
    assert doc["steps"][3] == {"action": "fill", "target": {"css": "#url"}, "value": "https://timkadlec.com"}
    # Nothing in the export says #connection is a <select> (the click before the change is also
    # recorded for the #url text input), so this change stays a fill.
    assert doc["steps"][-2:] == [
        {"action": "click", "target": {"css": "#connection"}},
        {"action": "fill", "target": {"css": "#connection"}, "value": "ec2-us-east-1:Chrome.DSL"},
    ]


def test_timkadlec_default_title_and_asserted_navigations():
    tests, warnings = load_tests(read("webpagetest-timkadlec-default-title.json"))
    assert warnings == []
    (test,) = tests
    assert test["name"] == "Recording 10/4/2022 at 4:20:30 PM"
    assert test["viewport"] == {"width": 812, "height": 609}
    steps = test["steps"]
    assert steps[0] == {"action": "goto", "url": "https://timkadlec.com/"}  # same URL asserted: no expect
    assert steps[1:3] == [
        {"action": "click", "target": {"css": "#nav > ul > li:nth-child(2) > a"}},
        {"action": "expect_url", "url": "https://timkadlec.com/me/"},
    ]
    # aria/…[role="img"] is usable as a role locator
    assert steps[-2:] == [
        {"action": "click", "target": {"role": "img", "name": "Good to Go Book Cover"}},
        {"action": "expect_url", "url": "https://timkadlec.com/read/2019/good-to-go/"},
    ]
    assert len(steps) == 11


# -- the DevTools snapshot: a map of 35 flows ------------------------------------------------------

SNAPSHOT = "devtools-frontend-recorder_test.snapshot.json"


@pytest.fixture(scope="module")
def snapshot() -> dict[str, tuple[dict, list]]:
    raw = json.loads(read(SNAPSHOT))
    assert recorder.is_recording_map(raw) and not recorder.is_recording(raw)
    return {f["title"]: recorder.convert(f) for f in parse_document(read(SNAPSHOT))}


def test_snapshot_yields_35_tests_named_by_their_keys(snapshot):
    assert list(snapshot) == list(json.loads(read(SNAPSHOT)))
    assert len(snapshot) == 35


def test_snapshot_pierce_selectors_become_css(snapshot):
    shadow, _ = snapshot[
        "Recorder should create an aria selector even if the element is within a shadow root - 1"
    ]
    # the two-element chain ["#shadow-root > span", "#inner-span"] is skipped for pierce/#inner-span
    assert shadow["steps"][-1] == {"action": "click", "target": {"css": "#inner-span"}}
    inputs, _ = snapshot["Recorder should work with shadow inputs - 1"]
    assert inputs["steps"][1:] == [
        {"action": "click", "target": {"css": "input"}},
        {"action": "fill", "target": {"css": "input"}, "value": "works"},
    ]
    assert inputs["steps"][0]["url"] == (
        "https://localhost:<test-port>/test/e2e/resources/recorder/shadow-input.html"
    )


def test_snapshot_unsupported_steps_are_reported(snapshot):
    reported = {
        name: [(n, kind) for n, kind, _ in unsupported]
        for name, (_, unsupported) in snapshot.items()
        if unsupported
    }
    assert reported == {
        "Recorder should capture non-primary clicks and double clicks - 1": [(5, "click"), (6, "click")],
        "Recorder should also record network conditions - 1": [
            (1, "emulateNetworkConditions"),
            (5, "emulateNetworkConditions"),
        ],
        "Recorder should record interactions with elements within iframes - 1": [(3, "click"), (4, "click")],
        "Recorder should record OOPIF interactions - 1": [(3, "click")],
        "Recorder should record interactions with popups - 1": [(4, "click")],
        "Recorder should edit the type while recording - 1": [(3, "emulateNetworkConditions")],
    }
    iframes = snapshot["Recorder should record interactions with elements within iframes - 1"][1]
    assert "iframe (frame [0])" in iframes[0][2]
    popup = snapshot["Recorder should record interactions with popups - 1"][1]
    assert "another page" in popup[0][2] and "popup.html" in popup[0][2]


def test_snapshot_buttons_keys_selects_and_colours(snapshot):
    clicks, _ = snapshot["Recorder should capture non-primary clicks and double clicks - 1"]
    assert [s.get("button") for s in clicks["steps"][1:]] == ["middle", "right", None]
    assert clicks["steps"][-1]["action"] == "dblclick"
    chord, _ = snapshot["Recorder should capture navigation without change - 1"]
    assert [s["key"] for s in chord["steps"][1:]] == ["Tab", "Shift+Tab"]
    shift, _ = snapshot["Recorder should break out shifts in text controls - 1"]
    assert [s.get("key") or s["value"] for s in shift["steps"][1:]] == ["Tab", "1", "Shift", "1d"]
    select, _ = snapshot["Recorder should work for select elements - 1"]
    assert select["steps"][-1] == {"action": "select", "target": {"css": "#select"}, "value": "O2"}
    colour, _ = snapshot["Recorder should capture keyboard events on non-text inputs - 1"]
    assert colour["steps"][-1] == {"action": "fill", "target": {"css": "#color"}, "value": "#333333"}
    custom, _ = snapshot["Recorder should capture clicks on buttons with custom selector attribute - 1"]
    assert custom["steps"][-1]["target"] == {"css": "[data-devtools-test='selector-attribute']"}
    wait, _ = snapshot["Recorder should add an assertion through the button - 1"]
    assert wait["steps"][-1] == {"action": "expect_visible", "target": {"css": ".cls"}}
    submit, _ = snapshot["Recorder should capture implicit form submissions - 1"]
    assert submit["steps"][-2:] == [
        {"action": "press", "key": "Enter"},
        {
            "action": "expect_url",
            "url": "https://localhost:<test-port>/test/e2e/resources/recorder/form.html?name=test",
        },
    ]


def test_snapshot_import_fails_naming_index_and_type_unless_skipped():
    with pytest.raises(TestFormatError) as info:
        load_tests(read(SNAPSHOT), SNAPSHOT)
    problems = info.value.problems
    assert len(problems) == 9
    assert (
        f'{SNAPSHOT}: test "Recorder should record interactions with popups - 1" (#26): step 4 (click): '
        "not supported — acts on another page or frame"
    ) in problems[7]
    assert "(#12): step 1 (emulateNetworkConditions): not supported — network throttling" in problems[2]
    tests, warnings = load_tests(read(SNAPSHOT), SNAPSHOT, skip_unsupported=True)
    assert len(tests) == 35 and len(warnings) == 9
    assert all("skipped, not supported" in w for w in warnings)
    assert tests[25]["steps"] == [
        {"action": "goto", "url": "https://localhost:<test-port>/test/e2e/resources/recorder/recorder.html"},
        {"action": "click", "target": {"css": "#popup"}},
    ]


# -- the rules, one by one -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("selector", "target"),
    [
        ('aria/Sign in[role="button"]', {"role": "button", "name": "Sign in"}),
        ('aria/[role="main"]', {"role": "main"}),
        ('aria/Name[role="NotARole"]', None),
        ("aria/Name", {"text": "Name"}),
        ("text/Total: $29.00", {"text": "Total: $29.00"}),
        ('xpath///*[@id="button"]', {"xpath": '//*[@id="button"]'}),
        ("pierce/#test", {"css": "#test"}),
        ("#nav > ul > li:nth-child(2) > a", {"css": "#nav > ul > li:nth-child(2) > a"}),
        ("div ::-p-text(Hi)", None),
        ("host >>> button", None),
    ],
)
def test_locator(selector, target):
    assert recorder.locator(selector) == target


def test_selector_choice():
    # multi-element chains are skipped; role-less aria/ is a last resort; the flat form works
    step = {
        "selectors": [["custom-input", "input"], ["aria/Go"], ["xpath//html/body/input"], ["pierce/input"]]
    }
    assert recorder.pick_target(step) == {"xpath": "/html/body/input"}  # "xpath/" + "/html/…"
    assert recorder.pick_target({"selectors": [["aria/Go"], ["a", "b"]]}) == {"text": "Go"}
    assert recorder.pick_target({"selectors": ["#flat", "text/x"]}) == {"css": "#flat"}
    steps, unsupported = converted(click(["a", "b"], ["x", "y"]))
    assert steps == [] and unsupported == [(1, "click", "no selector Sentri can use")]


@pytest.mark.parametrize(
    ("selector", "is_select"),
    [
        ("select", True),
        ("form > select#country", True),
        ("select:nth-of-type(2)", True),
        ("pierce/select", True),
        ("xpath//html/body/select", True),
        ('xpath///*[@id="select"]', True),
        ("#select", True),
        ("#country-select", True),
        (".form-select", True),
        ("#countrySelect", True),
        ("[name='shipping_select']", True),
        ("#selection", False),
        ("#select-all", False),
        ("select > option", False),
        ("#url", False),
        ("input[type=text]", False),
        ("aria/Select", False),
        ("text/select", False),
        ("[data-x='a select']", False),
    ],
)
def test_names_select(selector, is_select):
    assert recorder.names_select(selector) is is_select


def test_change_becomes_select_from_an_earlier_click_on_the_same_element():
    steps, _ = converted(
        click(["aria/Country"], ["select.country"]),
        {"type": "change", "value": "fr", "selectors": [["aria/Country"]]},
    )
    assert steps[1] == {"action": "select", "target": {"text": "Country"}, "value": "fr"}
    steps, _ = converted(click(["#other"]), {"type": "change", "value": "fr", "selectors": [["#plain"]]})
    assert steps[1]["action"] == "fill"


def test_buttons_and_targets():
    steps, unsupported = converted(
        click(["#a"], button="auxiliary"),
        click(["#a"], button="back"),
        {"type": "doubleClick", "selectors": [["#a"]], "button": "secondary"},
        {"type": "hover", "selectors": [["#a"]], "target": "https://other.test/popup"},
        click(["#a"], frame=[]),  # an empty frame path is the main frame
    )
    assert steps == [
        {"action": "click", "target": {"css": "#a"}, "button": "middle"},
        {"action": "click", "target": {"css": "#a"}},
    ]
    assert [(n, kind) for n, kind, _ in unsupported] == [(2, "click"), (3, "doubleClick"), (4, "hover")]


def test_keys():
    down = {"type": "keyDown", "target": "main"}
    up = {"type": "keyUp", "target": "main"}
    steps, unsupported = converted(
        {**up, "key": "a"},  # a lone keyUp makes nothing
        {**down, "key": "Control"},
        {**down, "key": "Shift"},
        {**down, "key": "K"},
        {**up, "key": "K"},
        {**up, "key": "Shift"},
        {**up, "key": "Control"},
        {**down, "key": "Alt"},
        {**up, "key": "Alt"},
        {**down, "key": "Meta"},  # never released
    )
    assert unsupported == []
    assert steps == [
        {"action": "press", "key": "Control+Shift+K"},
        {"action": "press", "key": "Alt"},
        {"action": "press", "key": "Meta"},
    ]


def test_wait_for_element_variants():
    base = {"type": "waitForElement", "selectors": [["aria/Done"], [".done, .ok"]]}
    steps, unsupported = converted(
        base,
        {**base, "count": 0, "operator": "=="},
        {**base, "count": 2},
        {**base, "visible": False},
        {**base, "properties": {"value": "x"}},
        {**base, "attributes": {"data-state": 'say "hi"'}},
        {**base, "selectors": [["aria/Done"]], "attributes": {"x": "y"}},
    )
    assert steps == [
        {"action": "expect_visible", "target": {"css": ".done, .ok"}},
        {"action": "expect_hidden", "target": {"css": ".done, .ok"}},
        {"action": "expect_visible", "target": {"css": ':is(.done, .ok)[data-state="say \\"hi\\""]'}},
    ]
    assert [n for n, _, _ in unsupported] == [3, 4, 5, 7]
    assert "DOM property" in unsupported[2][2] and "no selector" in unsupported[3][2]


def test_viewport_navigation_timeouts_and_unsupported_types():
    steps, unsupported = converted(
        {"type": "setViewport", "width": 390, "height": 844, "isMobile": True, "deviceScaleFactor": 3},
        {
            "type": "navigate",
            "url": "https://e.test/old",
            "timeout": 7000,
            "assertedEvents": [{"type": "navigation", "url": "https://e.test/new", "title": "New"}],
        },
        {"type": "setViewport", "width": 800, "height": 600},
        {"type": "scroll", "x": 0, "y": 100},
        {"type": "customStep", "name": "x", "parameters": {}},
        {"type": "close"},
        {"type": "teleport"},
        timeout=3000,
    )
    assert steps == [
        {"action": "goto", "url": "https://e.test/old", "timeout": 7000},
        {"action": "expect_url", "url": "https://e.test/new", "timeout": 3000},
    ]
    assert [(n, kind) for n, kind, _ in unsupported] == [
        (1, "setViewport"),
        (3, "setViewport"),
        (4, "scroll"),
        (5, "customStep"),
        (6, "close"),
        (7, "teleport"),
    ]
    assert "only the 390x844 size is kept" in unsupported[0][2]
    doc, _ = recorder.convert(flow({"type": "setViewport", "width": 390, "height": 844, "isMobile": True}))
    assert doc["viewport"] == {"width": 390, "height": 844}


def test_is_recording():
    recording = flow({"type": "navigate", "url": "/"})
    assert recorder.is_recording(recording)
    assert not recorder.is_recording({"name": "N", "steps": [{"goto": "/"}]})
    assert not recorder.is_recording({"title": "T", "steps": [{"goto": "/"}]})
    assert recorder.is_recording_map({"a": recording, "b": recording})
    assert not recorder.is_recording_map({})
    assert not recorder.is_recording_map({"a": recording, "b": {"name": "N"}})


def test_converted_steps_are_numbered_as_recorded_in_validation_problems():
    text = json.dumps(
        flow(
            {"type": "setViewport", "width": 50, "height": 700},
            {"type": "navigate", "url": "/"},
            {"type": "change", "selectors": [["#q"]], "value": "x", "timeout": 0},
        )
    )
    with pytest.raises(TestFormatError) as info:
        load_tests(text)
    assert info.value.problems == [
        'test "F": "viewport.width" must be at least 100 (got 50)',
        'test "F": step 3 (fill): "timeout" must be at least 1 (got 0)',
    ]


def test_malformed_recorded_steps_are_reported_not_crashed_on():
    junk = flow(
        {"type": ["x"]},
        {"type": "click", "selectors": "#a"},
        {"type": "click", "button": ["x"]},
        {"type": "keyUp", "key": ["k"]},
        {"type": "navigate", "url": 5, "assertedEvents": 3},
        {"type": "waitForElement", "selectors": [["#a"]], "attributes": "x"},
    )
    _doc, unsupported = recorder.convert(junk)
    assert [(n, kind) for n, kind, _ in unsupported] == [
        (1, "['x']"),
        (2, "click"),
        (3, "click"),
        (6, "waitForElement"),
    ]
    with pytest.raises(TestFormatError) as info:
        load_tests(json.dumps(junk), skip_unsupported=True)
    assert info.value.problems == ['test "F": step 5 (goto): "url" must be a string (got 5)']
