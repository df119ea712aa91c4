"""A run's life, held in the database: the database is the queue, and any Sentri process serving it may
execute any run (healthchecks' sendalerts is the model).

start()     one transaction: the run and one row per planned test, `queued` with its plan position, or
            `skipped` at once with its reason (over_budget, deselected); a run left with nothing to
            execute ends in that same transaction.
claim()     a worker in any process takes the first queued row of the oldest active run that has room
            under its parallelWorkers: SQLite serialises claimers with BEGIN IMMEDIATE, PostgreSQL locks
            the run's row with FOR UPDATE SKIP LOCKED. The row names its owner and holds a lease.
renew()     the owning process extends its leases; to_stop() says which of its rows must stop.
record()    the outcome is written only while the row is still the worker's and its run still active
            (a conditional UPDATE): a late result is dropped and logged, never counted. The transaction
            that records a run's last row ends the run.
abort()     queued rows become skipped and the run is flagged; the workers running its tests see the
fail()      flag within seconds and stop them. fail() is the same for a run that cannot go on.
release()   a row its worker gives back (shutdown) or lost (its lease ran out) is re-queued once, the
            lost attempt recorded, or failed: "the worker running it stopped".
recover()   any process, periodically: rows whose lease ran out, runs past their budget's wall clock,
            and active runs with nothing left to do.
end()       the one way a run ends: status, gates, budgets, flaky scores, and `notify_state` pending, in
            the caller's transaction; after the commit hooks.py fires what follows, once per run.

No function here holds a lock across anything: they are short transactions, and what follows an end
(network calls) runs on other threads after the commit.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import and_, exists, func, or_, select, update
from sqlalchemy.exc import IntegrityError

from .. import origins
from ..database import write
from ..errors import Conflict, NotFound, ValidationFailed
from ..extensions import db
from ..models import (
    ACTIVE_RUN_STATUSES,
    Project,
    Result,
    Run,
    TestCase,
    TriggerToken,
    get_or_404,
    utcnow,
)
from . import gates, history, hooks, planner, selection, vitals
from .options import RunOptions

log = logging.getLogger("sentri.runs")

RESTARTED = "The server restarted while the run was in progress."
LOST = "the worker running it stopped"
STOPPED = "the server running it was stopped"
# What a stopped run's remaining tests are skipped as, by the run's stop_reason.
STOP_SKIP_REASON = {"aborted": "aborted", "failed": "run_failed"}
MAX_CLAIMS = 2  # a row lost with its worker is re-queued once, then failed


@dataclass(frozen=True)
class Claim:
    """A row a worker took: what it needs to run the test and to write its outcome back."""

    result_id: int
    run_id: int
    position: int
    test_id: int | None
    test_name: str
    owner: str
    claims: int


# -- reading -------------------------------------------------------------------------------------------


def get(public_id: str) -> Run:
    """Return the run with this id or raise 404."""
    return get_or_404(Run, public_id)


def get_in_project(project: Project, public_id: str) -> Run:
    """Return the project's run with this id; another project's run is a 404."""
    run = get(public_id)
    if run.project_id != project.id:
        raise NotFound(f"Run {public_id} not found in project {project.public_id}.")
    return run


def list_for(project: Project, *, offset: int = 0, limit: int = 50) -> tuple[list[Run], int]:
    """Return a page of the project's runs, newest first, and the total."""
    total = db.session.scalar(select(func.count(Run.id)).where(Run.project_id == project.id)) or 0
    page = db.session.scalars(
        select(Run).where(Run.project_id == project.id).order_by(Run.id.desc()).offset(offset).limit(limit)
    )
    return list(page), total


def active_run(project_id: int) -> Run | None:
    """Return the project's queued or running run, if any."""
    return db.session.scalar(
        select(Run).where(Run.project_id == project_id, Run.status.in_(ACTIVE_RUN_STATUSES)).limit(1)
    )


# -- starting ------------------------------------------------------------------------------------------


def _approved_tests(project: Project) -> list[TestCase]:
    return list(
        db.session.scalars(
            select(TestCase)
            .where(TestCase.project_id == project.id, TestCase.review_status == "approved")
            .order_by(TestCase.id)
        )
    )


