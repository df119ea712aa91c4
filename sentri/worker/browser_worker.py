"""One browser worker: a thread owning an event loop, a Playwright and a warm Chromium, claiming tests
from the database one at a time and writing each outcome back.

Why an event loop per thread (Playwright's async API) rather than the sync API: Playwright objects
must never be touched from another thread, and with the sync API a call blocked in a 15 s auto-wait
cannot be interrupted. Here a stop (an abort seen by the heartbeat, a shutdown) schedules
`task.cancel()` on the owning loop and the wait ends at once; the per-test timeout is asyncio.timeout.
"""

from __future__ import annotations

import asyncio
import logging
import math
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from functools import partial

from playwright.async_api import Error as PlaywrightError

from ..artifacts import keep_files
from ..queue import crawl_ends, lifecycle, records
from ..queue.claims import Claim
from ..queue.crawls import CrawlClaim
from ..queue.outcome import Outcome, attempt
from ..settings import settings
from ..states import ResultStatus
from . import vitals_probe
from .browser_set import WorkerBrowsers
from .crawl_duty import STOP_SIGNAL_SECONDS, CrawlDuty
from .executor import execute
from .guard import HostCache
from .job_spec import BrowserLost, TestJob, context_options, hard_deadline
from .jobs import RunUnusable
from .spare import Spare, settle

log = logging.getLogger(__name__)


