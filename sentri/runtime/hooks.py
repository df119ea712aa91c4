"""What follows a run's end, exactly once per run and outside every lock: the callback, the GitHub
report, the notification channels' alerts, waking `wait: true` requests.

`ending.finish()` sets the run's `notify_state` to 'pending' in the transaction that commits its end
and notes the run on the session. When that transaction commits, the process that ended it wakes its own waiting
requests at once and hands the run to its hook thread, which *takes* the pending state (a conditional
UPDATE to 'sent': one process wins) and fires the callback and the GitHub report; the same transaction
queues the alerts in the outbox (notify/outbox.py), which any process then sends. If that process dies
in between, another process's recovery takes the run later (`take_stale`). Requests waiting in other
processes see the end by polling the run.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import timedelta

from flask import Flask, has_app_context
from sqlalchemy import event, select, update
from sqlalchemy.orm import Session

from ..artifacts import Pruner
from ..database import changed, write
from ..extensions import db
from ..models import Run, utcnow
from ..notify.notifier import Notifier
from ..reports.serialize import verdict
from ..runtime import runtime
from .callbacks import CallbackSender

log = logging.getLogger(__name__)
_ENDED = "sentri_ended_runs"
# How long a pending end may wait for the process that ended the run before another process takes it.
STALE_SECONDS = 10.0


def ended_in_transaction(run_id: int) -> None:
    """Note that the current transaction ends this run: its hooks fire once the transaction commits."""
    db.session.info.setdefault(_ENDED, set()).add(run_id)


def _after_commit(session: Session) -> None:
    ended = session.info.pop(_ENDED, None)
    if ended and has_app_context():
        runtime().hooks.ended(sorted(ended))


def _after_rollback(session: Session) -> None:
    session.info.pop(_ENDED, None)


def listen() -> None:
    """Fire hooks after the commit that ends a run, in every session of the app's database: registered
    when a runtime is made (once per process), not at import."""
    for name, listener in (("after_commit", _after_commit), ("after_rollback", _after_rollback)):
        if not event.contains(db.session, name, listener):
            event.listen(db.session, name, listener)


def _log_end(run_id: int) -> None:
    """The run's one INFO line at its end, written by the process that fires its hooks."""
    run = db.session.get(Run, run_id)
    if run is None:
        return
    log.info(
        "%s ended %s, verdict %s: %d passed, %d failed, %d skipped of %d%s",
        run.public_id,
        run.status,
        verdict(run),
        run.passed,
        run.failed,
        run.skipped,
        run.total,
        f" ({run.error})" if run.error else "",
    )
    db.session.commit()


class Waiters:
    """Requests waiting for a run to end (`wait: true`), woken at once by an end in this process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._events: dict[int, set[threading.Event]] = {}
        self._seated = 0

    @contextmanager
    def seat(self, limit: int) -> Iterator[bool]:
        """A place among at most `limit` requests waiting at once: yields False when every place is taken
        (each holds a server thread, so they are bounded)."""
        with self._lock:
            seated = self._seated < limit
            self._seated += seated
        try:
            yield seated
        finally:
            if seated:
                with self._lock:
                    self._seated -= 1

    def wait(self, run_id: int, timeout: float, is_finished, poll: float = 0.5) -> bool:
        """Block until `is_finished()` (which reads the database, so an end in any process counts) or
        `timeout` passes; return whether the run ended. Nothing is left behind either way."""
        waiter = threading.Event()
        with self._lock:
            self._events.setdefault(run_id, set()).add(waiter)
        try:
            deadline = time.monotonic() + timeout
            while not is_finished():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                waiter.wait(min(remaining, poll))
                waiter.clear()
            return True
        finally:
            with self._lock:
                waiting = self._events.get(run_id)
                if waiting is not None:
                    waiting.discard(waiter)
                    if not waiting:
                        del self._events[run_id]

    def wake(self, run_id: int) -> None:
        with self._lock:
            waiting = list(self._events.get(run_id, ()))
        for waiter in waiting:
            waiter.set()

    def __len__(self) -> int:
        with self._lock:
            return sum(len(w) for w in self._events.values())


class Hooks:
    """runtime(app).hooks: fires what follows each run's end, once, on its own thread."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.waiters = Waiters()
        self.pruner = Pruner()
        self.callbacks = CallbackSender(app)
        self.notifications = Notifier(app)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sentri-hooks")
        self._closed = False

    def ended(self, run_ids: list[int]) -> None:
        """Runs this process just ended (their transaction committed): wake waiters, fire the rest."""
        for run_id in run_ids:
            self.waiters.wake(run_id)
            self._submit(run_id)

    def take_stale(self) -> None:
        """Fire the hooks of runs whose end nobody took (the process that ended them died)."""
        cutoff = utcnow() - timedelta(seconds=STALE_SECONDS)
        stale = list(
            db.session.scalars(
                select(Run.id).where(Run.notify_state == "pending", Run.finished_at < cutoff).limit(100)
            )
        )
        db.session.commit()
        for run_id in stale:
            self._submit(run_id)

    def _submit(self, run_id: int) -> None:
        if self._closed:
            return  # stopping: the run stays pending and another process (or the next start) takes it
        try:
            self._pool.submit(self._fire, run_id)
        except RuntimeError:
            pass

    def _fire(self, run_id: int) -> None:
        try:
            with self.app.app_context():
                with write():
                    taken = changed(
                        update(Run)
                        .where(Run.id == run_id, Run.notify_state == "pending")
                        .values(notify_state="sent")
                    )
                    alerts = self._queue_alerts(run_id) if taken else []
                if not taken:
                    return  # another process took it
                _log_end(run_id)
            self.notifications.submit(alerts)
            self.waiters.wake(run_id)
            self.callbacks.submit(run_id)
            services = runtime(self.app)
            services.github.run_finished(run_id)
            engine = services.engine
            if not engine.stopping:  # a stopping engine's pool takes no more work
                engine.housekeeping.submit(self.pruner.maybe, self.app)
        except Exception:  # a hook must never take the hook thread down
            log.exception("what follows the end of RUN-%s failed", run_id)

    def _queue_alerts(self, run_id: int) -> list[int]:
        """The outbox rows of this end, in the transaction that takes it; a bug there costs the alerts (logged),
        never the callback and the report (a savepoint keeps the take)."""
        try:
            with db.session.begin_nested():
                return self.notifications.enqueue(run_id)
        except Exception:
            log.exception("the alerts about the end of RUN-%s could not be queued", run_id)
            return []

    def shutdown(self, grace_seconds: float) -> int:
        """Stop taking ends, let queued ones go out, wait for callbacks at most the grace; return how
        many callbacks were given up on. Alerts not yet sent stay due in the outbox."""
        self._closed = True
        self._pool.shutdown(wait=True, cancel_futures=False)
        self.notifications.shutdown()
        return self.callbacks.shutdown(grace_seconds)
