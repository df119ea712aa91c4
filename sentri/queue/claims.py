"""A run's tests in the hands of workers: claimed, leased, recorded, given back, recovered.

claim()     a worker in any process takes the first queued row of the oldest active run that has room
            under its parallelWorkers: SQLite serialises claimers with BEGIN IMMEDIATE, PostgreSQL locks
            the run's row with FOR UPDATE SKIP LOCKED. The row names its owner and holds a lease.
renew()     the owning process extends its leases; to_stop() says which of its rows must stop.
record()    the outcome is written only while the row is still the worker's and its run still active
            (a conditional UPDATE): a late result is dropped and logged, never counted. The transaction
            that records a run's last row ends the run (lifecycle.end).
release()   a row its worker gives back is re-queued: a stop hands it back ("handed back", as often as
            the process is stopped); a lost browser or a lease that ran out (its process died) is a "lost"
            attempt, re-queued once, then failed: "the worker running it stopped" (twice).
recover()   any process, periodically: rows whose lease ran out, runs past their budget's wall clock,
            and active runs with nothing left to do.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import and_, bindparam, exists, func, or_, select, update

from .. import metrics
from ..crawl.models import ACTIVE_CRAWL_STATUSES, Crawl
from ..database import write
from ..extensions import db
from ..models import ACTIVE_RUN_STATUSES, PENDING_RESULT_STATUSES, Result, Run, utcnow
from ..review import recording
from ..states import ResultStatus, RunStatus
from . import notices
from .lifecycle import STOP_SKIP_REASON, end_if_done
from .outcome import Attempt, Outcome, attempt

log = logging.getLogger(__name__)

LOST = "the worker running it stopped"
STOPPED = "the server running it was stopped"
HANDED_BACK = "handed back"  # an attempt a stopping process gave back: never counted against the test


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
    more: bool = False  # another test could be claimed right now (an idle worker should look)
    page_url: str | None = None  # a page check (crawl: true): the page it loads


# -- claiming ------------------------------------------------------------------------------------------


def _claimable():
    """The active runs with a queued test and room under their parallelWorkers, oldest first (bind `now`)."""
    running = (select(func.count(Result.id)).where(Result.run_id == Run.id, Result.status == ResultStatus.RUNNING)
               .correlate(Run).scalar_subquery())
    queued = exists().where(Result.run_id == Run.id, Result.status == ResultStatus.QUEUED)
    crawling = exists().where(Crawl.run_id == Run.id, Crawl.status.in_(ACTIVE_CRAWL_STATUSES))
    return (select(Run.id)
            .where(Run.status.in_(ACTIVE_RUN_STATUSES), Run.stop_reason.is_(None),
                   or_(Run.deadline.is_(None), Run.deadline > bindparam("now")), queued, ~crawling,
                   running < Run.parallel)
            .order_by(Run.id).limit(1))


# The claim path's statements, built once: a worker runs them for every test, and building them (operators,
# coercions, cache keys) was a third of the claim's CPU in a profile of a served run (bench/run_overhead.py).
_CLAIMABLE = _claimable()
_CLAIMABLE_LOCKED = _CLAIMABLE.with_for_update(of=Run, skip_locked=True)  # PostgreSQL: skip rows others hold
_FIRST_QUEUED = (select(Result.id, Result.test_id, Result.test_name, Result.position, Result.claims, Result.page_url)
                 .where(Result.run_id == bindparam("run_id"), Result.status == ResultStatus.QUEUED)
                 .order_by(Result.position).limit(1))
_TAKE = (update(Result).where(Result.id == bindparam("result_id"), Result.status == ResultStatus.QUEUED)
         .values(status=ResultStatus.RUNNING, owner=bindparam("new_owner"), lease_until=bindparam("new_lease"),
                 claims=Result.claims + 1, started_at=bindparam("now")))
_START_RUN = (update(Run).where(Run.id == bindparam("run_id"), Run.status == RunStatus.QUEUED)
              .values(status=RunStatus.RUNNING, started_at=bindparam("now")))


def has_work() -> bool:
    """Tell, with a plain read, whether a test could be claimed now (idle workers ask this before they
    take the write lock that claiming needs)."""
    found = db.session.scalar(_CLAIMABLE, {"now": utcnow()})
    db.session.commit()  # end the read snapshot at once
    return found is not None


def _next_run(now) -> int | None:
    """The oldest active run with a queued test and room under its parallelWorkers (locked on PostgreSQL)."""
    locked = db.session.get_bind().dialect.name == "postgresql"
    return db.session.scalar(_CLAIMABLE_LOCKED if locked else _CLAIMABLE, {"now": now})


def claim(owner: str, lease_seconds: float, *, slot: Callable[[], bool] | None = None) -> Claim | None:
    """Take the next queued test of any active run for `owner`, or return None when there is none.
    A test deleted since its run was planned is recorded as skipped (deleted) on the way. `slot` is called
    in the same transaction before the test is taken: when it says False (no browser server slot is free),
    nothing is taken."""
    started = time.perf_counter()
    try:
        return _claim(owner, lease_seconds, slot)
    finally:
        metrics.observe_claim(time.perf_counter() - started)


def _claim(owner: str, lease_seconds: float, slot: Callable[[], bool] | None) -> Claim | None:
    while True:
        with write():
            now = utcnow()
            run_id = _next_run(now)
            if run_id is None:
                return None
            row = db.session.execute(_FIRST_QUEUED, {"run_id": run_id}).first()
            if row is None:
                continue
            if row.test_id is None and row.page_url is None:  # deleted since planning (ON DELETE SET NULL)
                _set_outcome(row.id, run_id, {"status": ResultStatus.SKIPPED, "skip_reason": "deleted"},
                             expect=ResultStatus.QUEUED)
                end_if_done(run_id)
                continue
            if slot is not None and not slot():
                return None
            db.session.execute(_TAKE, {"result_id": row.id, "new_owner": owner, "now": now,
                                       "new_lease": now + timedelta(seconds=lease_seconds)})
            db.session.execute(_START_RUN, {"run_id": run_id, "now": now})
            more = db.session.scalar(_CLAIMABLE, {"now": now}) is not None  # worth waking another worker for
            return Claim(row.id, run_id, row.position, row.test_id, row.test_name, owner, row.claims + 1, more,
                         row.page_url)


# -- while running ---------------------------------------------------------------------------------------


def renew(owner: str, result_ids: list[int], lease_seconds: float) -> None:
    """Extend the leases of these rows, where they are still the owner's and running."""
    if not result_ids:
        return
    with write():
        db.session.execute(
            update(Result)
            .where(Result.id.in_(result_ids), Result.owner == owner, Result.status == ResultStatus.RUNNING)
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
        if row_owner != owner or status != ResultStatus.RUNNING or run_status not in ACTIVE_RUN_STATUSES:
            verdicts[result_id] = "lost"
        elif stop_reason is not None:
            verdicts[result_id] = "stop"
    for missing in set(result_ids) - {row[0] for row in rows}:
        verdicts[missing] = "lost"  # its run (and project) were deleted
    return verdicts


# -- writing outcomes --------------------------------------------------------------------------------------


def _owned_and_active(claim: Claim):
    return and_(
        Result.id == claim.result_id, Result.owner == claim.owner, Result.status == ResultStatus.RUNNING,
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
    written = db.session.execute(update(Result).where(condition).values(**values).returning(Result.quarantined)).all()
    if len(written) != 1:
        return False
    status = values["status"]
    if written[0].quarantined and status != ResultStatus.SKIPPED:
        # Run and reported, never counted toward passed / failed / flaky, the gates or the verdict.
        counters = {"quarantined": Run.quarantined + 1}
    else:
        counters = {status: getattr(Run, status) + 1}
        if values.get("flaky"):
            counters["flaky"] = Run.flaky + 1
    db.session.execute(update(Run).where(Run.id == run_id).values(**counters))
    return True


def record(claim: Claim, outcome: Outcome) -> bool:
    """Store a finished test's outcome while the row is still the worker's and the run still active, and
    end the run when it was the last; a late result is dropped (and logged), never counted."""
    fields = {k: v for k, v in outcome.items() if k not in ("test_id", "test_name", "position", "hints")}
    with write():
        lost = db.session.scalar(select(Result.attempts).where(Result.id == claim.result_id)) or []
        if lost:  # attempts lost with an earlier worker come first
            fields["attempts"] = [*lost, *(fields.get("attempts") or [])]
        written = _set_outcome(claim.result_id, claim.run_id, fields, where=_owned_and_active(claim))
        # A failure counts too: it withdraws the test's heal proposals (review/recording.py).
        review = (fields.get("snapshots") or fields.get("healed") or outcome.get("hints")
                  or fields["status"] == ResultStatus.FAILED)
        if written and claim.test_id and review:
            _for_review(claim, fields, outcome.get("hints"))
        if written and not end_if_done(claim.run_id):
            notices.work_ready(claim.run_id)  # its place in the run is free: an idle process may take the next
    if not written:
        log.warning("RUN-%s test %s: its result came after the row was taken back or the run ended; dropped",
                    claim.run_id, claim.position)
    elif fields.get("duration_ms") is not None:  # a test skipped unrun (deleted) took no time worth counting
        metrics.observe_test(fields["status"], fields["duration_ms"] / 1000)
    return written


def _for_review(claim: Claim, fields: dict[str, Any], hints: dict | None) -> None:
    """Baselines, heal proposals and hints from the result just written; the row learns their ids."""
    snapshots, healed = _storable(fields.get("snapshots")), _storable(fields.get("healed"))
    if recording.record(claim.run_id, claim.test_id, fields["status"], snapshots, healed, _storable(hints)):
        db.session.execute(update(Result).where(Result.id == claim.result_id)
                           .values(snapshots=snapshots, healed=healed))


def record_stopped(claim: Claim) -> bool:
    """The worker stopped the test because its run is stopping: skip it with the run's stop reason."""
    with write():
        reason = db.session.scalar(select(Run.stop_reason).where(Run.id == claim.run_id))
        written = _set_outcome(claim.result_id, claim.run_id,
                               {"status": ResultStatus.SKIPPED,
                                "skip_reason": STOP_SKIP_REASON.get(reason or "", "aborted")},
                               where=_owned_and_active(claim))
        if written:
            end_if_done(claim.run_id)
    return written


def release(claim: Claim, why: str = STOPPED, *, lost: bool = False, attempts: list[Attempt] | None = None,
            where: str | None = None) -> None:
    """Give a running row back: its process stops (handed back, re-queued however often that happens), or
    with `lost` its browser was lost under it (re-queued once, then failed). `attempts`: what it did before
    the one given back; `where`: the browser server it was on."""
    with write():
        row = db.session.execute(select(Result).where(_owned_and_active(claim)).with_for_update()).scalar_one_or_none()
        if row is not None:
            _requeue_or_fail(row, why, counts=lost, attempts=attempts, where=where)
            end_if_done(claim.run_id)


def _requeue_or_fail(row: Result, why: str, *, counts: bool = True, attempts: list[Attempt] | None = None,
                     where: str | None = None) -> None:
    """A row whose worker gave it back or is gone: re-queued, its last attempt recorded as handed back or
    lost; a second loss fails it."""
    status = "lost" if counts else HANDED_BACK
    last = attempt(status, f"{'Lost' if counts else 'Handed back'}: {why}.")
    if where:
        last["browserServer"] = where
    earlier = row.attempts or []
    attempts = [*earlier, *(attempts or []), last]
    stop_reason = db.session.scalar(select(Run.stop_reason).where(Run.id == row.run_id))
    if stop_reason is not None:
        _set_outcome(row.id, row.run_id, {"status": ResultStatus.SKIPPED,
                                          "skip_reason": STOP_SKIP_REASON.get(stop_reason), "attempts": attempts},
                     expect=ResultStatus.RUNNING)
    elif not counts or not any(attempt.get("status") == "lost" for attempt in earlier):
        db.session.execute(update(Result).where(Result.id == row.id, Result.status == ResultStatus.RUNNING)
                           .values(status=ResultStatus.QUEUED, owner=None, lease_until=None, attempts=attempts))
        notices.work_ready()
    else:
        error = f"The test could not finish: {why} (twice)."
        _set_outcome(row.id, row.run_id, {"status": ResultStatus.FAILED, "error": error, "attempts": attempts},
                     expect=ResultStatus.RUNNING)


# -- recovery ----------------------------------------------------------------------------------------------


def recover() -> list[int]:
    """What any process does periodically: recover rows whose lease ran out (their worker or process is
    gone), skip the queued tests of runs past their budget, and end active runs with nothing left.
    Return the ids of the runs it touched."""
    now = utcnow()
    touched: set[int] = set()
    expired = (Result.status == ResultStatus.RUNNING, Result.lease_until < now)
    expired_query = select(Result).where(*expired).order_by(Result.id).limit(100)
    if db.session.scalar(select(Result.id).where(*expired).limit(1)):
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
                             exists().where(Result.run_id == Run.id, Result.status == ResultStatus.QUEUED))
    ))
    stranded = list(db.session.scalars(
        select(Run.id).where(Run.status.in_(ACTIVE_RUN_STATUSES),
                             ~exists().where(Result.run_id == Run.id, Result.status.in_(PENDING_RESULT_STATUSES)),
                             ~exists().where(Crawl.run_id == Run.id, Crawl.status.in_(ACTIVE_CRAWL_STATUSES)))
    ))
    db.session.commit()
    for run_id in over_budget:
        with write():
            skipped = db.session.execute(
                update(Result).where(Result.run_id == run_id, Result.status == ResultStatus.QUEUED)
                .values(status=ResultStatus.SKIPPED, skip_reason="over_budget", finished_at=utcnow())
            ).rowcount
            db.session.execute(update(Run).where(Run.id == run_id).values(skipped=Run.skipped + skipped))
            end_if_done(run_id)
        touched.add(run_id)
    for run_id in stranded:
        with write():
            end_if_done(run_id)
        touched.add(run_id)
    return sorted(touched)
