"""Quality gates: PATCH validation, merging, and evaluation of every rule at its boundary."""

from __future__ import annotations

import math

import pytest

from sentri.errors import ValidationFailed
from sentri.policies.gates import GATE_FIELDS, clean_gates_patch, evaluate_gates, merge


def violations(gates, **counts):
    return evaluate_gates(gates, **counts)["violations"]


# ---------------------------------------------------------------- evaluation


def test_seed_example_fourteen_of_fifteen_against_95():
    result = evaluate_gates({"minPassRate": 95}, passed=14, failed=1, flaky=0)
    assert result == {
        "passed": False,
        "violations": [{"rule": "minPassRate", "threshold": 95, "actual": 93.33}],
    }


@pytest.mark.parametrize(
    ("gates", "counts", "violated"),
    [
        # minPassRate: strictly below violates; exactly equal does not.
        ({"minPassRate": 95}, {"passed": 19, "failed": 1, "flaky": 0}, False),  # 95.0 == 95
        ({"minPassRate": 95}, {"passed": 18, "failed": 1, "flaky": 0}, True),  # 94.74 %
        ({"minPassRate": 90}, {"passed": 9, "failed": 1, "flaky": 0}, False),  # 90 == 90
        ({"minPassRate": 90.0001}, {"passed": 9, "failed": 1, "flaky": 0}, True),
        ({"minPassRate": 100}, {"passed": 10, "failed": 0, "flaky": 0}, False),
        ({"minPassRate": 100}, {"passed": 99, "failed": 1, "flaky": 0}, True),
        ({"minPassRate": 0}, {"passed": 0, "failed": 5, "flaky": 0}, False),
        # maxFlakyPct: strictly above violates.
        ({"maxFlakyPct": 10}, {"passed": 10, "failed": 0, "flaky": 1}, False),  # 10 % == 10
        ({"maxFlakyPct": 10}, {"passed": 9, "failed": 0, "flaky": 1}, True),  # 11.11 %
        ({"maxFlakyPct": 0}, {"passed": 5, "failed": 0, "flaky": 0}, False),
        ({"maxFlakyPct": 0}, {"passed": 5, "failed": 0, "flaky": 1}, True),
        # maxFailures: strictly above violates.
        ({"maxFailures": 2}, {"passed": 5, "failed": 2, "flaky": 0}, False),
        ({"maxFailures": 2}, {"passed": 5, "failed": 3, "flaky": 0}, True),
        ({"maxFailures": 0}, {"passed": 5, "failed": 0, "flaky": 0}, False),
        ({"maxFailures": 0}, {"passed": 5, "failed": 1, "flaky": 0}, True),
    ],
)
def test_each_rule_at_its_boundary(gates, counts, violated):
    result = evaluate_gates(gates, **counts)
    assert result["passed"] is not violated
    assert [v["rule"] for v in result["violations"]] == ([next(iter(gates))] if violated else [])


def test_exactly_equal_decimal_threshold_is_not_a_violation():
    # 143 of 1000 is exactly 14.3 %, although the binary float 14.3 is slightly above it.
    assert violations({"minPassRate": 14.3}, passed=143, failed=857, flaky=0) == []
    # 1 flaky in 1000 is exactly 0.1 %, although 0.1 * 1000 is not exact in floating point.
    assert violations({"maxFlakyPct": 0.1}, passed=1000, failed=0, flaky=1) == []
    # 57 of 100: 57 / 100 * 100 is 56.99999999999999 in floats, yet the pass rate is exactly 57.
    assert violations({"minPassRate": 57}, passed=57, failed=43, flaky=0) == []


def test_actual_is_rounded_but_the_comparison_is_exact():
    # 94.999 % is below 95 (a violation) and rounds to 95.0 for reporting.
    [v] = violations({"minPassRate": 95}, passed=94_999, failed=5_001, flaky=0)
    assert v == {"rule": "minPassRate", "threshold": 95, "actual": 95.0}


@pytest.mark.parametrize(
    ("passed", "failed", "actual"),
    [(2, 1, 66.67), (1, 2, 33.33), (1, 7, 12.5), (7, 1, 87.5), (9, 1, 90), (0, 1, 0), (1, 1599, 0.06)],
)
def test_actual_pass_rate_rounding(passed, failed, actual):
    [v] = violations({"minPassRate": 100}, passed=passed, failed=failed, flaky=0)
    assert v["actual"] == actual


@pytest.mark.parametrize(("flaky", "executed", "actual"), [(1, 800, 0.13), (1, 8, 12.5), (1, 1600, 0.06)])
def test_rounding_is_half_up(flaky, executed, actual):
    # 1 of 800 is exactly 0.125 %: reported 0.13 (half up), not 0.12 (Python's round() halves to even).
    [v] = violations({"maxFlakyPct": 0}, passed=executed, failed=0, flaky=flaky)
    assert v["actual"] == actual


def test_integral_actual_is_an_int_like_the_seed():
    [v] = violations({"minPassRate": 95}, passed=9, failed=1, flaky=0)
    assert v == {"rule": "minPassRate", "threshold": 95, "actual": 90}
    assert isinstance(v["actual"], int)


def test_thresholds_echo_as_configured():
    [a, b] = violations({"minPassRate": 95.0, "maxFailures": 0}, passed=1, failed=1, flaky=0)
    assert a["threshold"] == 95.0 and isinstance(a["threshold"], float)
    assert b["threshold"] == 0 and isinstance(b["threshold"], int)


