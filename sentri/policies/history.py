"""Test history from past results: what the planner ranks by, and flaky scores kept current."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import Row, select, union_all, update

from ..extensions import db
from ..models import TERMINAL_RUN_STATUSES, Result, Run, TestCase
from ..states import ResultStatus
from . import planner

WINDOW = 20  # finished runs a test's flaky score and risk look back over
# What a past result is to its test's history: never the JSON records (attempts, vitals, snapshots), only the
# small `healed` list, whose presence counts toward the heal rate.
PAST_COLUMNS = (
    Result.test_id,
    Result.status,
    Result.flaky,
    Result.duration_ms,
    Result.healed,
    Result.started_at,
)
Past = Row  # a row of PAST_COLUMNS, by name: test_id, status, flaky, duration_ms, healed, started_at
CHUNK = 200  # tests per statement: SQLite allows 500 selects in one UNION ALL


def _outcome(result: Past) -> str | None:
    if result.status == ResultStatus.SKIPPED:
        return None
    if result.flaky:
        return "flaky"
    return result.status


def _newest(test_id: int, window: int):
    """One test's newest `window` executed results in finished runs: the database walks the test's results
    backwards along ix_results_test_run and stops there, however long the history."""
    return (
        select(*PAST_COLUMNS, Result.run_id, Result.id)
        .join(Run, Run.id == Result.run_id)
        .where(
            Result.test_id == test_id,
            Run.status.in_(TERMINAL_RUN_STATUSES),
            Result.status != ResultStatus.SKIPPED,
        )
        .order_by(Result.run_id.desc(), Result.id.desc())
        .limit(window)
        .subquery()
    )


def recent_results(test_ids: list[int], window: int = WINDOW) -> dict[int, list[Past]]:
    """Return each test's executed results in finished runs, newest first, at most `window` each: only the
    columns read here and by quarantine.py, and never more than `window` rows a test read (one LIMIT each)."""
    by_test: dict[int, list[Past]] = defaultdict(list)
    ids = sorted(set(test_ids))
    for first in range(0, len(ids), CHUNK):
        rows = db.session.execute(
            union_all(*(select(_newest(test_id, window)) for test_id in ids[first : first + CHUNK]))
        )
        for row in sorted(rows, key=lambda row: (-row.run_id, -row.id)):
            by_test[row.test_id].append(row)
    return by_test


def goto_pages(steps: list[dict]) -> list[str]:
    """Return the URLs a test's goto steps visit, as written."""
    return [step["url"] for step in steps if step.get("action") == "goto"]


def histories(tests: list[TestCase]) -> list[planner.TestHistory]:
    """Build the planner's view of each test from its recent results."""
    recent = recent_results([t.id for t in tests])
    return [
        planner.TestHistory(
            test_id=test.id,
            name=test.name,
            tags=list(test.tags or []),
            updated_at=test.updated_at,
            outcomes=[o for o in (_outcome(r) for r in recent.get(test.id, [])) if o],
            durations_ms=[r.duration_ms for r in recent.get(test.id, []) if r.duration_ms is not None],
            flaky_score=test.flaky_score or 0.0,
            pages=goto_pages(test.steps),
            heal_rate=_heal_rate(recent.get(test.id, [])),
        )
        for test in tests
    ]


def _heal_rate(results: list[Past]) -> float:
    """The share of a test's recent executed results in which a target healed."""
    return sum(1 for r in results if r.healed) / len(results) if results else 0.0


def update_flaky_scores(run_id: int) -> None:
    """Recompute the flaky score of every test of a finished run, that run included.

    Call it inside the write transaction that ends the run: a client that sees the run finished
    then always sees the scores it produced."""
    test_ids = [  # the tests this run executed: a skipped (deselected, over-budget) one's score is unchanged
        t
        for t in db.session.scalars(
            select(Result.test_id).where(
                Result.run_id == run_id, Result.status.in_((ResultStatus.PASSED, ResultStatus.FAILED))
            )
        )
        if t is not None
    ]
    if not test_ids:
        return
    recent = recent_results(test_ids)
    for test_id in test_ids:
        outcomes = [o for o in (_outcome(r) for r in recent.get(test_id, [])) if o]
        score = planner.flaky_score(outcomes, window=WINDOW)
        db.session.execute(update(TestCase).where(TestCase.id == test_id).values(flaky_score=score))
