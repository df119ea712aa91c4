"""What a worker hands back to the queue (claims.py hands the rows out), written only while the row is still
its own.

record()    the outcome is written only while the row is still the worker's and its run still active
            (a conditional UPDATE): a late result is dropped and logged, never counted. The transaction
            that records a run's last row ends the run (ending.end).
release()   a row its worker gives back is re-queued: a stop hands it back ("handed back", as often as
            the process is stopped); a lost browser or a lease that ran out (its process died) is a "lost"
            attempt, re-queued once, then failed: "the worker running it stopped" (twice).
recover()   any process, periodically: rows whose lease ran out, runs past their budget's wall clock,
            and active runs with nothing left to do.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, exists, select, update

from .. import metrics
from ..crawl.models import ACTIVE_CRAWL_STATUSES, Crawl
from ..database import changed, write
from ..extensions import db
from ..models import ACTIVE_RUN_STATUSES, PENDING_RESULT_STATUSES, Result, Run, utcnow
from ..review import recording
from ..states import ResultStatus
from . import notices
from .ending import end_if_done
from .lifecycle import STOP_SKIP_REASON
from .outcome import Attempt, Outcome, attempt

if TYPE_CHECKING:
    from .claims import Claim

log = logging.getLogger(__name__)

LOST = "the worker running it stopped"
STOPPED = "the server running it was stopped"
HANDED_BACK = "handed back"  # an attempt a stopping process gave back: never counted against the test


def _owned_and_active(claim: Claim):
    return and_(
        Result.id == claim.result_id,
        Result.owner == claim.owner,
        Result.status == ResultStatus.RUNNING,
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


def _set_outcome(
    result_id: int, run_id: int, values: dict[str, Any], *, expect: str | None = None, where=None
) -> bool:
    """Write a row's outcome (conditionally) and count it on its run; return whether it was written."""
    condition = where if where is not None else and_(Result.id == result_id, Result.status == expect)
    values = {"lease_until": None, "finished_at": utcnow(), **_storable(values)}
    written = db.session.execute(
        update(Result).where(condition).values(**values).returning(Result.quarantined)
    ).all()
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
    fields: dict[str, Any] = {
        k: v for k, v in outcome.items() if k not in ("test_id", "test_name", "position", "hints")
    }
    with write():
        lost: list[Any] = db.session.scalar(select(Result.attempts).where(Result.id == claim.result_id)) or []
        if lost:  # attempts lost with an earlier worker come first
            fields["attempts"] = [*lost, *(fields.get("attempts") or [])]
        written = _set_outcome(claim.result_id, claim.run_id, fields, where=_owned_and_active(claim))
        # A failure counts too: it withdraws the test's heal proposals (review/recording.py).
        review = (
            fields.get("snapshots")
            or fields.get("healed")
            or outcome.get("hints")
            or fields["status"] == ResultStatus.FAILED
        )
        if written and claim.test_id and review:
            _for_review(claim, fields, outcome.get("hints"))
        if written and not end_if_done(claim.run_id):
            notices.work_ready(
                claim.run_id
            )  # its place in the run is free: an idle process may take the next
    if not written:
        log.warning(
            "RUN-%s test %s: its result came after the row was taken back or the run ended; dropped",
            claim.run_id,
            claim.position,
        )
    elif fields.get("duration_ms") is not None:  # a test skipped unrun (deleted) took no time worth counting
        metrics.observe_test(fields["status"], fields["duration_ms"] / 1000)
    return written


def _for_review(claim: Claim, fields: dict[str, Any], hints: dict | None) -> None:
    """Baselines, heal proposals and hints from the result just written; the row learns their ids."""
    assert claim.test_id is not None  # record() asks only for a test's row
    snapshots, healed = _storable(fields.get("snapshots")), _storable(fields.get("healed"))
    if recording.record(claim.run_id, claim.test_id, fields["status"], snapshots, healed, _storable(hints)):
        db.session.execute(
            update(Result).where(Result.id == claim.result_id).values(snapshots=snapshots, healed=healed)
        )


