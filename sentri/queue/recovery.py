"""What every process does every few seconds for the processes that died or stalled (the heartbeat): recover
the tests and crawls whose lease ran out, skip the tests of runs past their budget, end runs left with
nothing to do (records.recover, crawl_ends.recover), finish the runs whose end a dead process took
(ending.finish_stale), fire the ends nobody took (hooks.take_stale), send the alerts that are due
(notify/outbox.py) and start the schedules that are (schedules/firing.py).

Almost always there is nothing to do, and asking each part separately was eight reads (and their commits) every
two seconds, the most of what an idle process spent once it stopped polling (bench/idle_cpu.py). So
one read asks first whether any of it is due, with the same conditions the parts look for; only what is due
runs.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import bindparam, exists, or_, select

from ..crawl.models import ACTIVE_CRAWL_STATUSES, Crawl
from ..extensions import db
from ..models import ACTIVE_RUN_STATUSES, Result, Run, utcnow
from ..notify import outbox
from ..runtime.hooks import STALE_SECONDS, Hooks
from ..schedules.models import Schedule
from ..states import CrawlStatus, ResultStatus
from . import crawl_ends, ending, records


def _due_query():
    """Whether any recovery is due, and whether any run's end waits for someone to fire it (bind `now`, `cutoff`)."""
    now = bindparam("now")
    active = Run.status.in_(ACTIVE_RUN_STATUSES)
    expired = exists().where(Result.status == ResultStatus.RUNNING, Result.lease_until < now)
    over_budget = exists().where(
        active,
        Run.deadline <= now,
        exists().where(Result.run_id == Run.id, Result.status == ResultStatus.QUEUED),
    )
    stranded = exists().where(
        active,
        Run.notify_state.is_(None),
        ~exists().where(
            Result.run_id == Run.id, Result.status.in_((ResultStatus.QUEUED, ResultStatus.RUNNING))
        ),
        ~exists().where(Crawl.run_id == Run.id, Crawl.status.in_(ACTIVE_CRAWL_STATUSES)),
    )
    orphaned_crawl = exists().where(
        Crawl.status == CrawlStatus.QUEUED,
        exists().where(Run.id == Crawl.run_id, Run.status.not_in(ACTIVE_RUN_STATUSES)),
    )
    expired_crawl = exists().where(Crawl.status == CrawlStatus.RUNNING, Crawl.lease_until < now)
    unfinished = exists().where(Run.notify_state == "ending", Run.finished_at < bindparam("cutoff"))
    stale_end = exists().where(Run.notify_state == "pending", Run.finished_at < bindparam("cutoff"))
    alerts = outbox.anything_due(now)
    schedules = exists().where(Schedule.enabled.is_(True), Schedule.next_run_at <= now)
    return select(
        or_(expired, over_budget, stranded, orphaned_crawl, expired_crawl, unfinished),
        stale_end,
        alerts,
        schedules,
    )


_DUE = _due_query()  # built once: every process asks it every RECOVER_EVERY_SECONDS


def recover(hooks: Hooks, *, schedules_due: Callable[[], None] | None = None) -> list[int]:
    """Recover what is due, fire the ends nobody took and send the alerts that are due, and call
    `schedules_due` when a schedule is; one read says which, so an idle process pays for one query. Return
    the ids of the runs recovery touched."""
    now = utcnow()
    cutoff = now - timedelta(seconds=STALE_SECONDS)
    recovering, stale, alerts, schedules = db.session.execute(_DUE, {"now": now, "cutoff": cutoff}).one()
    db.session.commit()  # end the read snapshot at once
    touched = records.recover() + crawl_ends.recover() + ending.finish_stale(cutoff) if recovering else []
    if stale:
        hooks.take_stale()
    if alerts:
        hooks.notifications.pump(now)
    if schedules and schedules_due is not None:
        schedules_due()
    return touched
