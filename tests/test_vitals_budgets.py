"""Web Vitals budgets: PATCH validation, merging, evaluation per page and metric, ratings, p75."""

from __future__ import annotations

import math

import pytest

from sentri.errors import ValidationFailed
from sentri.policies.vitals import (
    BUDGET_FIELDS,
    GOOD,
    POOR,
    clean_budgets_patch,
    evaluate_budgets,
    merge,
    p75,
    rating,
)


def page(test_id="TST-7", name="Home page loads", url="https://shop.example/", **metrics):
    return {"testId": test_id, "testName": name, "url": url} | {m: metrics.get(m) for m in BUDGET_FIELDS}


# ---------------------------------------------------------------- evaluation


def test_seed_example():
    result = evaluate_budgets({"lcp": 2500}, [page(lcp=3100.0, cls=0.01, inp=None, ttfb=120.0)])
    assert result == {
        "passed": False,
        "violations": [
            {
                "rule": "lcp",
                "threshold": 2500,
                "actual": 3100,
                "testId": "TST-7",
                "testName": "Home page loads",
                "url": "https://shop.example/",
            }
        ],
    }


@pytest.mark.parametrize(
    ("metric", "budget", "value", "violated"),
    [
        ("lcp", 2500, 2500.0, False),
        ("lcp", 2500, 2500.01, True),
        ("lcp", 2500, 0.0, False),
        ("cls", 0.1, 0.1, False),
        ("cls", 0.1, 0.1001, True),
        ("cls", 0, 0.0, False),
        ("cls", 0, 0.0001, True),
        ("inp", 200, 200.0, False),
        ("inp", 200, 201.0, True),
        ("ttfb", 800, 800.0, False),
        ("ttfb", 800, 800.5, True),
        ("ttfb", 0, 0.5, True),
    ],
)
def test_each_metric_at_its_boundary(metric, budget, value, violated):
    result = evaluate_budgets({metric: budget}, [page(**{metric: value})])
    assert result["passed"] is not violated
    assert [(v["rule"], v["threshold"]) for v in result["violations"]] == (
        [(metric, budget)] if violated else []
    )


@pytest.mark.parametrize("metric", BUDGET_FIELDS)
def test_an_unmeasured_metric_never_violates(metric):
    assert evaluate_budgets({metric: 0}, [page()]) == {"passed": True, "violations": []}
    # A page row that lacks the key entirely is "not measured" too.
    assert evaluate_budgets({metric: 0}, [{"testId": "TST-1", "testName": "x", "url": "/"}])["passed"]


def test_a_nan_reading_is_not_measured():
    assert evaluate_budgets({"lcp": 1}, [page(lcp=math.nan)])["passed"]


def test_one_violation_per_page_and_metric_in_page_then_metric_order():
    budgets = {"ttfb": 800, "lcp": 2500, "cls": 0.1, "inp": 200}
    pages = [
        page("TST-1", "Checkout", "/cart", lcp=3000.0, cls=0.3, inp=None, ttfb=900.0),
        page("TST-1", "Checkout", "/pay", lcp=1000.0, cls=0.0, inp=100.0, ttfb=100.0),
        page("TST-2", "Search", "/search", lcp=2600.0, cls=0.05, inp=250.0, ttfb=None),
    ]
    result = evaluate_budgets(budgets, pages)
    assert result["passed"] is False
    assert [(v["testId"], v["url"], v["rule"], v["actual"]) for v in result["violations"]] == [
        ("TST-1", "/cart", "lcp", 3000),
        ("TST-1", "/cart", "cls", 0.3),
        ("TST-1", "/cart", "ttfb", 900),
        ("TST-2", "/search", "lcp", 2600),
        ("TST-2", "/search", "inp", 250),
    ]
    assert {v["testName"] for v in result["violations"]} == {"Checkout", "Search"}


def test_only_configured_metrics_are_checked():
    result = evaluate_budgets({"inp": 200}, [page(lcp=99_999.0, cls=0.9, inp=150.0, ttfb=9_999.0)])
    assert result == {"passed": True, "violations": []}


@pytest.mark.parametrize(
    ("metric", "value", "actual"),
    [
        ("cls", 0.1234, 0.12),
        ("cls", 0.125, 0.13),
        ("cls", 0.1049, 0.1),
        ("lcp", 3100.456, 3100.46),
        ("lcp", 3100.0, 3100),
    ],
)
def test_actual_is_rounded_to_two_decimals_but_compared_exactly(metric, value, actual):
    [v] = evaluate_budgets({metric: 0.1 if metric == "cls" else 2500}, [page(**{metric: value})])[
        "violations"
    ]
    assert v["actual"] == actual


def test_no_pages_with_budgets_passes():
    assert evaluate_budgets({"lcp": 2500}, []) == {"passed": True, "violations": []}


