"""The notification outbox: which channels hear of a run's end, and each message's delivery, once.

enqueue()   in the transaction that takes a run's end (hooks.py: the one process that wins it), one row per
            channel that wants this end: `failed` when the run's verdict is failed and the previous run
            of the same source was not (none counts as not), `recovered` when it passes after one that
            failed, `every` for any end. The source is the schedule, or the trigger token (or user) and
            branch, on the same browser and device; an aborted run says nothing of the tests and is
            neither. A unique (run, channel) key makes a second row impossible.
due()       the rows any process may send now: pending or retrying ones whose time has come, and ones
            whose sender's lease ran out (it died mid-send).
attempt()   claims a row (a conditional UPDATE: one process wins), sends outside any transaction, then
            records the outcome: delivered; retrying later, with back-off, while attempts are left and
            the failure may pass; or failed. The run (`integrations.notifications`) and the channel
            (`lastDelivery`, `lastError`) say how it went.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from flask import Flask
from sqlalchemy import and_, exists, or_, select, update

from ..database import write
from ..extensions import db
from ..models import Project, Run, isoformat, utcnow
from ..reports.serialize import verdict
from ..states import RunStatus
from ..vault import SecretUnreadable
from . import deliver
from .channels import target_of
from .models import NotificationChannel, NotificationDelivery
from .summary import sample, summarize

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 5
BACKOFF_SECONDS = (30, 120, 600, 1800)  # after the 1st, 2nd, 3rd and 4th failed attempt
LEASE_SECONDS = 60.0  # well past an attempt's deadline: a lease that runs out means its sender is gone
DUE_BATCH = 50


# -- which channels hear of an end ---------------------------------------------------------------------


def _previous(run: Run) -> Run | None:
    """The last run before this one from the same source (that says something of its tests)."""
    branch = Run.branch.is_(None) if run.branch is None else Run.branch == run.branch
    return db.session.scalar(
        select(Run)
        .where(
            Run.project_id == run.project_id,
            Run.id < run.id,
            Run.triggered_by == run.triggered_by,
            Run.trigger_source == run.trigger_source,
            branch,
            Run.browser == run.browser,
            Run.device == run.device,
            Run.status.in_((RunStatus.COMPLETED, RunStatus.FAILED)),
        )
        .order_by(Run.id.desc())
        .limit(1)
    )


def transition(run: Run) -> str | None:
    """`failed` (it fails, the one before did not), `recovered` (it passes, the one before failed) or None."""
    if run.status == RunStatus.ABORTED:
        return None
    before = _previous(run)
    failed_before = before is not None and verdict(before) == "failed"
    if verdict(run) == "failed":
        return None if failed_before else "failed"
    return "recovered" if failed_before else None


def enqueue(run_id: int) -> list[int]:
    """Queue the messages about this run's end, in the caller's transaction; return their ids."""
    run = db.session.get(Run, run_id)
    channels = (
        list(
            db.session.scalars(
                select(NotificationChannel)
                .where(
                    NotificationChannel.project_id == run.project_id, NotificationChannel.enabled.is_(True)
                )
                .order_by(NotificationChannel.id)
            )
        )
        if run is not None
        else []
    )
    if not channels:
        return []
    change = transition(run)
    now = utcnow()
    rows = []
    for channel in channels:
        event = (
            change
            if change in (channel.events or [])
            else "every"
            if "every" in (channel.events or [])
            else None
        )
        if event is not None:
            rows.append(
                NotificationDelivery(
                    run_id=run_id,
                    channel_id=channel.id,
                    event=event,
                    state="pending",
                    attempts=0,
                    next_attempt_at=now,
                    created_at=now,
                )
            )
    if not rows:  # nobody is told: the run's integrations say nothing of notifications
        return []
    db.session.add_all(rows)
    db.session.flush()
    names = {c.id: c for c in channels}
    _mirror(run, [_entry(row, names[row.channel_id]) for row in rows])
    return [row.id for row in rows]


def _entry(row: NotificationDelivery, channel: NotificationChannel) -> dict[str, Any]:
    return {
        "channelId": channel.public_id,
        "name": channel.name,
        "kind": channel.kind,
        "event": row.event,
        "state": row.state,
        "attempts": row.attempts,
        "status": row.last_status,
        "lastError": row.last_error,
        "nextAttemptAt": isoformat(row.next_attempt_at) if row.state in ("pending", "retrying") else None,
        "deliveredAt": isoformat(row.delivered_at),
    }


def _mirror(run: Run, entries: list[dict[str, Any]]) -> None:
    """Write these delivery states into the run's integrations (the status body shows them), replacing each
    channel's earlier entry. The caller holds the run's row (hooks' take, or the lock record() takes)."""
    integrations = dict(run.integrations or {})
    kept = {e["channelId"]: e for e in integrations.get("notifications", [])}
    kept.update({e["channelId"]: e for e in entries})
    integrations["notifications"] = list(kept.values())
    run.integrations = integrations


# -- sending -------------------------------------------------------------------------------------------


def _due(now):
    """Which deliveries may be attempted at `now` (a datetime, or a bound parameter)."""
    return or_(
        and_(
            NotificationDelivery.state.in_(("pending", "retrying")),
            NotificationDelivery.next_attempt_at <= now,
        ),
        and_(NotificationDelivery.state == "sending", NotificationDelivery.lease_until < now),
    )


def anything_due(now):
    """An EXISTS that says whether any delivery may be attempted at `now` (recovery asks it with its own)."""
    return exists().where(_due(now))


def due(now: datetime, limit: int = DUE_BATCH) -> list[int]:
    """The deliveries any process may attempt at `now` (a plain read)."""
    found = list(
        db.session.scalars(
            select(NotificationDelivery.id).where(_due(now)).order_by(NotificationDelivery.id).limit(limit)
        )
    )
    db.session.commit()
    return found


def attempt(app: Flask, delivery_id: int, owner: str, now: datetime | None = None) -> deliver.Outcome | None:
    """Claim a due delivery for `owner`, send it, record how it went; None when it was not (or no longer)
    due. `now`: the caller's clock for the claim and the back-off (tests pass their instants)."""
    now = now or utcnow()
    with write():
        won = db.session.execute(
            update(NotificationDelivery)
            .where(NotificationDelivery.id == delivery_id, _due(now))
            .values(
                state="sending",
                owner=owner,
                lease_until=now + timedelta(seconds=LEASE_SECONDS),
                attempts=NotificationDelivery.attempts + 1,
            )
        ).rowcount
    if not won:
        return None
    delivery = db.session.get(NotificationDelivery, delivery_id)
    channel = db.session.get(NotificationChannel, delivery.channel_id)
    run = db.session.get(Run, delivery.run_id)
    try:
        target, summary = target_of(channel), summarize(app, run, delivery.event)
    except SecretUnreadable as exc:
        outcome = deliver.Outcome(False, error=str(exc))
    else:
        db.session.commit()  # no transaction is held while the receiver takes its time
        outcome = deliver.send(channel.kind, target, summary)
    record(delivery_id, owner, outcome, now)
    return outcome


def record(delivery_id: int, owner: str, outcome: deliver.Outcome, now: datetime) -> None:
    """Store an attempt's outcome on the delivery, its channel and its run (only while the row is still this
    owner's: a sender whose lease ran out and was replaced records nothing)."""
    with write():
        delivery = db.session.scalar(
            select(NotificationDelivery)
            .where(
                NotificationDelivery.id == delivery_id,
                NotificationDelivery.owner == owner,
                NotificationDelivery.state == "sending",
            )
            .with_for_update()
        )
        if delivery is None:
            return
        if outcome.delivered:
            delivery.state, delivery.delivered_at, delivery.next_attempt_at = "delivered", now, None
        elif outcome.retry and delivery.attempts < MAX_ATTEMPTS:
            wait = BACKOFF_SECONDS[min(delivery.attempts, len(BACKOFF_SECONDS)) - 1]
            delivery.state, delivery.next_attempt_at = "retrying", now + timedelta(seconds=wait)
        else:
            delivery.state, delivery.next_attempt_at = "failed", None
        delivery.owner, delivery.lease_until = None, None
        delivery.last_status, delivery.last_error = outcome.status, outcome.error
        channel = db.session.get(NotificationChannel, delivery.channel_id)
        run = db.session.get(Run, delivery.run_id, with_for_update=True, populate_existing=True)
        note(channel, now, delivery.event, delivery.state, outcome, run.public_id)
        _mirror(run, [_entry(delivery, channel)])
    level = logging.INFO if outcome.delivered else logging.WARNING
    log.log(
        level,
        "%s alert for %s to %s (%s): %s%s",
        delivery.event,
        run.public_id,
        channel.public_id,
        channel.kind,
        delivery.state,
        f" ({outcome.error})" if outcome.error else "",
    )


def send_sample(project: Project, channel: NotificationChannel, runs_url: str) -> deliver.Outcome:
    """Send a made-up alert to the channel now (the API's test and the page's Test button), outside any
    transaction, and say on the channel how it went."""
    message = sample(project, channel.public_id, runs_url)
    try:
        target = target_of(channel)
    except SecretUnreadable as exc:
        outcome = deliver.Outcome(False, error=str(exc))
    else:
        db.session.commit()  # no transaction is held while the receiver takes its time
        outcome = deliver.send(channel.kind, target, message)
    with write():
        channel = db.session.get(NotificationChannel, channel.id)
        note(channel, utcnow(), "test", "delivered" if outcome.delivered else "failed", outcome, None)
    return outcome


def note(
    channel: NotificationChannel,
    now: datetime,
    event: str,
    state: str,
    outcome: deliver.Outcome,
    run_id: str | None,
) -> None:
    """Say on the channel how its newest attempt went (the caller's transaction)."""
    channel.last_delivery = {
        "at": isoformat(now),
        "runId": run_id,
        "event": event,
        "state": state,
        "status": outcome.status,
    }
    if outcome.error:
        channel.last_error, channel.last_error_at = outcome.error, now