def test_skipped_tests_are_excluded():
    # The caller passes executed counts only: 14 passed + 1 failed, however many were skipped.
    [v] = violations({"minPassRate": 95}, passed=14, failed=1, flaky=0)
    assert v["actual"] == 93.33
    # Flaky % is over executed tests too: 1 of 4 = 25 %.
    [v] = violations({"maxFlakyPct": 20}, passed=3, failed=1, flaky=1)
    assert v == {"rule": "maxFlakyPct", "threshold": 20, "actual": 25}


def test_no_executed_test_violates_min_pass_rate_with_a_message():
    result = evaluate_gates(
        {"minPassRate": 0, "maxFlakyPct": 0, "maxFailures": 0}, passed=0, failed=0, flaky=0
    )
    assert result["passed"] is False
    [v] = result["violations"]
    assert (v["rule"], v["threshold"], v["actual"]) == ("minPassRate", 0, None)
    assert "no test was executed" in v["message"].lower()


def test_no_executed_test_passes_the_other_rules():
    assert evaluate_gates({"maxFlakyPct": 0, "maxFailures": 0}, passed=0, failed=0, flaky=0) == {
        "passed": True,
        "violations": [],
    }


def test_all_rules_violated_in_order():
    result = evaluate_gates(
        {"maxFailures": 1, "maxFlakyPct": 5, "minPassRate": 90}, passed=6, failed=4, flaky=2
    )
    assert result == {
        "passed": False,
        "violations": [
            {"rule": "minPassRate", "threshold": 90, "actual": 60},
            {"rule": "maxFlakyPct", "threshold": 5, "actual": 20},
            {"rule": "maxFailures", "threshold": 1, "actual": 4},
        ],
    }


def test_all_rules_met():
    assert evaluate_gates(
        {"minPassRate": 90, "maxFlakyPct": 10, "maxFailures": 1}, passed=19, failed=1, flaky=2
    ) == {"passed": True, "violations": []}


@pytest.mark.parametrize("gates", [None, {}, {"minPassRate": None}])
def test_nothing_configured_is_no_result(gates):
    assert evaluate_gates(gates, passed=0, failed=3, flaky=0) is None


# ---------------------------------------------------------------- PATCH validation


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"minPassRate": 0},
        {"minPassRate": 100},
        {"minPassRate": 95.5},
        {"maxFlakyPct": 0.0},
        {"maxFlakyPct": 100.0},
        {"maxFailures": 0},
        {"maxFailures": 10**6},
        {"minPassRate": None, "maxFlakyPct": None, "maxFailures": None},
        {"minPassRate": 90, "maxFlakyPct": 5, "maxFailures": 0},
    ],
)
def test_valid_patches_come_back_unchanged(body):
    assert clean_gates_patch(body) == body


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("minPassRate", -0.01),
        ("minPassRate", 100.01),
        ("minPassRate", 101),
        ("minPassRate", "95"),
        ("minPassRate", True),
        ("minPassRate", False),
        ("minPassRate", math.nan),
        ("minPassRate", math.inf),
        ("minPassRate", [95]),
        ("maxFlakyPct", -1),
        ("maxFlakyPct", 100.5),
        ("maxFlakyPct", "5"),
        ("maxFlakyPct", True),
        ("maxFlakyPct", {}),
        ("maxFailures", -1),
        ("maxFailures", 1.0),
        ("maxFailures", 1.5),
        ("maxFailures", "0"),
        ("maxFailures", True),
        ("maxFailures", False),
    ],
)
def test_bad_values_are_rejected_naming_the_field(field, value):
    with pytest.raises(ValidationFailed) as caught:
        clean_gates_patch({field: value})
    assert caught.value.message.startswith(f"{field}: ")
    assert caught.value.status == 400


def test_error_messages_say_what_is_allowed():
    with pytest.raises(ValidationFailed, match=r"^minPassRate: must be a number from 0 to 100$"):
        clean_gates_patch({"minPassRate": 150})
    with pytest.raises(ValidationFailed, match=r"^maxFailures: must be a whole number, 0 or more$"):
        clean_gates_patch({"maxFailures": -1})


def test_unknown_fields_are_named():
    with pytest.raises(ValidationFailed) as caught:
        clean_gates_patch({"minPassRate": 90, "minPasRate": 90, "zzz": 1})
    assert caught.value.message.startswith("minPasRate, zzz: unknown field")
    for name in GATE_FIELDS:
        assert name in caught.value.message  # and what is allowed instead


@pytest.mark.parametrize("body", [None, [], [{"minPassRate": 90}], "minPassRate=90", 95, True])
def test_non_object_body(body):
    with pytest.raises(ValidationFailed, match=r"^The request body must be a JSON object\.$"):
        clean_gates_patch(body)


# ---------------------------------------------------------------- merging


@pytest.mark.parametrize(
    ("current", "patch", "expected"),
    [
        (None, {}, None),
        ({}, {}, None),
        (None, {"minPassRate": 95}, {"minPassRate": 95}),
        ({"minPassRate": 95}, {"maxFailures": 0}, {"minPassRate": 95, "maxFailures": 0}),
        ({"minPassRate": 95}, {"minPassRate": 80}, {"minPassRate": 80}),
        ({"minPassRate": 95, "maxFailures": 0}, {"maxFailures": None}, {"minPassRate": 95}),
        ({"minPassRate": 95}, {"minPassRate": None}, None),
        (None, {"minPassRate": None}, None),
        ({"minPassRate": 95}, {}, {"minPassRate": 95}),
    ],
)
def test_merge(current, patch, expected):
    assert merge(current, patch) == expected


def test_merge_returns_a_new_dict():
    # The ORM only sees a JSON column change when the value is a new object.
    current = {"minPassRate": 95}
    merged = merge(current, {"maxFailures": 0})
    assert merged is not current
    assert current == {"minPassRate": 95}