class BrowserWorker(CrawlDuty, threading.Thread):
    """Claim, execute, record; until the engine stops. Its current claim can be cancelled from other
    threads (`cancel`) and proves the worker alive (`alive_at`, ticked by its own loop)."""

    def __init__(self, engine, index: int) -> None:
        super().__init__(name=f"sentri-browser-{index}", daemon=True)
        self.engine = engine
        self.app = engine.app
        self.index = index  # which of its process's workers: the slot leases it holds say so
        self.loop = asyncio.new_event_loop()
        self.browsers = WorkerBrowsers(
            engine.app, engine.pool, lambda: engine.stopping, engine.node_id, index
        )
        self.hosts = HostCache()  # the guard's resolved host names, shared by this worker's tests
        self.spare = Spare()  # a page opened while idle, for the next test (local browsers only)
        self.spare_like: tuple | None = None  # (browser, context options) of the last test run here
        self._lock = threading.Lock()
        self.current: Claim | None = None
        self._task: asyncio.Task | None = None
        self._cancel_reason: str | None = None
        self.alive_at = time.monotonic()
        # When the claim being run has outlived every bound of its own (job_spec.hard_deadline): the engine
        # then gives it up and stops renewing its lease.
        self.due = math.inf
        self.lost: BrowserLost | None = None  # the browser went away under the current test (_given_back)
        self._ticker: asyncio.TimerHandle | None = None
        # Claims and records run here, while the loop goes on: the next test's page opens meanwhile (spare.py).
        self._database = ThreadPoolExecutor(1, thread_name_prefix=f"sentri-browser-{index}-db")

    # -- called from other threads -----------------------------------------------------------------

    def claimed(self) -> Claim | None:
        """The claim this worker holds, if any."""
        with self._lock:
            return self.current

    def cancel(self, reason: str, result_id: int | None = None, crawl_id: int | None = None) -> None:
        """Stop the current test: 'stop' (its run stops), 'lost' (the row is not ours), 'shutdown', 'overdue'
        (past its hard deadline: it is recorded as failed, and the browser relaunched). With
        `result_id`, only if that is still the row being run: the worker may have moved on to another
        since the caller looked (a stop meant for a finished test must not hit the next one)."""
        with self._lock:
            if (
                self.current is None
                or (result_id is not None and self.current.result_id != result_id)
                or (crawl_id is not None and getattr(self.current, "crawl_id", None) != crawl_id)
            ):
                return
            if self._cancel_reason is None or reason == "lost":
                self._cancel_reason = reason
            task = self._task
        if task is not None:
            self.loop.call_soon_threadsafe(task.cancel)

    async def _close(self) -> None:
        await self.spare.close()
        await self.browsers.close()

    # -- the loop ------------------------------------------------------------------------------------

    def run(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            if self.engine.pool is None:  # browser servers are connected to when a test needs one
                self.loop.run_until_complete(self.browsers.chromium())
        except Exception as exc:  # reported per run when a test needs the browser
            log.warning("browser worker %s could not launch Chromium at start: %s", self.name, exc)
        busy = False
        # On browser servers a test is claimed only with a slot to run it, in the claim's transaction.
        take_slot = self.browsers.take_slot if self.engine.pool is not None else None
        while not self.engine.stopping:
            seen = self.engine.work_signal()
            if take_slot is not None and not self.browsers.room():
                busy = False
                self.engine.wait_idle(seen)  # every slot is held: look again on this process's next turn
                continue
            try:
                claim = self._beside_loop(partial(self.engine.claim, look_first=not busy, slot=take_slot))
            except Exception:  # the database is busy or gone for a moment: try again shortly
                log.exception("worker %s could not claim a test", self.name)
                claim = None
            busy = claim is not None
            if claim is None:
                self.browsers.give_back()  # a slot taken by a claim that did not commit is not this worker's
                self._prepare_spare()
                self.loop.run_until_complete(
                    settle()
                )  # the last test's context is closed (and a spare opened)
                self.engine.wait_idle(seen)
                continue
            if claim.more:
                self.engine.wake()  # more is claimable now: let an idle worker take it
            try:
                if isinstance(claim, CrawlClaim):
                    self._run_crawl(claim)
                else:
                    self._run_claim(claim)
            except Exception:  # a worker thread must outlive any one test: never strand a run
                log.exception("worker %s failed around %s", self.name, claim)
                if isinstance(claim, CrawlClaim):
                    self._write(crawl_ends.fail, claim, "an internal error stopped its worker")
                else:
                    self._write(
                        partial(records.release, lost=True), claim, "an internal error stopped its worker"
                    )
            finally:
                self._return_slot()  # still held when the test never ran (its run unusable, its test deleted)
                with self._lock:
                    self.current, self._task, self._cancel_reason = None, None, None
            if isinstance(claim, Claim) and self._leave_next(claim):
                busy = False  # it stepped aside: it looks (a read) before it claims, as an idle worker does
        self.loop.run_until_complete(self._close())
        self._database.shutdown(wait=True)
        left = asyncio.all_tasks(self.loop)  # background closes a dead driver never answered
        for task in left:
            task.cancel()
        self.loop.run_until_complete(asyncio.gather(*left, return_exceptions=True))
        self.loop.close()

    def _leave_next(self, claim: Claim) -> bool:
        try:
            return self.engine.leave_next(claim.run_id)
        except Exception:  # only a courtesy to other processes: the worker goes on claiming
            log.exception(
                "worker %s could not tell whether to leave the next test to another process", self.name
            )
            return False

    def _prepare_spare(self) -> None:
        """Going idle: open the next test's page now, like the last test's (a desktop Chromium page at
        first), so that a run's first step does not wait for it (< 0.3 s from the 202, bench/run_overhead.py). In a
        run, each test opens the next one's once its steps are done (executor.py), never beside them: opened
        beside a test's steps, a spare was measured to cost more CPU than it saved on a 2-core machine."""
        if self.engine.pool is not None:
            return
        browser, options = self.spare_like or (self.browsers.local, {})
        if browser is not None and browser.is_connected():
            self.spare.prepare(browser, settings(self.app).blocked_networks, options, vitals_probe.arm)

    def _beside_loop(self, function):
        """Call `function` (database work) on this worker's database thread and return what it returns, the loop
        running meanwhile: what the last test left in the background (its context's close, the next test's
        page opening) goes on instead of waiting for the database."""
        return self.loop.run_until_complete(self.loop.run_in_executor(self._database, function))

    def _write(self, function, *args) -> None:
        with self.app.app_context():
            function(*args)

    def _return_slot(self) -> None:
        """Give the browser server slot back once this worker's contexts there are closed: a slot stands for
        what the server runs, and a test's context is closed in the background (executor.py)."""
        if self.browsers.slot is not None:
            self.loop.run_until_complete(settle())
        self.browsers.release_slot()

    def _tick(self) -> None:
        self.alive_at = time.monotonic()
        self._ticker = self.loop.call_later(1.0, self._tick)

    def _run_claim(self, claim: Claim) -> None:
        with self._lock:
            self.current, self._cancel_reason = claim, None
        with self.app.app_context():
            try:
                job = self.engine.jobs.build(claim)
            except RunUnusable as exc:
                lifecycle.fail(claim.run_id, str(exc))
                records.record_stopped(claim)
                return
            if job is None:  # its test was deleted since the run was planned
                records.record(
                    claim, {"status": ResultStatus.SKIPPED, "skip_reason": "deleted", "attempts": []}
                )
                return
        result = self._execute(job)
        lost, self.lost = self.lost, None
        if lost is not None:
            self._given_back(claim, lost)
            return
        with self._lock:
            overdue = self._cancel_reason == "overdue"
        if overdue:
            result = given_up(job)
        if result is not None and self.browsers.used_endpoint is not None:
            # Which browser server ran each attempt (the lease owner says which Sentri process did).
            result["attempts"] = [
                {**a, "browserServer": self.browsers.used_endpoint} for a in result.get("attempts") or []
            ]
        with self._lock:
            reason = self._cancel_reason
        self._beside_loop(partial(self._record, claim, result, reason))

    def _record(self, claim: Claim, result: Outcome | None, reason: str | None) -> None:
        with self.app.app_context():
            if result is not None:
                keep_files(self.app, result)  # into the artifact store (a bucket: uploaded), by key
                records.record(claim, result)
            elif reason == "shutdown":
                records.release(claim)  # handed back: another process (or the next start) runs it
            elif reason == "stop" or reason is None:
                records.record_stopped(claim)
            # "lost": the row is no longer ours; whatever we had is dropped

    def _execute(self, job: TestJob) -> Outcome | None:
        """Run the job on this worker's loop; None when it was cancelled or the run cannot go on."""
        job.loop = self.loop
        self.browsers.used_endpoint = None
        self.alive_at = time.monotonic()
        self.due = self.alive_at + hard_deadline(job)
        self._tick()
        try:
            for try_number in (1, 2):
                try:
                    browser = self.loop.run_until_complete(self.browsers.get(job.browser))
                    job.device_descriptor = self.browsers.device(job)
                    job.reach = self.browsers.reach()
                    self.spare_like = (browser, context_options(job))
                except Exception as exc:  # BrowserUnavailable, or a browser that will not start
                    message = self._shown(f"The browser could not start: {exc}").splitlines()[0][:500]
                    if self.engine.stopping_within(STOP_SIGNAL_SECONDS):  # our own stop took Playwright down
                        self.lost = BrowserLost(message, [])
                        return None
                    self._write(lifecycle.fail, job.run_id, message)
                    return None
                spare = self.spare if self.engine.pool is None else None
                task = self.loop.create_task(execute(browser, job, self.hosts, spare))
                with self._lock:
                    self._task = job.task = task
                    cancelled = self._cancel_reason is not None
                if cancelled:
                    task.cancel()  # the stop came while the browser was being readied
                try:
                    return self.loop.run_until_complete(task)
                except asyncio.CancelledError:
                    if self._cancel_reason == "overdue":  # whatever held it may hold the browser too
                        self.loop.run_until_complete(self.browsers.forget(job.browser))
                    return None
                except BrowserLost as exc:  # not the test's doing: _run_claim gives the row back
                    self.lost = exc
                    self.loop.run_until_complete(self.browsers.forget(job.browser))
                    return None
                except vitals_probe.VitalsUnavailable as exc:
                    self._write(lifecycle.fail, job.run_id, str(exc))
                    return None
                except PlaywrightError as exc:
                    # A browser that crashed since the last test can still look connected until its pipe
                    # is read; its first call fails outside the steps. Relaunch and run the test again.
                    if try_number == 1:
                        log.warning(
                            "browser of %s was gone (%s); relaunching",
                            self.name,
                            self._shown(str(exc)).splitlines()[0],
                        )
                        self.loop.run_until_complete(self.browsers.forget(job.browser))
                        continue
                    return self._internal_error(job, exc)
                except Exception as exc:  # a bug: the test fails, the run goes on
                    return self._internal_error(job, exc)
            return None
        finally:
            self.due = math.inf
            self._return_slot()
            if self._ticker is not None:
                self._ticker.cancel()
                self._ticker = None

    def _given_back(self, claim: Claim, lost: BrowserLost) -> None:
        """A test whose browser went away: handed back when this process is stopping (its own stop took the
        driver or the browser down), else a lost attempt, run again once on any slot."""
        where = self.browsers.used_endpoint
        with self.app.app_context():
            if self.engine.stopping_within(STOP_SIGNAL_SECONDS):
                records.release(claim, attempts=lost.attempts)
                return
            reason = self._shown(str(lost))
            log.warning(
                "RUN-%s test %s: the browser was lost under it (%s: %s); it runs again",
                claim.run_id,
                claim.position,
                where or "local",
                reason,
            )
            records.release(
                claim,
                f"the browser was lost under it ({where or 'a local browser'}: {reason})",
                lost=True,
                attempts=lost.attempts,
                where=where,
            )

    def _internal_error(self, job: TestJob, exc: Exception) -> Outcome:
        log.exception("test %s of RUN-%s crashed", job.position, job.run_id, exc_info=exc)
        return {
            "status": ResultStatus.FAILED,
            "error": self._shown(f"internal error: {exc}")[:1000],
            "attempts": [],
            "base_url": job.base_url,
        }

    def _shown(self, text: str) -> str:
        """Return an error fit to store or show: any browser server's URL (credentials and all) as its name."""
        return self.engine.pool.scrub(text) if self.engine.pool is not None else text


def given_up(job: TestJob) -> Outcome:
    """The result of a job the engine gave up past its hard deadline."""
    message = (
        f"step {job.current_step}: the test outlived every deadline of its own ({hard_deadline(job):g} s in "
        "all, for its timeout, retries and what follows them); Sentri gave it up and relaunched the browser"
    )
    return {
        "status": ResultStatus.FAILED,
        "error": message,
        "failing_step": job.current_step or None,
        "attempts": [attempt(ResultStatus.FAILED, message, job.current_step or None)],
        "base_url": job.base_url,
    }