def record_stopped(claim: Claim) -> bool:
    """The worker stopped the test because its run is stopping: skip it with the run's stop reason."""
    with write():
        reason = db.session.scalar(select(Run.stop_reason).where(Run.id == claim.run_id))
        written = _set_outcome(
            claim.result_id,
            claim.run_id,
            {"status": ResultStatus.SKIPPED, "skip_reason": STOP_SKIP_REASON.get(reason or "", "aborted")},
            where=_owned_and_active(claim),
        )
        if written:
            end_if_done(claim.run_id)
    return written


def release(
    claim: Claim,
    why: str = STOPPED,
    *,
    lost: bool = False,
    attempts: list[Attempt] | None = None,
    where: str | None = None,
) -> None:
    """Give a running row back: its process stops (handed back, re-queued however often that happens), or
    with `lost` its browser was lost under it (re-queued once, then failed). `attempts`: what it did before
    the one given back; `where`: the browser server it was on."""
    with write():
        row = db.session.execute(
            select(Result).where(_owned_and_active(claim)).with_for_update()
        ).scalar_one_or_none()
        if row is not None:
            _requeue_or_fail(row, why, counts=lost, attempts=attempts, where=where)
            end_if_done(claim.run_id)


def _requeue_or_fail(
    row: Result,
    why: str,
    *,
    counts: bool = True,
    attempts: list[Attempt] | None = None,
    where: str | None = None,
) -> None:
    """A row whose worker gave it back or is gone: re-queued, its last attempt recorded as handed back or
    lost; a second loss fails it."""
    status = "lost" if counts else HANDED_BACK
    last = attempt(status, f"{'Lost' if counts else 'Handed back'}: {why}.")
    if where:
        last["browserServer"] = where
    earlier: list[Any] = row.attempts or []
    attempts = [*earlier, *(attempts or []), last]
    stop_reason = db.session.scalar(select(Run.stop_reason).where(Run.id == row.run_id))
    if stop_reason is not None:
        _set_outcome(
            row.id,
            row.run_id,
            {
                "status": ResultStatus.SKIPPED,
                "skip_reason": STOP_SKIP_REASON.get(stop_reason),
                "attempts": attempts,
            },
            expect=ResultStatus.RUNNING,
        )
    elif not counts or not any(attempt.get("status") == "lost" for attempt in earlier):
        db.session.execute(
            update(Result)
            .where(Result.id == row.id, Result.status == ResultStatus.RUNNING)
            .values(status=ResultStatus.QUEUED, owner=None, lease_until=None, attempts=attempts)
        )
        notices.work_ready()
    else:
        error = f"The test could not finish: {why} (twice)."
        _set_outcome(
            row.id,
            row.run_id,
            {"status": ResultStatus.FAILED, "error": error, "attempts": attempts},
            expect=ResultStatus.RUNNING,
        )


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
                log.warning(
                    "RUN-%s test %s: the lease of %s ran out; recovering the test",
                    row.run_id,
                    row.position,
                    row.owner,
                )
                _requeue_or_fail(row, LOST)
                touched.add(row.run_id)
            for run_id in touched:
                end_if_done(run_id)
    over_budget = list(
        db.session.scalars(
            select(Run.id).where(
                Run.status.in_(ACTIVE_RUN_STATUSES),
                Run.deadline <= now,
                exists().where(Result.run_id == Run.id, Result.status == ResultStatus.QUEUED),
            )
        )
    )
    stranded = list(
        db.session.scalars(
            select(Run.id).where(
                Run.status.in_(ACTIVE_RUN_STATUSES),
                ~exists().where(Result.run_id == Run.id, Result.status.in_(PENDING_RESULT_STATUSES)),
                ~exists().where(Crawl.run_id == Run.id, Crawl.status.in_(ACTIVE_CRAWL_STATUSES)),
            )
        )
    )
    db.session.commit()
    for run_id in over_budget:
        with write():
            skipped = changed(
                update(Result)
                .where(Result.run_id == run_id, Result.status == ResultStatus.QUEUED)
                .values(status=ResultStatus.SKIPPED, skip_reason="over_budget", finished_at=utcnow())
            )
            db.session.execute(update(Run).where(Run.id == run_id).values(skipped=Run.skipped + skipped))
            end_if_done(run_id)
        touched.add(run_id)
    for run_id in stranded:
        with write():
            end_if_done(run_id)
        touched.add(run_id)
    return sorted(touched)
