"""Spreading a run over the processes that have room.

A worker that finishes a test records it and would claim the run's next test at once, long before any other
process could: a run whose parallelWorkers fit in the slots of the process that started it stayed there,
however idle the others were. So a worker that has just finished a test first asks whether to leave the
next one to another process: yes when its process already holds its share of the run (parallelWorkers over
the live processes, rounded up), the run has a queued test, and another live process has a free slot (its
`slots` above the tests and crawls it holds). That process was notified when the test was recorded
(notices.py) and takes the test; the worker that stepped aside looks again a moment later, and takes it
itself when nobody did. A process never steps aside for its own share, so a run no larger than its share
is never moved, and one process alone never waits.
"""

from __future__ import annotations

import math
from datetime import timedelta

from sqlalchemy import BindParameter, bindparam, exists, func, select

from ..crawl.models import Crawl
from ..extensions import db
from ..models import Node, Result, Run, utcnow
from ..states import CrawlStatus, ResultStatus

_RUN: BindParameter[int] = bindparam("run_id")
_ME: BindParameter[str] = bindparam("me")
_ALIVE = Node.seen_at >= bindparam("alive_since")


def _leave_query():
    """One read: this process's running tests of the run, its parallelWorkers, the live processes with slots,
    whether it has a queued test, and whether another live process has a free slot."""
    mine = (
        select(func.count(Result.id))
        .where(Result.run_id == _RUN, Result.status == ResultStatus.RUNNING, Result.owner == _ME)
        .scalar_subquery()
    )
    parallel = select(Run.parallel).where(Run.id == _RUN).scalar_subquery()
    processes = select(func.count(Node.id)).where(_ALIVE, Node.slots > 0).scalar_subquery()
    queued = exists().where(Result.run_id == _RUN, Result.status == ResultStatus.QUEUED)
    held = (
        select(func.count(Result.id))
        .where(Result.status == ResultStatus.RUNNING, Result.owner == Node.id)
        .correlate(Node)
        .scalar_subquery()
        + select(func.count(Crawl.id))
        .where(Crawl.status == CrawlStatus.RUNNING, Crawl.owner == Node.id)
        .correlate(Node)
        .scalar_subquery()
    )
    room_elsewhere = exists().where(Node.id != _ME, _ALIVE, Node.slots > held)
    return select(mine, parallel, processes, queued, room_elsewhere)


_LEAVE = _leave_query()  # built once: asked after every test a process with peers finishes


def leave_next(owner: str, run_id: int, alive_seconds: float) -> bool:
    """Tell whether the worker of `owner` that just finished a test of `run_id` should leave the run's next
    test to another process with a free slot."""
    row = db.session.execute(
        _LEAVE, {"run_id": run_id, "me": owner, "alive_since": utcnow() - timedelta(seconds=alive_seconds)}
    ).one()
    db.session.commit()  # end the read snapshot at once
    mine, parallel, processes, queued, room_elsewhere = row
    if not (queued and room_elsewhere) or parallel is None:
        return False
    return mine >= math.ceil(parallel / max(1, processes))
