"""Validate, store and evaluate a project's Web Vitals budgets, and rate measurements.

A budget configuration is a dict holding any subset of ``BUDGET_FIELDS``: LCP, INP and TTFB in
milliseconds, CLS unitless (0-1). ``None`` means "nothing configured" and evaluates to a
``webVitalsResult`` of ``None``. Measurement happens in the browser (``sentri.worker.vitals_probe``);
this module only judges the numbers it recorded.

A metric is over budget when its exact measured value is strictly above the budget; equal passes.
A ``None`` metric was not measured (INP without an interaction) and never violates; neither does a
non-finite reading. The reported
``actual`` is rounded half up to 2 decimals, for CLS too: a CLS of 0.1049 over a 0.1 budget is a
violation reported as ``actual: 0.1``, and 0.1234 is reported as 0.12.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, TypedDict

from ..validation import Body, given, is_number, number_rule, parse
from . import gates

BUDGET_FIELDS = ("lcp", "cls", "inp", "ttfb")
METRICS = BUDGET_FIELDS  # what is measured on every page, in the order reports show them

# Google's published thresholds: "good" up to GOOD, "poor" above POOR, "needs-improvement" between.
GOOD = {"lcp": 2500, "cls": 0.1, "inp": 200, "ttfb": 800}
POOR = {"lcp": 4000, "cls": 0.25, "inp": 500, "ttfb": 1800}

Milliseconds = Annotated[
    int | float | None, number_rule(0, None, "must be a number of milliseconds, 0 or more")
]
Ratio = Annotated[int | float | None, number_rule(0, 1, "must be a number from 0 to 1")]


class BudgetViolation(TypedDict):
    """A page's metric over its budget, as webVitalsResult.violations lists it."""

    rule: str
    threshold: int | float
    actual: int | float
    testId: str | None
    testName: str | None
    url: str | None


class BudgetsPatch(Body):
    """A Web Vitals budgets PATCH: any subset of the metrics; null clears one."""

    lcp: Milliseconds = None
    cls: Ratio = None
    inp: Milliseconds = None
    ttfb: Milliseconds = None


def clean_budgets_patch(body: object) -> dict[str, Any]:
    """Validate a Web Vitals budgets PATCH body and return the patch to merge."""
    return given(parse(BudgetsPatch, body))


def merge(current: Mapping[str, Any] | None, patch: Mapping[str, Any]) -> dict[str, Any] | None:
    """Apply a cleaned patch to stored budgets; return None when nothing is left."""
    return gates.merge(current, patch)


def rating(metric: str, value: float | None) -> str | None:
    """Rate a measurement "good", "needs-improvement" or "poor"; None when not measured."""
    if metric not in GOOD:
        raise ValueError(f"unknown Web Vitals metric {metric!r}")
    if value is None:
        return None
    if value <= GOOD[metric]:
        return "good"
    if value <= POOR[metric]:
        return "needs-improvement"
    return "poor"


def evaluate_budgets(
    budgets: Mapping[str, Any] | None, pages: Sequence[Mapping[str, Any]]
) -> dict[str, Any] | None:
    """Evaluate the configured budgets on every measured page (a page row: testId, testName, url and each
    metric); {"passed", "violations"}, or None when no budget is configured."""
    limits = gates.configured(budgets, BUDGET_FIELDS)
    if not limits:
        return None
    violations: list[BudgetViolation] = []
    for page in pages:
        for metric, threshold in limits.items():  # BUDGET_FIELDS order: lcp, cls, inp, ttfb
            value = page.get(metric)
            # None (or a NaN from a broken reading) was not measured: never a violation.
            if not is_number(value) or gates.exact(value) <= gates.exact(threshold):
                continue
            violations.append(
                {
                    "rule": metric,
                    "threshold": threshold,
                    "actual": gates.reported(value),
                    "testId": page.get("testId"),
                    "testName": page.get("testName"),
                    "url": page.get("url"),
                }
            )
    return {"passed": not violations, "violations": violations}


def p75(values: Sequence[float | None]) -> float | None:
    """Return the nearest-rank 75th percentile, ignoring unmeasured (None) values."""
    measured = sorted(v for v in values if v is not None)
    if not measured:
        return None
    # Nearest rank: the smallest value with at least 75 % of the values at or below it.
    return float(measured[math.ceil(0.75 * len(measured)) - 1])
