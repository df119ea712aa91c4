"""Validate, store and evaluate a project's quality gates.

A gate configuration is a dict holding any subset of ``GATE_FIELDS``; ``None`` (never ``{}``) means
"nothing configured", which evaluates to a ``gateResult`` of ``None`` (no enforcement).

Comparisons are exact: rates are computed as fractions, and a float threshold is read as the
decimal the user wrote (``repr``), so a pass rate of exactly 14.3 % meets ``minPassRate: 14.3``
even though the binary float 14.3 is a hair above it. Only the reported ``actual`` is rounded
(2 decimals, half up); integral values are reported as ints, as in the seed's ``"actual": 90``.

The patch cleaning, merging and rounding helpers are shared with ``sentri.vitals``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from fractions import Fraction
from typing import Annotated, Any, NotRequired, TypedDict

from pydantic import Field

from ..validation import Body, given, number_rule, parse

GATE_FIELDS = ("minPassRate", "maxFlakyPct", "maxFailures")

NO_TESTS_EXECUTED = "No test was executed (every test was skipped), so there is no pass rate."

Percent = Annotated[int | float | None, number_rule(0, 100, "must be a number from 0 to 100")]
Count = Annotated[int | float | None, number_rule(0, None, "must be a whole number, 0 or more", whole=True)]


class Violation(TypedDict):
    """A gate the run did not meet, as gateResult.violations lists it."""

    rule: str
    threshold: int | float
    actual: int | float | None  # None: there is no such value (no test executed, so no pass rate)
    message: NotRequired[str]


class GatesPatch(Body):
    """A quality-gates PATCH: any subset of the gates; null clears one."""

    min_pass_rate: Percent = Field(None, alias="minPassRate")
    max_flaky_pct: Percent = Field(None, alias="maxFlakyPct")
    max_failures: Count = Field(None, alias="maxFailures")


def clean_gates_patch(body: object) -> dict[str, Any]:
    """Validate a quality-gates PATCH body and return the patch to merge."""
    return given(parse(GatesPatch, body))


def merge(current: Mapping[str, Any] | None, patch: Mapping[str, Any]) -> dict[str, Any] | None:
    """Apply a cleaned patch to a stored configuration; return None when nothing is left."""
    # Always a new dict: the ORM only notices a JSON column change when the object is replaced.
    merged = dict(current or {})
    for name, value in patch.items():
        if value is None:
            merged.pop(name, None)
        else:
            merged[name] = value
    return merged or None


def exact(value: int | float) -> Fraction:
    """Return a number as an exact fraction, reading a float as the decimal it prints as."""
    return Fraction(value) if isinstance(value, int) else Fraction(repr(float(value)))


def reported(value: int | float | Fraction) -> int | float:
    """Round a value half up to 2 decimals for reporting; an integral result becomes an int."""
    frac = value if isinstance(value, Fraction) else exact(value)
    hundredths = math.floor(frac * 100 + Fraction(1, 2))
    return hundredths // 100 if hundredths % 100 == 0 else hundredths / 100


def configured(settings: Mapping[str, Any] | None, fields: tuple[str, ...]) -> dict[str, Any]:
    """Return the fields of a stored configuration that hold a value."""
    return {name: settings[name] for name in fields if settings and settings.get(name) is not None}


def _violation(rule: str, threshold: int | float, actual: Fraction | None) -> Violation:
    return {"rule": rule, "threshold": threshold, "actual": None if actual is None else reported(actual)}


def evaluate_gates(
    gates: Mapping[str, Any] | None, *, passed: int, failed: int, flaky: int
) -> dict[str, Any] | None:
    """Evaluate the configured gates on a run's counts ({"passed", "violations"}, stored as the run's
    gateResult JSON); None when no gate is configured."""
    rules = configured(gates, GATE_FIELDS)
    if not rules:
        return None
    executed = passed + failed  # skipped tests were not executed: they count for neither side
    violations: list[Violation] = []
    if "minPassRate" in rules:
        threshold = rules["minPassRate"]
        if executed == 0:
            # No pass rate at all: a run that tested nothing must not pass a pass-rate gate.
            violations.append(_violation("minPassRate", threshold, None) | {"message": NO_TESTS_EXECUTED})
        else:
            rate = Fraction(passed * 100, executed)
            if rate < exact(threshold):
                violations.append(_violation("minPassRate", threshold, rate))
    if "maxFlakyPct" in rules and executed > 0:  # nothing executed: nothing was flaky either
        threshold = rules["maxFlakyPct"]
        flaky_pct = Fraction(flaky * 100, executed)
        if flaky_pct > exact(threshold):
            violations.append(_violation("maxFlakyPct", threshold, flaky_pct))
    if "maxFailures" in rules and failed > rules["maxFailures"]:
        violations.append(_violation("maxFailures", rules["maxFailures"], Fraction(failed)))
    return {"passed": not violations, "violations": violations}
