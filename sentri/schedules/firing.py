"""Firing due schedules, exactly once across every process serving the database.

Every few seconds each process's heartbeat calls fire_due(now): a plain read finds the enabled schedules
whose next time has come, and each is fired by a claim on its row, the discipline test rows follow
(queue/claims.py): a conditional UPDATE on the next time that was read (`next_run_at = :seen`) moves it to
the first time after `now`. Only one transaction can make that change; the others find it made and do
nothing. The claim is made inside the transaction that creates the run (lifecycle.start's
`in_transaction`), so the run exists exactly when the occurrence is claimed: a process dying in between
leaves neither. The next time is computed from `now`, not from the occurrence: a process that was down
when a schedule was due fires it once when it comes back, never a burst of the missed ones.

An occurrence that cannot start a run is still claimed, with why, in the schedule's `lastSkip`: the
project+browser+device already has an active run (busy: skipped, not queued), or the schedule's options
no longer hold (invalid: a suite or environment deleted since, no approved tests).
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select, update

from ..config import public_url
from ..database import write
from ..errors import Conflict, SentriError
from ..extensions import db
from ..models import Project, Run, isoformat
from ..runs.launch import launch
from ..runs.options import parse_options
from ..settings import settings
from . import cron
from .models import Schedule

log = logging.getLogger(__name__)
BATCH = 20  # due schedules fired per look; more wait for the next look, seconds later


class Superseded(Exception):
    """Another transaction claimed this occurrence first (or the schedule changed since it was read)."""


def fire_due(now: datetime) -> list[int]:
    """Fire every schedule due at `now` that no other process fires first; return the ids of the runs
    started. `now` is the caller's clock: tests pass the instants they mean."""
    due = db.session.execute(
        select(Schedule.id, Schedule.next_run_at)
        .where(Schedule.enabled.is_(True), Schedule.next_run_at.is_not(None), Schedule.next_run_at <= now)
        .order_by(Schedule.next_run_at, Schedule.id)
        .limit(BATCH)
    ).all()
    db.session.commit()  # end the read snapshot: each firing is its own transaction
    started = []
    for schedule_id, seen in due:
        try:
            run_id = fire(schedule_id, seen, now)
        except Exception:  # one schedule's trouble must not keep the others from firing
            log.exception("SCH-%s could not be fired", schedule_id)
            db.session.rollback()
            continue
        if run_id is not None:
            started.append(run_id)
    return started


def fire(schedule_id: int, seen: datetime, now: datetime) -> int | None:
    """Fire one occurrence of a schedule whose next time was `seen`: start its run and claim the occurrence
    in one transaction, or claim it as skipped with why. Return the run's id, or None."""
    schedule = db.session.get(Schedule, schedule_id, populate_existing=True)
    if schedule is None or schedule.next_run_at != seen or not schedule.enabled:
        db.session.commit()
        return None
    project = db.session.get(Project, schedule.project_id)
    following = cron.next_after(schedule.cron, schedule.timezone, now)
    claimed = _claimed(schedule_id, seen)

    def claim(run: Run) -> None:
        won = db.session.execute(
            update(Schedule).where(claimed).values(next_run_at=following, last_run_at=now, last_run_id=run.id)
        ).rowcount
        if not won:
            raise Superseded

    try:
        options = parse_options(schedule.options or {})
        options.extra["publicUrl"] = schedule.public_url or public_url(settings())
        options.extra["schedule"] = {"id": schedule.public_id, "name": schedule.name}
        run = launch(
            project, options, source="schedule", triggered_by=schedule.public_id, in_transaction=claim
        )
    except Superseded:
        return None
    except Conflict as exc:
        _skip(schedule, seen, following, now, "busy", exc.message, exc.extra.get("runId"))
        return None
    except SentriError as exc:
        _skip(schedule, seen, following, now, "invalid", exc.message)
        return None
    log.info(
        "%s (%s) fired %s; next at %s",
        schedule.public_id,
        schedule.name,
        run.public_id,
        isoformat(following) or "never",
    )
    return run.id


def _claimed(schedule_id: int, seen: datetime):
    return (Schedule.id == schedule_id) & (Schedule.next_run_at == seen) & Schedule.enabled.is_(True)


def _skip(
    schedule: Schedule,
    seen: datetime,
    following: datetime | None,
    now: datetime,
    reason: str,
    message: str,
    run_id: str | None = None,
) -> None:
    """Claim an occurrence that started no run, saying why on the schedule (only the claim's winner does)."""
    public_id = schedule.public_id
    record = {"at": isoformat(now), "reason": reason, "message": message, "runId": run_id}
    with write():
        won = db.session.execute(
            update(Schedule)
            .where(_claimed(schedule.id, seen))
            .values(next_run_at=following, last_skip=record)
        ).rowcount
    if won:
        log.info("%s skipped its run at %s (%s): %s", public_id, isoformat(now), reason, message)