def _check_settings(project: Project, options: RunOptions) -> None:
    """Refuse an environment or test-data set that is not the project's, and a baseUrl outside the
    project's origins (400 naming the field)."""
    from .. import environments

    for field, value, lookup in (("environmentId", options.environment_id, environments.get_environment),
                                 ("testDataSetId", options.data_set_id, environments.get_data_set)):
        if value is not None:
            try:
                lookup(project, value)
            except NotFound as exc:
                raise ValidationFailed(f"{field}: {exc.message}") from None
    if options.base_url is not None:
        check_base_url(project, options.base_url)


def check_base_url(project: Project, base_url: str) -> None:
    """Refuse a run's baseUrl whose origin is not the project's, one of its environments', or allowed:
    the run's secrets are typed into that origin, so a trigger token must not move them elsewhere."""
    from .. import environments

    known = [project.base_url] + [env.base_url for env in environments.list_environments(project)]
    trusted = origins.TrustedOrigins(known, project.allowed_origins)
    if not trusted.allows(base_url):
        origin = origins.origin_of(base_url)
        raise ValidationFailed(
            f"baseUrl: {origin} is not one of project {project.public_id}'s origins ({trusted.describe()}); "
            "add it (or a pattern such as https://pr-*.preview.example.com) to the project's allowedOrigins "
            "(Settings in the web UI, PATCH /api/v1/projects/:id, or flask projects allow-origin)."
        )


def start(project: Project, options: RunOptions, *, source: str, triggered_by: str,
          token: TriggerToken | None = None) -> Run:
    """Create the run and a row per approved test in one transaction: the selected ones in risk order
    (queued, or skipped as over_budget), then the deselected ones (skipped). 400 without approved
    tests, 409 when the project has an active run. The trigger token's last use is recorded in the same
    transaction, so nothing can fail between the run existing and its rows being there to execute."""
    has_tests = db.session.scalar(select(TestCase.id).where(TestCase.project_id == project.id).limit(1))
    if has_tests is None:
        raise ValidationFailed(f"Project {project.public_id} has no tests: crawl / add tests first.")
    approved = _approved_tests(project)
    if not approved:
        raise ValidationFailed(f"Project {project.public_id} has no approved tests: approve tests first.")
    chosen = selection.choose(project, approved, options.selection)
    _check_settings(project, options)
    now = utcnow()
    order = planner.plan(history.histories(chosen), budget_minutes=options.budget_minutes,
                         changed_pages=options.changed_pages, now=now, parallel=options.parallel_workers)
    chosen_ids = {t.id for t in chosen}
    deselected = [{"testId": t.id, "plan": "deselected"} for t in approved if t.id not in chosen_ids]
    by_id = {t.id: t for t in approved}
    plan = [
        {**entry, "position": position, "testId": TestCase.format_id(entry["testId"]),
         "testName": by_id[entry["testId"]].name}
        for position, entry in enumerate(order + deselected, start=1)
    ]
    base_url = options.base_url or project.base_url
    budget = options.budget_minutes
    run = Run(
        project_id=project.id, status="queued", trigger_source=source, triggered_by=triggered_by,
        options={**options.as_json(), "selection": options.selection.describe(chosen)},
        callback_url=options.callback_url, total=len(plan), plan=plan, parallel=options.parallel_workers,
        deadline=now + timedelta(minutes=budget) if budget else None,
        integrations={"github": options.github} if options.github else None, created_at=now,
    )
    try:
        with write():
            db.session.add(run)
            db.session.flush()
            skipped = 0
            for entry in plan:
                reason = {"over_budget": "over_budget", "deselected": "deselected"}.get(entry["plan"])
                skipped += reason is not None
                db.session.add(Result(
                    run_id=run.id, test_id=TestCase.key_of(entry["testId"]), test_name=entry["testName"],
                    position=entry["position"], status="skipped" if reason else "queued", skip_reason=reason,
                    attempts=[], base_url=base_url,
                ))
            run.skipped = skipped
            if token is not None:
                db.session.execute(update(TriggerToken).where(TriggerToken.id == token.id).values(last_used_at=now))
            db.session.flush()
            if skipped == len(plan):
                end(run.id)  # nothing to execute: the run ends as it starts
    except IntegrityError:
        # The partial unique index refused a second active run: report the one that holds the lock.
        active = active_run(project.id)
        raise Conflict(
            f"Project {project.public_id} already has an active run.",
            runId=active.public_id if active else None,
        ) from None
    return run


# -- claiming ------------------------------------------------------------------------------------------