@pytest.mark.parametrize("budgets", [None, {}, {"lcp": None}])
def test_nothing_configured_is_no_result(budgets):
    assert evaluate_budgets(budgets, [page(lcp=99_999.0)]) is None


# ---------------------------------------------------------------- PATCH validation and merging


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"lcp": 2500},
        {"lcp": 0},
        {"lcp": 2500.5, "inp": 200, "ttfb": 800.0},
        {"cls": 0},
        {"cls": 1},
        {"cls": 0.1},
        {"ttfb": 10**9},
        {"lcp": None, "cls": None, "inp": None, "ttfb": None},
    ],
)
def test_valid_patches_come_back_unchanged(body):
    assert clean_budgets_patch(body) == body


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("lcp", -1),
        ("lcp", "2500"),
        ("lcp", True),
        ("lcp", math.inf),
        ("cls", -0.01),
        ("cls", 1.01),
        ("cls", 2),
        ("cls", "0.1"),
        ("cls", False),
        ("cls", math.nan),
        ("inp", -0.5),
        ("inp", [200]),
        ("inp", True),
        ("ttfb", -800),
        ("ttfb", {"max": 800}),
        ("ttfb", math.nan),
    ],
)
def test_bad_values_are_rejected_naming_the_field(field, value):
    with pytest.raises(ValidationFailed) as caught:
        clean_budgets_patch({field: value})
    assert caught.value.message.startswith(f"{field}: ")


def test_error_messages_say_what_is_allowed():
    with pytest.raises(ValidationFailed, match=r"^cls: must be a number from 0 to 1$"):
        clean_budgets_patch({"cls": 5})
    with pytest.raises(ValidationFailed, match=r"^lcp: must be a number of milliseconds, 0 or more$"):
        clean_budgets_patch({"lcp": -5})


def test_unknown_field_is_named():
    with pytest.raises(ValidationFailed, match=r"^fid: unknown field \(accepted: lcp, cls, inp, ttfb\)$"):
        clean_budgets_patch({"fid": 100})


@pytest.mark.parametrize("body", [None, [], "lcp", 2500])
def test_non_object_body(body):
    with pytest.raises(ValidationFailed, match=r"^The request body must be a JSON object\.$"):
        clean_budgets_patch(body)


@pytest.mark.parametrize(
    ("current", "patch", "expected"),
    [
        (None, {}, None),
        (None, {"lcp": 2500}, {"lcp": 2500}),
        ({"lcp": 2500}, {"cls": 0.1}, {"lcp": 2500, "cls": 0.1}),
        ({"lcp": 2500, "cls": 0.1}, {"lcp": None}, {"cls": 0.1}),
        ({"lcp": 2500}, {"lcp": None}, None),
    ],
)
def test_merge(current, patch, expected):
    assert merge(current, patch) == expected


# ---------------------------------------------------------------- ratings and p75


@pytest.mark.parametrize(
    ("metric", "value", "expected"),
    [
        ("lcp", 0, "good"),
        ("lcp", 2500, "good"),
        ("lcp", 2501, "needs-improvement"),
        ("lcp", 4000, "needs-improvement"),
        ("lcp", 4001, "poor"),
        ("cls", 0.1, "good"),
        ("cls", 0.11, "needs-improvement"),
        ("cls", 0.25, "needs-improvement"),
        ("cls", 0.26, "poor"),
        ("inp", 200, "good"),
        ("inp", 201, "needs-improvement"),
        ("inp", 500, "needs-improvement"),
        ("inp", 501, "poor"),
        ("ttfb", 800, "good"),
        ("ttfb", 801, "needs-improvement"),
        ("ttfb", 1800, "needs-improvement"),
        ("ttfb", 1801, "poor"),
        ("lcp", None, None),
        ("inp", None, None),
    ],
)
def test_rating(metric, value, expected):
    assert rating(metric, value) == expected


def test_rating_thresholds_are_googles():
    assert GOOD == {"lcp": 2500, "cls": 0.1, "inp": 200, "ttfb": 800}
    assert POOR == {"lcp": 4000, "cls": 0.25, "inp": 500, "ttfb": 1800}


def test_rating_of_an_unknown_metric_is_a_programming_error():
    with pytest.raises(ValueError, match="unknown Web Vitals metric 'fid'"):
        rating("fid", 10)


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([], None),
        ([None, None], None),
        ([5.0], 5.0),
        ([1.0, 2.0], 2.0),  # rank ceil(1.5) = 2
        ([4.0, 1.0, 3.0, 2.0], 3.0),  # rank 3 of 4
        ([1.0, 2.0, 3.0, 4.0, 5.0], 4.0),  # rank ceil(3.75) = 4
        ([float(v) for v in range(1, 101)], 75.0),
        ([10.0, None, 30.0, 20.0, 40.0], 30.0),  # unmeasured values are ignored
    ],
)
def test_p75_nearest_rank(values, expected):
    assert p75(values) == expected
