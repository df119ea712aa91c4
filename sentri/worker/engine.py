"""The run engine of one Sentri process: SENTRI_MAX_BROWSERS browser worker threads that claim tests from
the database (queue/lifecycle.py), and a heartbeat thread that keeps their claims alive and everyone honest.

The database holds every run; this process holds only what cannot live there: threads, event loops,
warm browsers and the handles to cancel a running test. Any number of processes may serve one
PostgreSQL database this way (SQLite: one process).

Idle workers sleep until there may be work: a run started here wakes them (wake()); on PostgreSQL so
does work any process makes claimable, by a NOTIFY this process LISTENs for (listener.py), and they look
on their own only every LISTENING_POLL_SECONDS, in case a notice was missed. On SQLite (one process), or
while the listener is not connected, the process looks every IDLE_POLL_SECONDS. A worker that finishes a
test may leave the run's next one to another process with a free slot (queue/spread.py).

The heartbeat, once a second: renews the leases of the rows (and browser server slots) this process's
live workers hold, and cancels those whose run is stopping (an abort, in whatever process it was asked)
or that are no longer theirs. Every few seconds it recovers what dead processes left (expired leases, runs
past their budget, runs with nothing left), fires ends nobody took, sends the notifications that are due,
fires due schedules (schedules/firing.py) and says this process is alive (the nodes table).
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor

from flask import Flask
from sqlalchemy.engine import make_url

from ..models import utcnow
from ..queue import claims, crawls, recovery, spread
from ..queue.claims import Claim
from ..queue.crawls import CrawlClaim
from ..runtime import runtime
from ..schedules import firing
from ..settings import settings
from . import nodes, slots
from .browser_worker import BrowserWorker
from .jobs import JobBuilder
from .listener import WorkListener
from .nodes import NODE_TIMEOUT_SECONDS, alive_nodes, node_identity
from .probe import Prober
from .remote import Endpoint, ServerPool

log = logging.getLogger(__name__)
HEARTBEAT_SECONDS = 1.0
# How often this process looks for work no wake() announced (another process queued it, a lease expired):
# once per interval for the whole process, not per idle worker. IDLE_POLL_SECONDS without notices (SQLite, or
# the listener reconnecting); LISTENING_POLL_SECONDS while notices come (a safety net for a missed one).
IDLE_POLL_SECONDS = 0.5
LISTENING_POLL_SECONDS = 10.0
# How long a worker that left its run's next test to another process waits before looking again itself: the
# other one, notified, has claimed by then (a claim is a few milliseconds of database work).
LEAVE_SECONDS = 0.1
RECOVER_EVERY_SECONDS = 2.0
NODE_EVERY_SECONDS = 2.0


class RunEngine:
    """Browser workers and the heartbeat of this process; runtime(app).engine."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        servers = settings(app).browser_server_list
        # Browser servers: one worker per slot they offer, each test on the endpoint with the most free slots.
        self.pool = (
            ServerPool(
                [Endpoint(url, capacity) for url, capacity in servers],
                settings(app).browser_server_chromium,
                secret=app.config["SECRET_KEY"],
            )
            if servers
            else None
        )
        self.size = self.pool.capacity if self.pool else max(1, int(settings(app).max_browsers))
        self.node_id = node_identity()
        self.lease_seconds = float(settings(app).lease_seconds)
        self.jobs = JobBuilder(app)
        self.housekeeping = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sentri-housekeeping")
        # Due schedules start their runs here, off the heartbeat (planning a run may take a while) and apart
        # from housekeeping (a long prune must not make a schedule late).
        self.scheduling = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sentri-schedules")
        self._firing: Future | None = None
        self._cond = threading.Condition()
        self._signal = 0  # bumped by wake(): idle workers look for work again at once
        self._looked_at = float("-inf")  # when a look of this process last found nothing more to claim
        self._workers: list[BrowserWorker] = []
        self._heartbeat: threading.Thread | None = None
        self._started = False
        self.stopping = False
        self._beat_stop = threading.Event()
        self._peers = 0  # other live processes at the last heartbeat: none, and nobody is left any test
        url = make_url(app.config["SQLALCHEMY_DATABASE_URI"])
        self.listener = (
            WorkListener(url.set(drivername="postgresql").render_as_string(hide_password=False), self.wake)
            if url.get_backend_name() == "postgresql"
            else None
        )
        # The browser servers are checked on a clock of their own, busy or idle; stopped with the heartbeat.
        self.prober = (
            Prober(self.pool, float(settings(app).browser_probe_seconds), self._beat_stop)
            if self.pool is not None
            else None
        )

    # -- life cycle ----------------------------------------------------------------------------------

    def start(self) -> None:
        """Say this process is alive, start the heartbeat and the workers (idempotent; each worker
        launches its browser at once to be warm)."""
        with self._cond:
            if self._started or self.stopping:
                return
            self._started = True
        with self.app.app_context():
            nodes.register(self.node_id, self.size)
            if self.pool is not None:
                slots.ensure(self.pool.slot_rows())
        if self.listener is not None:
            self.listener.start()
        self._heartbeat = threading.Thread(target=self._beat, name="sentri-heartbeat", daemon=True)
        self._heartbeat.start()
        if self.prober is not None:
            self.prober.start()
        for index in range(self.size):
            worker = BrowserWorker(self, index)
            self._workers.append(worker)
            worker.start()

    def shutdown(self, grace_seconds: float) -> None:
        """Claim nothing more, let running tests finish for up to `grace_seconds`, then stop the rest and
        hand their rows back (re-queued for another process, or this one's next start). Runs are not
        failed: they are the database's, not this process's."""
        with self._cond:
            self.stopping = True
            self._cond.notify_all()
        if self._started:
            self._tell_nodes(nodes.no_room, "could not say that this process is stopping")
        deadline = time.monotonic() + grace_seconds
        for worker in self._workers:
            worker.join(timeout=max(0.0, deadline - time.monotonic()))
        busy = [w for w in self._workers if w.is_alive()]
        for worker in busy:
            worker.cancel("shutdown")
        for worker in busy:
            worker.join(timeout=15)
        self._beat_stop.set()
        if self._heartbeat is not None:
            self._heartbeat.join(timeout=10)
        if self.prober is not None:
            self.prober.join(timeout=10)
        if self.listener is not None:
            self.listener.stop()
        self.housekeeping.shutdown(wait=False, cancel_futures=True)
        self.scheduling.shutdown(wait=True, cancel_futures=True)  # a firing is one short transaction
        if self._started:
            self._tell_nodes(nodes.forget, "could not remove this process from the nodes table")

    def _tell_nodes(self, what, failure: str) -> None:
        try:
            with self.app.app_context():
                what(self.node_id)
        except Exception:  # the database may be the reason we stop
            log.exception(failure)

    def begin_stop(self) -> None:
        """Say this process is stopping, from a signal handler: claim nothing more, and let workers tell errors
        the stop causes (Playwright's driver gets the same signal) from real ones. shutdown() does the rest."""
        self.stopping = True  # one assignment: safe in a signal handler, no lock taken

    def stopping_within(self, seconds: float) -> bool:
        """Tell whether this process is stopping, or starts to within `seconds`."""
        with self._cond:
            return self._cond.wait_for(lambda: self.stopping, timeout=seconds)

    def busy(self) -> int:
        """How many of this process's workers are running a test now."""
        return sum(1 for worker in self._workers if worker.claimed() is not None)

    # -- work signals --------------------------------------------------------------------------------

    def wake(self) -> None:
        """There may be work (a run was started here, a worker just claimed, a notice came): idle workers look
        now. Only a signal: a process whose engine was never start()ed (a CLI command) leaves the work to the
        processes that serve, which are notified (PostgreSQL) or find it within IDLE_POLL_SECONDS."""
        with self._cond:
            self._signal += 1
            self._cond.notify_all()

    def work_signal(self) -> int:
        with self._cond:
            return self._signal

    def wait_for_work(self, seen: int, timeout: float) -> None:
        """Wait until wake() after `seen`, the engine stops, or `timeout` (other processes' work is polled)."""
        with self._cond:
            self._cond.wait_for(lambda: self._signal != seen or self.stopping, timeout=timeout)

    def poll_seconds(self) -> float:
        """How often this process looks for work no wake() announced: rarely while notices come."""
        listening = self.listener is not None and self.listener.listening.is_set()
        return LISTENING_POLL_SECONDS if listening else IDLE_POLL_SECONDS

    def next_look_in(self) -> float:
        """Seconds until this process should look for work no wake() announced (0: now)."""
        return max(0.0, self._looked_at + self.poll_seconds() - time.monotonic())

    def wait_idle(self, seen: int) -> None:
        """An idle worker's wait: until wake() after `seen`, the engine stops, or the process's next look is
        due. A look by any worker of this process (a busy one's claim included) puts the next one off, so idle
        workers do not each poll the database: the process looks once per poll_seconds()."""
        with self._cond:
            while self._signal == seen and not self.stopping:
                due = self.next_look_in()
                if due <= 0:
                    self._looked_at = time.monotonic()  # this worker looks: the others wait for the next turn
                    return
                self._cond.wait(due)

    def claim(self, *, look_first: bool = True, slot=None) -> Claim | CrawlClaim | None:
        """Claim the next queued test of any run for this process, or None. An idle worker looks with a
        cheap read first; one that just finished a test goes straight for the write (its run likely has more).
        A look that leaves nothing claimable behind it (none found, or a claim that says no more) is when
        the process looked last (wait_idle). `slot`: called in the claim's transaction, False when no
        browser server slot is free (nothing is claimed then)."""
        if self.stopping:
            return None
        started = time.monotonic()
        with self.app.app_context():
            if crawls.has_work():  # a crawl first: a crawling run's tests wait for it
                crawl = crawls.claim(self.node_id, self.lease_seconds, slot=slot)
                if crawl is not None:
                    return crawl
            if look_first and not claims.has_work():
                self._looked(started)
                return None
            claim = claims.claim(self.node_id, self.lease_seconds, slot=slot)
        if claim is None or not claim.more:
            self._looked(started)
        return claim

    def _looked(self, at: float) -> None:
        with self._cond:
            self._looked_at = max(self._looked_at, at)

    def leave_next(self, run_id: int) -> bool:
        """After a worker finished a test of `run_id`: when another process should take the run's next test
        (queue/spread.py), give it LEAVE_SECONDS to. Return whether this worker stepped aside."""
        if self.listener is None or not self._peers:  # nobody else is notified, or nobody else is there
            return False
        with self.app.app_context():
            if not spread.leave_next(self.node_id, run_id, NODE_TIMEOUT_SECONDS):
                return False
        self.stopping_within(LEAVE_SECONDS)
        return True

    # -- the heartbeat -------------------------------------------------------------------------------

    def _held(self) -> tuple[dict[int, BrowserWorker], dict[int, BrowserWorker]]:
        """Rows and crawls held by workers whose loop showed life recently and whose claim is within its hard
        deadline: a stuck one's lease is left to expire (and an overdue one is given up)."""
        now = time.monotonic()
        fresh = now - self.lease_seconds / 2
        held: dict[int, BrowserWorker] = {}
        crawling: dict[int, BrowserWorker] = {}
        for worker in self._workers:
            claim = worker.claimed()
            if claim is not None and worker.due < now:
                worker.cancel("overdue")
                continue
            if claim is not None and worker.alive_at >= fresh:
                if isinstance(claim, CrawlClaim):
                    crawling[claim.crawl_id] = worker
                else:
                    held[claim.result_id] = worker
        return held, crawling

    def _beat(self) -> None:
        last_recover = last_node = last_renew = 0.0
        # A lease is renewed when a quarter of it has passed, not on every beat: a claim starts with a full
        # lease, and the write was a third of the heartbeat's time under a run (bench/run_overhead.py).
        renew_every = max(HEARTBEAT_SECONDS, self.lease_seconds / 4)
        while not self._beat_stop.wait(HEARTBEAT_SECONDS):
            try:
                with self.app.app_context():
                    held, crawling = self._held()
                    now = time.monotonic()
                    renewing = now - last_renew >= renew_every - HEARTBEAT_SECONDS / 2
                    if renewing:
                        last_renew = now
                        claims.renew(self.node_id, list(held), self.lease_seconds)
                        if self.pool is not None:
                            workers = [worker.index for worker in (*held.values(), *crawling.values())]
                            slots.renew(self.node_id, workers, self.lease_seconds)
                    for result_id, why in claims.to_stop(self.node_id, list(held)).items():
                        held[result_id].cancel(why, result_id)
                    if crawling:
                        if renewing:
                            crawls.renew(self.node_id, list(crawling), self.lease_seconds)
                        for crawl_id, why in crawls.to_stop(self.node_id, list(crawling)).items():
                            crawling[crawl_id].cancel(why, crawl_id=crawl_id)
                    if now - last_recover >= RECOVER_EVERY_SECONDS:
                        last_recover = now
                        hooks = runtime(self.app).hooks
                        # Fires the ends nobody took, sends the alerts due and starts the due schedules, too.
                        if recovery.recover(hooks, schedules_due=self._fire_schedules):
                            self.wake()
                    if now - last_node >= NODE_EVERY_SECONDS:
                        last_node = now
                        self._seen()
            except Exception:  # a database hiccup must not stop the heartbeat
                log.exception("heartbeat failed")

    def _fire_schedules(self) -> None:
        """Start the runs of due schedules on the scheduling thread, unless the last look is still at it."""
        if self.stopping or (self._firing is not None and not self._firing.done()):
            return
        try:
            self._firing = self.scheduling.submit(self._fire_due)
        except RuntimeError:  # shut down: the process is stopping
            pass

    def _fire_due(self) -> None:
        try:
            with self.app.app_context():
                started = firing.fire_due(utcnow())
            if started:
                self.wake()
        except Exception:  # the database may be away: the next look tries again
            log.exception("firing due schedules failed")

    def _seen(self) -> None:
        """Keep this process's node fresh, forget long-gone ones, and let GitHub reporting catch up."""
        now = utcnow()
        nodes.seen(self.node_id, now)
        alive = alive_nodes(max(NODE_TIMEOUT_SECONDS, 2 * self.lease_seconds), now)
        self._peers = len(alive - {self.node_id})
        runtime(self.app).github.catch_up(alive)