def _claimable(now):
    """The active runs with a queued test and room under their parallelWorkers, oldest first."""
    running = (select(func.count(Result.id)).where(Result.run_id == Run.id, Result.status == "running")
               .correlate(Run).scalar_subquery())
    queued = exists().where(Result.run_id == Run.id, Result.status == "queued")
    return (select(Run.id)
            .where(Run.status.in_(ACTIVE_RUN_STATUSES), Run.stop_reason.is_(None),
                   or_(Run.deadline.is_(None), Run.deadline > now), queued, running < Run.parallel)
            .order_by(Run.id).limit(1))


def has_work() -> bool:
    """Tell, with a plain read, whether a test could be claimed now (idle workers ask this before they
    take the write lock that claiming needs)."""
    found = db.session.scalar(_claimable(utcnow()))
    db.session.commit()  # end the read snapshot at once
    return found is not None


def _next_run(now) -> int | None:
    """The oldest active run with a queued test and room under its parallelWorkers (locked on PostgreSQL)."""
    query = _claimable(now)
    if db.session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(of=Run, skip_locked=True)
    return db.session.scalar(query)


def claim(owner: str, lease_seconds: float) -> Claim | None:
    """Take the next queued test of any active run for `owner`, or return None when there is none.
    A test deleted since its run was planned is recorded as skipped (deleted) on the way."""
    while True:
        with write():
            now = utcnow()
            run_id = _next_run(now)
            if run_id is None:
                return None
            row = db.session.execute(
                select(Result.id, Result.test_id, Result.test_name, Result.position, Result.claims)
                .where(Result.run_id == run_id, Result.status == "queued").order_by(Result.position).limit(1)
            ).first()
            if row is None:
                continue
            if row.test_id is None:  # deleted between planning and now (ON DELETE SET NULL)
                _set_outcome(row.id, run_id, {"status": "skipped", "skip_reason": "deleted"}, expect="queued")
                end_if_done(run_id)
                continue
            db.session.execute(
                update(Result).where(Result.id == row.id, Result.status == "queued")
                .values(status="running", owner=owner, lease_until=now + timedelta(seconds=lease_seconds),
                        claims=Result.claims + 1, started_at=now)
            )
            db.session.execute(update(Run).where(Run.id == run_id, Run.status == "queued")
                               .values(status="running", started_at=now))
            return Claim(row.id, run_id, row.position, row.test_id, row.test_name, owner, row.claims + 1)


# -- while running ---------------------------------------------------------------------------------------


def renew(owner: str, result_ids: list[int], lease_seconds: float) -> None:
    """Extend the leases of these rows, where they are still the owner's and running."""
    if not result_ids:
        return
    with write():
        db.session.execute(
            update(Result).where(Result.id.in_(result_ids), Result.owner == owner, Result.status == "running")
            .values(lease_until=utcnow() + timedelta(seconds=lease_seconds))
        )


def to_stop(owner: str, result_ids: list[int]) -> dict[int, str]:
    """Return which of the owner's rows must stop, and why: 'stop' (their run is being aborted or failed)
    or 'lost' (the row is no longer theirs, or its run ended: whatever they produce is dropped)."""
    if not result_ids:
        return {}
    rows = db.session.execute(
        select(Result.id, Result.owner, Result.status, Run.status, Run.stop_reason)
        .join(Run, Run.id == Result.run_id).where(Result.id.in_(result_ids))
    ).all()
    db.session.commit()
    verdicts = {}
    for result_id, row_owner, status, run_status, stop_reason in rows:
        if row_owner != owner or status != "running" or run_status not in ACTIVE_RUN_STATUSES:
            verdicts[result_id] = "lost"
        elif stop_reason is not None:
            verdicts[result_id] = "stop"
    for missing in set(result_ids) - {row[0] for row in rows}:
        verdicts[missing] = "lost"  # its run (and project) were deleted
    return verdicts


def run_deadline_passed(run_id: int) -> bool:
    """Tell whether the run's budgetMinutes wall clock has run out."""
    deadline = db.session.scalar(select(Run.deadline).where(Run.id == run_id))
    return deadline is not None and deadline <= utcnow()


# -- writing outcomes --------------------------------------------------------------------------------------


def _owned_and_active(claim: Claim):
    return and_(
        Result.id == claim.result_id, Result.owner == claim.owner, Result.status == "running",
        Result.run_id.in_(select(Run.id).where(Run.id == claim.run_id, Run.status.in_(ACTIVE_RUN_STATUSES))),
    )


def _storable(value: Any) -> Any:
    """Drop NUL characters from every text of an outcome: page text may hold them, PostgreSQL cannot."""
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, dict):
        return {key: _storable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_storable(item) for item in value]
    return value


