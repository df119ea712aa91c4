"""The threads that send this process's share of the outbox (outbox.py): deliveries queued by ends this
process took, and every few seconds the due ones any process left (retries, a dead sender's).

THREADS deliveries at once, each within its deadline: a receiver that hangs holds one thread for at most
deliver.DELIVERY_TIMEOUT_SECONDS and never the run, the hook thread or the other channels. At most
MAX_IN_FLIGHT wait here; the rest stay due in the database for the next look, of this process or another."""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

from flask import Flask

from ..models import utcnow
from ..runtime import runtime
from . import outbox

log = logging.getLogger(__name__)
THREADS = 8
MAX_IN_FLIGHT = 100


class Notifier:
    """runtime(app).hooks.notifications."""

    def __init__(self, app: Flask, *, threads: int = THREADS) -> None:
        self.app = app
        # Threads start on the first submit: most apps in tests never send an alert.
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="sentri-notify")
        self._lock = threading.Lock()
        self._in_flight: set[int] = set()
        self._closed = False

    @property
    def owner(self) -> str:
        return runtime(self.app).engine.node_id

    def enqueue(self, run_id: int) -> list[int]:
        """Queue the alerts about a run's end, in the caller's transaction (the one that takes the end)."""
        return outbox.enqueue(run_id)

    def pump(self, now: datetime | None = None) -> None:
        """Send what is due (in the caller's app context): retries, and what other processes left."""
        if not self._closed:
            self.submit(outbox.due(now or utcnow()))

    def submit(self, delivery_ids: list[int]) -> None:
        for delivery_id in delivery_ids:
            with self._lock:
                if self._closed or delivery_id in self._in_flight or len(self._in_flight) >= MAX_IN_FLIGHT:
                    continue
                self._in_flight.add(delivery_id)
            try:
                self._pool.submit(self._attempt, delivery_id)
            except RuntimeError:  # shut down meanwhile: the row stays due for another process
                with self._lock:
                    self._in_flight.discard(delivery_id)

    def _attempt(self, delivery_id: int) -> None:
        try:
            with self.app.app_context():
                outbox.attempt(self.app, delivery_id, self.owner)
        except Exception:  # one delivery's trouble must not take the thread down
            log.exception("notification delivery %s failed", delivery_id)
        finally:
            with self._lock:
                self._in_flight.discard(delivery_id)

    def shutdown(self) -> None:
        """Start nothing more; deliveries being sent end within their deadline (their threads are the pool's),
        and those not started stay due in the database."""
        with self._lock:
            self._closed = True
        self._pool.shutdown(wait=False, cancel_futures=True)
