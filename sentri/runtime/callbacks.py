"""Deliver a finished run's callback: best-effort, SSRF-checked again at send time, never fatal.

Callbacks run on their own few threads (CallbackSender), apart from the browsers and from housekeeping.
Each ends within CALLBACK_TIMEOUT_SECONDS (an overall deadline, not per read), the threads are few and
at most MAX_PENDING callbacks wait or run at once: a burst of finished runs whose receivers are slow
costs bounded threads and memory, and beyond the cap a callback is dropped and logged. The threads are
daemons, so the interpreter never waits for them at exit; `shutdown` waits for the pending ones at most
its grace."""

from __future__ import annotations

import logging
import queue
import threading
from urllib.parse import urlsplit

from flask import Flask

from .. import metrics, outbound, ssrf
from ..extensions import db
from ..models import Run
from ..reports.serialize import callback_payload, run_url
from ..runs.options import callback_allowlist

log = logging.getLogger(__name__)
# For the whole exchange (connect, send, the answer), not per read: a trickling receiver cannot hold more.
CALLBACK_TIMEOUT_SECONDS = 10.0
# Only the status is used: the rest of the answer is never read, however long it is.
CALLBACK_MAX_ANSWER_BYTES = 4096


def send_callback(app: Flask, run_id: int) -> bool:
    """POST the run summary to its callbackUrl, if it has one; return whether it was delivered."""
    with app.app_context():
        run = db.session.get(Run, run_id)
        if run is None or not run.callback_url:
            return False
        url = run.callback_url
        payload = callback_payload(run, run_url(app, run))
        allowlist = callback_allowlist()
    # Only the host is logged: a callback URL may carry a secret in its path or query.
    host = urlsplit(url).hostname
    try:
        response = outbound.post_json(
            url,
            payload,
            timeout=CALLBACK_TIMEOUT_SECONDS,
            allowlist=allowlist,
            max_body=CALLBACK_MAX_ANSWER_BYTES,
        )
    except ssrf.UnsafeURLError as exc:
        log.warning("callback for %s refused: %s", run.public_id, exc)
        metrics.count_callback("refused")
        return False
    except Exception as exc:  # the receiver is down or slow: the run's outcome stands
        log.warning("callback for RUN-%s to %s failed: %s", run_id, host, type(exc).__name__)
        metrics.count_callback("failed")
        return False
    # Only a 2xx is a delivery: a redirect is never followed (the next hop is unchecked), so its target
    # never received the run.
    delivered = 200 <= response.status_code < 300
    log.info("callback for RUN-%s to %s answered %s", run_id, host, response.status_code)
    metrics.count_callback("delivered" if delivered else "rejected")
    return delivered


THREADS = 4
MAX_PENDING = 200


class CallbackSender:
    """Send runs' callbacks on THREADS daemon threads; runtime(app).engine.callbacks."""

    def __init__(self, app: Flask, *, threads: int = THREADS, max_pending: int = MAX_PENDING) -> None:
        self.app = app
        self.size = threads
        self.max_pending = max_pending
        self._queue: queue.SimpleQueue[int | None] = queue.SimpleQueue()
        self._cond = threading.Condition()
        self._pending = 0  # queued or being sent
        self._threads: list[threading.Thread] = []
        self._closed = False
        self._given_up = False

    def submit(self, run_id: int) -> bool:
        """Queue the run's callback; return False when it was dropped (too many pending, or shut down)."""
        with self._cond:
            if self._closed:
                log.warning("callback for RUN-%s dropped: the server is stopping", run_id)
                metrics.count_callback("dropped")
                return False
            if self._pending >= self.max_pending:
                log.warning(
                    "callback for RUN-%s dropped: %d callbacks are already pending", run_id, self._pending
                )
                metrics.count_callback("dropped")
                return False
            self._pending += 1
            if not self._threads:  # started on first use: most apps in tests never send one
                for index in range(self.size):
                    thread = threading.Thread(target=self._work, name=f"sentri-callback-{index}", daemon=True)
                    self._threads.append(thread)
                    thread.start()
        self._queue.put(run_id)
        return True

    def shutdown(self, grace_seconds: float) -> int:
        """Take no more callbacks, wait at most `grace_seconds` for the pending ones, and return how
        many were given up on (their threads end within the callback deadline, or with the process)."""
        with self._cond:
            self._closed = True
            self._cond.wait_for(lambda: self._pending == 0, timeout=grace_seconds)
            left = self._pending
            self._given_up = bool(left)  # callbacks still queued are not started any more
        for _ in self._threads:
            self._queue.put(None)
        if left:
            log.warning("gave up waiting for %d callback(s) after the %g s grace", left, grace_seconds)
        return left

    def _work(self) -> None:
        while (run_id := self._queue.get()) is not None:
            try:
                if self._given_up:
                    metrics.count_callback("dropped")
                else:
                    send_callback(self.app, run_id)
            except Exception:  # a thread must outlive any one callback
                log.exception("callback for RUN-%s failed", run_id)
            finally:
                with self._cond:
                    self._pending -= 1
                    self._cond.notify_all()
