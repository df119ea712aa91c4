"""Telling every process that serves the database that work may be claimable, so that idle ones need not
poll for it.

On PostgreSQL, a NOTIFY on one channel sent in the transaction that makes the work claimable: PostgreSQL
delivers it to every listening session when that transaction commits, after the rows are visible, and
never when it rolls back. Each serving process listens on a connection of its own (worker/listener.py) and
wakes its idle workers, which then look with their usual read. The payload is empty: notices of one
transaction are folded into one, and a listener only needs to know that it should look.

SQLite serves one process, which wakes its own workers (engine.wake): nothing is sent there.
"""

from __future__ import annotations

from sqlalchemy import bindparam, exists, func, select

from ..extensions import db
from ..models import Result
from ..states import ResultStatus

CHANNEL = "sentri_work"

_ANY = select(func.pg_notify(CHANNEL, ""))
# After a test ends its run has room for one more: worth a notice only while the run has queued tests.
_IF_QUEUED = _ANY.where(
    exists().where(Result.run_id == bindparam("run_id"), Result.status == ResultStatus.QUEUED)
)


def work_ready(run_id: int | None = None) -> None:
    """Announce, in the caller's transaction, that a test or crawl may be claimable once it commits; with
    `run_id`, only if that run still has a queued test."""
    if db.session.get_bind().dialect.name != "postgresql":
        return
    if run_id is None:
        db.session.execute(_ANY)
    else:
        db.session.execute(_IF_QUEUED, {"run_id": run_id})
