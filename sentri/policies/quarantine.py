"""Quarantine: a flaky test keeps running and being reported, but never blocks a deploy.

A run marks the rows of tests that were quarantined when it started; their outcomes count in the run's
`quarantined`, never in passed / failed / flaky, the quality gates, the Web Vitals budgets, the regression
baseline or the verdict (records._set_outcome, ending.vitals_pages). JUnit, the PR comment and the run
page show them apart.

A person puts a test in quarantine (web UI, API or CLI) with a reason, or the project's policy does it
when a test's flaky score reaches `autoFlakyScore`. Leaving is always a person's decision; it is suggested
once the test has passed `suggestReleaseAfter` runs in a row (first attempt, no retry) since it entered.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import Field
from sqlalchemy import select, update

from ..database import write
from ..errors import Conflict
from ..extensions import db
from ..models import Project, Result, Run, TestCase, User, isoformat, utcnow
from ..states import ResultStatus
from ..validation import Body, given, number, parse, text
from . import gates, history

DEFAULT_SUGGEST_AFTER = 5
AUTO = "auto"


class QuarantineRequest(Body):
    reason: text(500)


class PolicyPatch(Body):
    """A quarantine-policy PATCH: any subset; null clears one (autoFlakyScore off, suggestReleaseAfter 5)."""

    auto_flaky_score: number(
        0.01, 1, "must be a flaky score from 0.01 to 1 (a share of unstable runs), or null for never"
    ) = Field(None, alias="autoFlakyScore")
    suggest_release_after: number(
        1, history.WINDOW, f"must be a whole number of runs from 1 to {history.WINDOW}", whole=True
    ) = Field(None, alias="suggestReleaseAfter")


POLICY_FIELDS = ("autoFlakyScore", "suggestReleaseAfter")


def clean_policy_patch(body: object) -> dict:
    return given(parse(PolicyPatch, body))


def is_quarantined(test: TestCase | None) -> bool:
    return test is not None and test.quarantined_at is not None


def enter(test: TestCase, body: object, *, actor: User | None = None) -> TestCase:
    """Quarantine a test, with the reason a person gave (`body`: {"reason": ...}). 409 when it already is."""
    reason = parse(QuarantineRequest, body).reason
    if is_quarantined(test):
        raise Conflict(f"Test {test.public_id} is already quarantined ({test.quarantine_reason}).")
    with write():
        test.quarantined_at = utcnow()
        test.quarantined_by = actor.public_id if actor else "cli"
        test.quarantine_reason = reason
    return test


def leave(test: TestCase, *, actor: User | None = None) -> TestCase:
    """Take a test out of quarantine: its outcomes count again from the next run. 409 when it is not in."""
    if not is_quarantined(test):
        raise Conflict(f"Test {test.public_id} is not quarantined.")
    with write():
        test.quarantined_at = test.quarantined_by = test.quarantine_reason = None
    return test


def after_run(project: Project, run_id: int, at: datetime) -> list[int]:
    """Quarantine the tests this run executed whose flaky score reached the policy's threshold (in the
    transaction that ends the run, after the scores were refreshed), as of `at`, the run's end: the run's
    page finds them by it (made_by_run); return their ids."""
    threshold = (project.quarantine_policy or {}).get("autoFlakyScore")
    if threshold is None:
        return []
    executed = select(Result.test_id).where(
        Result.run_id == run_id, Result.status.in_((ResultStatus.PASSED, ResultStatus.FAILED))
    )
    tests = list(
        db.session.scalars(
            select(TestCase).where(
                TestCase.id.in_(executed),
                TestCase.quarantined_at.is_(None),
                TestCase.flaky_score >= threshold,
            )
        )
    )
    for test in tests:
        db.session.execute(
            update(TestCase)
            .where(TestCase.id == test.id)
            .values(
                quarantined_at=at,
                quarantined_by=AUTO,
                quarantine_reason=f"flaky score {test.flaky_score:.0%} reached the project's autoFlakyScore "
                f"{threshold:.0%}",
            )
        )
    return [test.id for test in tests]


def made_by_run(run: Run) -> list[TestCase]:
    """The tests the end of this run put in quarantine, and still there."""
    if run.finished_at is None:
        return []
    return list(
        db.session.scalars(
            select(TestCase)
            .where(
                TestCase.project_id == run.project_id,
                TestCase.quarantined_by == AUTO,
                TestCase.quarantined_at == run.finished_at,
            )
            .order_by(TestCase.id)
        )
    )


def release_suggested(project: Project, tests: list[TestCase]) -> set[int]:
    """The quarantined tests whose last `suggestReleaseAfter` executed runs since they entered quarantine
    all passed at the first attempt."""
    needed = (project.quarantine_policy or {}).get("suggestReleaseAfter") or DEFAULT_SUGGEST_AFTER
    held = [test for test in tests if is_quarantined(test)]
    recent = history.recent_results([test.id for test in held], window=needed) if held else {}
    suggested = set()
    for test in held:
        since = [r for r in recent.get(test.id, []) if r.started_at and r.started_at >= test.quarantined_at]
        if len(since) >= needed and all(r.status == ResultStatus.PASSED and not r.flaky for r in since):
            suggested.add(test.id)
    return suggested


def describe(test: TestCase, suggested: bool) -> dict | None:
    """A test's quarantine in the API's form, None when it is not quarantined."""
    if not is_quarantined(test):
        return None
    return {
        "reason": test.quarantine_reason,
        "by": test.quarantined_by,
        "at": isoformat(test.quarantined_at),
        "releaseSuggested": suggested,
    }


def merge_policy(current: dict | None, patch: dict) -> dict | None:
    return gates.merge(current, patch)
