"""A run's tests in the hands of workers: claimed, leased, recorded, given back, recovered.

claim()     a worker in any process takes the first queued row of the oldest active run that has room
            under its parallelWorkers: SQLite serialises claimers with BEGIN IMMEDIATE, PostgreSQL locks
            the run's row with FOR UPDATE SKIP LOCKED. The row names its owner and holds a lease.
renew()     the owning process extends its leases; to_stop() says which of its rows must stop.
records.py  what the worker hands back: record() the outcome, release() a row given back, recover() rows
            whose lease ran out.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import bindparam, exists, func, or_, select, update

from .. import metrics
from ..crawl.models import ACTIVE_CRAWL_STATUSES, Crawl
from ..database import write
from ..extensions import db
from ..models import ACTIVE_RUN_STATUSES, Result, Run, utcnow
from ..states import ResultStatus, RunStatus
from .ending import end_if_done
from .records import _set_outcome

log = logging.getLogger(__name__)


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
    running = (
        select(func.count(Result.id))
        .where(Result.run_id == Run.id, Result.status == ResultStatus.RUNNING)
        .correlate(Run)
        .scalar_subquery()
    )
    queued = exists().where(Result.run_id == Run.id, Result.status == ResultStatus.QUEUED)
    crawling = exists().where(Crawl.run_id == Run.id, Crawl.status.in_(ACTIVE_CRAWL_STATUSES))
    return (
        select(Run.id)
        .where(
            Run.status.in_(ACTIVE_RUN_STATUSES),
            Run.stop_reason.is_(None),
            or_(Run.deadline.is_(None), Run.deadline > bindparam("now")),
            queued,
            ~crawling,
            running < Run.parallel,
        )
        .order_by(Run.id)
        .limit(1)
    )


# The claim path's statements, built once: a worker runs them for every test, and building them (operators,
# coercions, cache keys) was a third of the claim's CPU in a profile of a served run (bench/run_overhead.py).
_CLAIMABLE = _claimable()
_CLAIMABLE_LOCKED = _CLAIMABLE.with_for_update(of=Run, skip_locked=True)  # PostgreSQL: skip rows others hold
_FIRST_QUEUED = (
    select(Result.id, Result.test_id, Result.test_name, Result.position, Result.claims, Result.page_url)
    .where(Result.run_id == bindparam("run_id"), Result.status == ResultStatus.QUEUED)
    .order_by(Result.position)
    .limit(1)
)
_TAKE = (
    update(Result)
    .where(Result.id == bindparam("result_id"), Result.status == ResultStatus.QUEUED)
    .values(
        status=ResultStatus.RUNNING,
        owner=bindparam("new_owner"),
        lease_until=bindparam("new_lease"),
        claims=Result.claims + 1,
        started_at=bindparam("now"),
    )
)
_START_RUN = (
    update(Run)
    .where(Run.id == bindparam("run_id"), Run.status == RunStatus.QUEUED)
    .values(status=RunStatus.RUNNING, started_at=bindparam("now"))
)


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
                _set_outcome(
                    row.id,
                    run_id,
                    {"status": ResultStatus.SKIPPED, "skip_reason": "deleted"},
                    expect=ResultStatus.QUEUED,
                )
                end_if_done(run_id)
                continue
            if slot is not None and not slot():
                return None
            db.session.execute(
                _TAKE,
                {
                    "result_id": row.id,
                    "new_owner": owner,
                    "now": now,
                    "new_lease": now + timedelta(seconds=lease_seconds),
                },
            )
            db.session.execute(_START_RUN, {"run_id": run_id, "now": now})
            more = db.session.scalar(_CLAIMABLE, {"now": now}) is not None  # worth waking another worker for
            return Claim(
                row.id,
                run_id,
                row.position,
                row.test_id,
                row.test_name,
                owner,
                row.claims + 1,
                more,
                row.page_url,
            )


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
        .join(Run, Run.id == Result.run_id)
        .where(Result.id.in_(result_ids))
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


# -- recovery ----------------------------------------------------------------------------------------------
