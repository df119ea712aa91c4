"""How a run ends (lifecycle.py starts and stops it): end() takes the end in the caller's transaction, so the
last test's write holds no lock for what follows; finish() then reads the gates, budgets and the regression
gate holding no write lock, and commits the verdict in one short write, after which hooks.py fires what
follows, once per run. finish_stale() is recovery's way to finish an end whose process died."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import func, select, update

from ..crawl.models import ACTIVE_CRAWL_STATUSES, Crawl
from ..database import after_write, changed, write
from ..extensions import db
from ..models import (
    ACTIVE_RUN_STATUSES,
    PENDING_RESULT_STATUSES,
    Project,
    Result,
    Run,
    TestCase,
    utcnow,
)
from ..policies import gates, history, quarantine, regression, vitals, vitals_baseline
from ..runtime import hooks
from ..states import RunStatus

log = logging.getLogger(__name__)


def end_if_done(run_id: int) -> bool:
    """End the run when none of its rows is queued or running and its crawl, if any, is over (in the
    caller's transaction)."""
    pending = db.session.scalar(
        select(func.count(Result.id)).where(
            Result.run_id == run_id, Result.status.in_(PENDING_RESULT_STATUSES)
        )
    ) or db.session.scalar(
        select(Crawl.id).where(Crawl.run_id == run_id, Crawl.status.in_(ACTIVE_CRAWL_STATUSES))
    )
    return not pending and end(run_id)


def end(run_id: int) -> bool:
    """Take an active run's end, in the caller's transaction (the one that records its last test, or stops
    it): the run is `ending`, still active to readers, and nobody else takes it. Once that transaction
    commits, finish() does the rest in the same thread (or recovery, when this process dies first). Return
    False when the run's end was already taken."""
    taken = changed(
        update(Run)
        .where(Run.id == run_id, Run.status.in_(ACTIVE_RUN_STATUSES), Run.notify_state.is_(None))
        .values(finished_at=utcnow(), notify_state="ending")
    )
    if taken:
        after_write(lambda: _finish_logged(run_id))
    return bool(taken)


def _finish_logged(run_id: int) -> None:
    try:
        finish(run_id)
    except Exception:  # the last test is recorded whatever happens here; recovery finishes the run
        log.exception("could not finish run %s; recovery will", Run.format_id(run_id))


def finish(run_id: int) -> bool:
    """Finish a run whose end was taken: its gates, budgets and regression gate are read first, holding no
    write lock; then one short write commits its terminal status with them (the verdict), its tests' flaky
    scores and quarantine, and `notify_state` pending, after which hooks.py fires what follows. Return False
    when the run was not ending (another process finished it)."""
    run = db.session.get(Run, run_id, populate_existing=True)
    if run is None or run.notify_state != "ending":
        db.session.commit()
        return False
    project = run.project
    status = {"aborted": RunStatus.ABORTED, "failed": RunStatus.FAILED}.get(
        run.stop_reason or "", RunStatus.COMPLETED
    )
    gate_result = vitals_result = None
    if (
        status == RunStatus.COMPLETED
    ):  # an aborted or failed run's tests did not all run: its gates say nothing
        gate_result = gates.evaluate_gates(
            project.quality_gates, passed=run.passed, failed=run.failed, flaky=run.flaky
        )
        vitals_result = web_vitals_result(run, project)
    finished_at = run.finished_at  # when the end was taken: auto-quarantine is dated by it (made_by_run)
    assert finished_at is not None  # end() wrote it with notify_state ending
    with write():
        finished = changed(
            update(Run)
            .where(Run.id == run_id, Run.notify_state == "ending")
            .values(
                status=status, gate_result=gate_result, vitals_result=vitals_result, notify_state="pending"
            )
        )
        if not finished:
            return False
        history.update_flaky_scores(run_id)
        quarantine.after_run(project, run_id, finished_at)
        hooks.ended_in_transaction(run_id)
    return True


def finish_stale(cutoff) -> list[int]:
    """Finish the runs whose end was taken before `cutoff` by a process that never finished them."""
    stale = list(
        db.session.scalars(
            select(Run.id)
            .where(Run.notify_state == "ending", Run.finished_at < cutoff)
            .order_by(Run.id)
            .limit(100)
        )
    )
    db.session.commit()
    return [run_id for run_id in stale if finish(run_id)]


def vitals_pages(*run_ids: int) -> list[dict[str, Any]]:
    """Return one row per page any counted test of these runs visited, with the test it belongs to (a
    quarantined test's pages count toward no budget and no baseline)."""
    if not run_ids:
        return []
    results = db.session.execute(
        select(Result.test_id, Result.test_name, Result.vitals)
        .where(Result.run_id.in_(run_ids), Result.vitals.is_not(None), Result.quarantined.is_(False))
        .order_by(Result.run_id, Result.position)
    )
    return [
        {"testId": TestCase.format_id(test_id), "testName": name, **page}
        for test_id, name, pages in results
        for page in (pages or [])
    ]


def web_vitals_result(run: Run, project: Project) -> dict[str, Any] | None:
    """The run's webVitalsResult: its budgets, and its regressions against its baseline (vitals_baseline.py)."""
    pages = vitals_pages(run.id)
    budgets = vitals.evaluate_budgets(project.vitals_budgets, pages)
    if not project.vitals_regression:
        return budgets
    keys, pinned = vitals_baseline.runs_for(project, run.browser, run.device, before=run.id)
    found = regression.evaluate(
        project.vitals_regression,
        pages,
        vitals_pages(*keys),
        [f"{Run.ID_PREFIX}-{key}" for key in keys],
        pinned=Run.format_id(pinned),
    )
    return regression.combine(budgets, found)