def _set_outcome(result_id: int, run_id: int, values: dict[str, Any], *, expect: str | None = None,
                 where=None) -> bool:
    """Write a row's outcome (conditionally) and count it on its run; return whether it was written."""
    condition = where if where is not None else and_(Result.id == result_id, Result.status == expect)
    values = {"lease_until": None, "finished_at": utcnow(), **_storable(values)}
    if db.session.execute(update(Result).where(condition).values(**values)).rowcount != 1:
        return False
    status = values["status"]
    counters = {status: getattr(Run, status) + 1}
    if values.get("flaky"):
        counters["flaky"] = Run.flaky + 1
    db.session.execute(update(Run).where(Run.id == run_id).values(**counters))
    return True


def record(claim: Claim, outcome: dict[str, Any]) -> bool:
    """Store a finished test's outcome while the row is still the worker's and the run still active, and
    end the run when it was the last; a late result is dropped (and logged), never counted."""
    fields = {k: v for k, v in outcome.items() if k not in ("test_id", "test_name", "position")}
    with write():
        lost = db.session.scalar(select(Result.attempts).where(Result.id == claim.result_id)) or []
        if lost:  # attempts lost with an earlier worker come first
            fields["attempts"] = [*lost, *(fields.get("attempts") or [])]
        written = _set_outcome(claim.result_id, claim.run_id, fields, where=_owned_and_active(claim))
        if written:
            end_if_done(claim.run_id)
    if not written:
        log.warning("RUN-%s test %s: its result came after the row was taken back or the run ended; dropped",
                    claim.run_id, claim.position)
    return written


def record_stopped(claim: Claim) -> bool:
    """The worker stopped the test because its run is stopping: skip it with the run's stop reason."""
    with write():
        reason = db.session.scalar(select(Run.stop_reason).where(Run.id == claim.run_id))
        written = _set_outcome(claim.result_id, claim.run_id,
                               {"status": "skipped", "skip_reason": STOP_SKIP_REASON.get(reason or "", "aborted")},
                               where=_owned_and_active(claim))
        if written:
            end_if_done(claim.run_id)
    return written


def release(claim: Claim, why: str = STOPPED) -> None:
    """Give a running row back (its worker stops: shutdown): re-queued once, or failed."""
    with write():
        row = db.session.execute(select(Result).where(_owned_and_active(claim)).with_for_update()).scalar_one_or_none()
        if row is not None:
            _requeue_or_fail(row, why)
            end_if_done(claim.run_id)


def _requeue_or_fail(row: Result, why: str) -> None:
    """A row whose worker is gone: re-queued (its lost attempt recorded) the first time, else failed."""
    lost = {"status": "lost", "error": f"Lost: {why}.", "failingStep": None, "durationMs": None}
    attempts = [*(row.attempts or []), lost]
    stop_reason = db.session.scalar(select(Run.stop_reason).where(Run.id == row.run_id))
    if stop_reason is not None:
        _set_outcome(row.id, row.run_id, {"status": "skipped", "skip_reason": STOP_SKIP_REASON.get(stop_reason),
                                          "attempts": attempts}, expect="running")
    elif row.claims < MAX_CLAIMS:
        db.session.execute(update(Result).where(Result.id == row.id, Result.status == "running")
                           .values(status="queued", owner=None, lease_until=None, attempts=attempts))
    else:
        error = f"The test could not finish: {why} (twice)."
        _set_outcome(row.id, row.run_id, {"status": "failed", "error": error, "attempts": attempts},
                     expect="running")


# -- stopping a run ----------------------------------------------------------------------------------------


def _stop(run_id: int, reason: str, error: str | None = None) -> bool:
    """Flag an active run as stopping and skip its queued rows; end it when nothing is running."""
    flagged = db.session.execute(
        update(Run).where(Run.id == run_id, Run.status.in_(ACTIVE_RUN_STATUSES), Run.stop_reason.is_(None))
        .values(stop_reason=reason, error=error)
    ).rowcount
    if not flagged:
        return False
    skipped = db.session.execute(
        update(Result).where(Result.run_id == run_id, Result.status == "queued")
        .values(status="skipped", skip_reason=STOP_SKIP_REASON[reason], finished_at=utcnow())
    ).rowcount
    if skipped:
        db.session.execute(update(Run).where(Run.id == run_id).values(skipped=Run.skipped + skipped))
    end_if_done(run_id)
    return True


def abort(run: Run) -> None:
    """Abort an active run: its queued tests are skipped now, its running ones stopped by their workers
    within seconds (or recovered when their worker is gone); the run then ends as aborted."""
    with write():
        if not _stop(run.id, "aborted"):
            raise Conflict(f"Run {run.public_id} has already ended ({run.status}).")


def fail(run_id: int, error: str) -> None:
    """The run cannot go on (no browser, a secret that cannot be read): stop it; it ends as failed."""
    with write():
        _stop(run_id, "failed", error)


# -- ending a run ------------------------------------------------------------------------------------------


def end_if_done(run_id: int) -> bool:
    """End the run when none of its rows is queued or running (in the caller's transaction)."""
    pending = db.session.scalar(
        select(func.count(Result.id)).where(Result.run_id == run_id, Result.status.in_(("queued", "running")))
    )
    return not pending and end(run_id)


def end(run_id: int) -> bool:
    """Put an active run in its terminal state (releasing the project's lock), evaluate its gates and
    budgets and refresh its tests' flaky scores, in the caller's transaction; what follows an end fires
    after the commit (hooks.py). Return False when the run had already ended."""
    stop_reason = db.session.scalar(select(Run.stop_reason).where(Run.id == run_id))
    status = {"aborted": "aborted", "failed": "failed"}.get(stop_reason or "", "completed")
    changed = db.session.execute(
        update(Run).where(Run.id == run_id, Run.status.in_(ACTIVE_RUN_STATUSES))
        .values(status=status, finished_at=utcnow(), notify_state="pending")
    ).rowcount
    if not changed:
        return False
    run = db.session.get(Run, run_id, populate_existing=True)
    project = db.session.get(Project, run.project_id)
    run.gate_result = gates.evaluate_gates(project.quality_gates, passed=run.passed, failed=run.failed,
                                           flaky=run.flaky)
    run.vitals_result = vitals.evaluate_budgets(project.vitals_budgets, vitals_pages(run))
    db.session.flush()
    history.update_flaky_scores(run_id)
    hooks.ended_in_transaction(run_id)
    return True


def vitals_pages(run: Run) -> list[dict[str, Any]]:
    """Return one row per page any test of the run visited, with the test it belongs to."""
    return [
        {"testId": TestCase.format_id(result.test_id), "testName": result.test_name, **page}
        for result in db.session.scalars(select(Result).where(Result.run_id == run.id).order_by(Result.position))
        for page in (result.vitals or [])
    ]


# -- recovery ----------------------------------------------------------------------------------------------


def recover() -> list[int]:
    """What any process does periodically: recover rows whose lease ran out (their worker or process is
    gone), skip the queued tests of runs past their budget, and end active runs with nothing left.
    Return the ids of the runs it touched."""
    now = utcnow()
    touched: set[int] = set()
    expired_query = (select(Result).where(Result.status == "running", Result.lease_until < now)
                     .order_by(Result.id).limit(100))
    if db.session.scalar(select(Result.id).where(Result.status == "running", Result.lease_until < now).limit(1)):
        with write():
            if db.session.get_bind().dialect.name == "postgresql":
                expired_query = expired_query.with_for_update(skip_locked=True)
            for row in db.session.scalars(expired_query).all():
                log.warning("RUN-%s test %s: the lease of %s ran out; recovering the test", row.run_id,
                            row.position, row.owner)
                _requeue_or_fail(row, LOST)
                touched.add(row.run_id)
            for run_id in touched:
                end_if_done(run_id)
    over_budget = list(db.session.scalars(
        select(Run.id).where(Run.status.in_(ACTIVE_RUN_STATUSES), Run.deadline <= now,
                             exists().where(Result.run_id == Run.id, Result.status == "queued"))
    ))
    stranded = list(db.session.scalars(
        select(Run.id).where(Run.status.in_(ACTIVE_RUN_STATUSES),
                             ~exists().where(Result.run_id == Run.id, Result.status.in_(("queued", "running"))))
    ))
    db.session.commit()
    for run_id in over_budget:
        with write():
            skipped = db.session.execute(
                update(Result).where(Result.run_id == run_id, Result.status == "queued")
                .values(status="skipped", skip_reason="over_budget", finished_at=utcnow())
            ).rowcount
            db.session.execute(update(Run).where(Run.id == run_id).values(skipped=Run.skipped + skipped))
            end_if_done(run_id)
        touched.add(run_id)
    for run_id in stranded:
        with write():
            end_if_done(run_id)
        touched.add(run_id)
    return sorted(touched)
