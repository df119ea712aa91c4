"""The run engine: SENTRI_MAX_BROWSERS worker threads, each owning an event loop, a Playwright and a
warm browser, fed from one queue of tests; at most `parallelWorkers` tests of a run in flight.

Why an event loop per thread (Playwright's async API) rather than the sync API: Playwright objects
must never be touched from another thread, and with the sync API a call blocked in a 15 s auto-wait
cannot be interrupted, so abort and the per-test timeout would wait for it. Here an abort schedules
`task.cancel()` on the owning loop (call_soon_threadsafe) and the wait ends at once; the per-test
timeout is asyncio.timeout around the steps.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from flask import Flask
from playwright.async_api import Error as PlaywrightError

from ..runs.callbacks import CallbackSender
from .browsers import find_chromium, launch_chromium
from .executor import TestJob, execute
from .guard import HostCache
from .vitals_probe import VitalsUnavailable

log = logging.getLogger("sentri.worker")
# An aborted run ends at the latest this long after the abort, even if a browser call hangs.
ABORT_GRACE_SECONDS = 15.0
# Playwright's device descriptors used for `device: mobile`, per engine.
MOBILE_DEVICES = {"chromium": "Pixel 7", "webkit": "iPhone 13", "firefox": "Pixel 7"}


@dataclass
class RunState:
    """In-memory bookkeeping of one active run."""

    run_id: int
    parallel: int
    pending: deque[TestJob]
    in_flight: set[int] = field(default_factory=set)  # positions
    jobs: dict[int, TestJob] = field(default_factory=dict)
    aborted: bool = False
    broken: str | None = None
    unrecorded: int = 0  # tests taken off `pending` whose skipped result is still being written


class RunEngine:
    """Schedules runs' tests onto browser worker threads; stored in app.extensions['sentri_engine']."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.size = max(1, int(app.config["SENTRI_MAX_BROWSERS"]))
        self._queue: queue.Queue[TestJob | None] = queue.Queue()
        self._lock = threading.Lock()
        self._runs: dict[int, RunState] = {}
        self._workers: list[BrowserWorker] = []
        self._accepting = True
        self._idle = threading.Condition(self._lock)
        self._finished: dict[int, threading.Event] = {}
        # Callbacks can take 10 s each: they never hold a browser thread, nor wait behind pruning.
        self.callbacks = CallbackSender(app)
        self.notifier = ThreadPoolExecutor(max_workers=2, thread_name_prefix="sentri-notify")  # artifact pruning

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        """Start the worker threads (idempotent); each launches its browser at once to be warm."""
        with self._lock:
            if self._workers:
                return
            for index in range(self.size):
                worker = BrowserWorker(self, index)
                self._workers.append(worker)
                worker.start()

    def shutdown(self, grace_seconds: float) -> list[int]:
        """Stop taking tests, let running ones finish for up to `grace_seconds`, cancel the rest;
        return the ids of the runs that were still active (the caller fails them)."""
        with self._lock:
            self._accepting = False
            for state in self._runs.values():
                state.pending.clear()
            self._idle.wait_for(lambda: all(not s.in_flight for s in self._runs.values()), timeout=grace_seconds)
            for state in self._runs.values():
                state.aborted = True
                for position in state.in_flight:
                    _cancel(state.jobs[position])
            self._idle.wait_for(lambda: all(not s.in_flight for s in self._runs.values()), timeout=10)
            unfinished = list(self._runs)
            self._runs.clear()
        for _ in self._workers:
            self._queue.put(None)
        for worker in self._workers:
            worker.join(timeout=15)
        return unfinished

    # -- scheduling --------------------------------------------------------------------------
    def submit(self, run_id: int) -> None:
        """Queue a freshly created run's tests."""
        from .. import runs
        from ..secrets import SecretUnreadable

        with self.app.app_context():
            try:
                jobs, parallel = runs_jobs(self.app, run_id)
            except SecretUnreadable as exc:
                if runs.finish(run_id, "failed", str(exc)):
                    self.notify_finished(run_id)
                return
        self.start()
        with self._lock:
            if not self._accepting:
                return
            state = RunState(run_id=run_id, parallel=parallel, pending=deque(jobs))
            state.jobs = {job.position: job for job in jobs}
            self._runs[run_id] = state
            if not jobs:
                self._runs.pop(run_id)
                with self.app.app_context():
                    runs.finish(run_id, "completed")
                self.notify_finished(run_id)
                return
            self._fill(state)

    def _fill(self, state: RunState) -> None:
        # Called with the lock held.
        while state.pending and len(state.in_flight) < state.parallel and not state.aborted:
            job = state.pending.popleft()
            state.in_flight.add(job.position)
            self._queue.put(job)

    def abort(self, run_id: int) -> bool:
        """Abort a run this process is executing: cancel in-flight tests, skip queued ones."""
        with self._lock:
            state = self._runs.get(run_id)
            if state is None:
                return False
            state.aborted = True
            skipped = list(state.pending)
            state.pending.clear()
            state.unrecorded += len(skipped)  # the run must not end before their skips are written
            for position in state.in_flight:
                _cancel(state.jobs[position])
        try:
            self._skip(run_id, skipped, "aborted")
        finally:
            with self._lock:
                state.unrecorded -= len(skipped)
        self._maybe_finish(run_id)
        watchdog = threading.Timer(ABORT_GRACE_SECONDS, self._abort_watchdog, args=(run_id,))
        watchdog.daemon = True
        watchdog.start()
        return True

    def release(self, job: TestJob) -> None:
        """Forget a job whose bookkeeping failed, so its run can still end."""
        with self._lock:
            state = self._runs.get(job.run_id)
            if state is not None:
                state.in_flight.discard(job.position)
                self._fill(state)
            self._idle.notify_all()
        try:
            self._maybe_finish(job.run_id)
        except Exception:
            log.exception("could not finish run %s", job.run_id)

    def _abort_watchdog(self, run_id: int) -> None:
        """End an aborted run whose in-flight tests did not stop in time (a stuck browser call)."""
        from .. import runs

        with self._lock:
            state = self._runs.get(run_id)
            if state is None or not state.in_flight:
                return
            log.warning("run %s: %d test(s) did not stop after the abort; ending the run", run_id,
                        len(state.in_flight))
            self._runs.pop(run_id)
            self._idle.notify_all()
        with self.app.app_context():
            if runs.finish(run_id, "aborted"):
                self.notify_finished(run_id)

    def is_aborted(self, run_id: int) -> bool:
        """Tell whether the run was aborted (or the engine is stopping) while this process runs it."""
        with self._lock:
            state = self._runs.get(run_id)
            return state is None or state.aborted or state.broken is not None

    def is_running(self, run_id: int) -> bool:
        with self._lock:
            return run_id in self._runs

    # -- called from worker threads ----------------------------------------------------------
    def next_job(self) -> TestJob | None:
        return self._queue.get()

    def job_starting(self, job: TestJob) -> str | None:
        """Return why the job must not run (aborted, over_budget), or None to run it."""
        from .. import runs

        with self._lock:
            state = self._runs.get(job.run_id)
            if state is None or state.aborted:
                return "aborted"
        if job.deadline is not None and time.time() >= job.deadline:
            return "over_budget"
        with self.app.app_context():
            return None if runs.mark_running(job.run_id) else "aborted"

    def job_done(self, job: TestJob, result: dict | None, skip_reason: str = "aborted") -> None:
        """Record a finished (or cancelled) job and schedule the run's next test."""
        from .. import runs

        if result is not None:
            for artifact in ("screenshot", "trace"):
                if result.get(artifact):
                    result[artifact] = str(Path(result[artifact]).relative_to(self.app.instance_path))
            with self.app.app_context():
                runs.record_result(job.run_id, result)
        else:
            # Recorded while the job still counts as in flight: once it does not, another thread's
            # _maybe_finish may end the run, and a client could see it finished without this skip.
            self._skip(job.run_id, [job], skip_reason)
        with self._lock:
            state = self._runs.get(job.run_id)
            if state is not None:
                state.in_flight.discard(job.position)
                self._fill(state)
            self._idle.notify_all()
        self._maybe_finish(job.run_id)

    def run_broken(self, job: TestJob, message: str) -> None:
        """The run cannot go on (no browser): fail it and drop its other tests."""
        with self._lock:
            state = self._runs.get(job.run_id)
            if state is not None:
                state.broken = message
                state.pending.clear()
                state.in_flight.discard(job.position)
                for position in state.in_flight:
                    _cancel(state.jobs[position])
            self._idle.notify_all()
        self._maybe_finish(job.run_id)

    # -- finishing ---------------------------------------------------------------------------
    def _skip(self, run_id: int, jobs: list[TestJob], reason: str) -> None:
        from .. import runs

        with self.app.app_context():
            for job in jobs:
                runs.record_result(
                    run_id,
                    {"test_id": job.test_id, "test_name": job.name, "position": job.position,
                     "status": "skipped", "skip_reason": reason, "attempts": [], "base_url": job.base_url},
                )

    def _maybe_finish(self, run_id: int) -> None:
        from .. import runs

        with self._lock:
            state = self._runs.get(run_id)
            if state is None or state.pending or state.in_flight or state.unrecorded:
                return
            self._runs.pop(run_id)
            self._idle.notify_all()
        if state.broken:
            status, error = "failed", state.broken
        elif state.aborted and self._accepting:
            status, error = "aborted", None
        elif state.aborted:
            return  # shutting down: the caller fails the run and sends its callback
        else:
            status, error = "completed", None
        with self.app.app_context():
            finished = runs.finish(run_id, status, error)
        if finished:
            self.notify_finished(run_id)

    def wait_for(self, run_id: int, timeout: float, is_finished) -> bool:
        """Block until the run ends or `timeout` passes; `is_finished()` checks the database, so a run
        that ended before the waiter arrived (or in another way) is seen too. Return whether it ended."""
        with self._lock:
            event = self._finished.setdefault(run_id, threading.Event())
        deadline = time.monotonic() + timeout
        while not is_finished():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            event.wait(min(remaining, 1.0))
        return True

    def notify_finished(self, run_id: int) -> None:
        """Wake requests waiting for the run, send its callback and GitHub report, prune old artifacts."""
        from ..artifacts import prune_in_background

        with self._lock:
            event = self._finished.pop(run_id, None)
        if event is not None:
            event.set()
        self.notifier.submit(prune_in_background, self.app)
        reporter = self.app.extensions.get("sentri_github")
        if reporter is not None:
            reporter.run_finished(run_id)
        self.callbacks.submit(run_id)


def runs_jobs(app: Flask, run_id: int) -> tuple[list[TestJob], int]:
    """Build the jobs of a run from its plan (risk order, over-budget tests already skipped)."""
    from datetime import timedelta

    from .. import environments, origins
    from ..artifacts import run_folder
    from ..extensions import db
    from ..models import Environment, Project, Run, TestCase, TestDataSet

    run = db.session.get(Run, run_id)
    project = db.session.get(Project, run.project_id)
    planned = [entry for entry in (run.plan or []) if entry["plan"] == "run"]
    ids = [int(entry["testId"].removeprefix("TST-")) for entry in planned]
    tests = {t.id: t for t in db.session.query(TestCase).filter(TestCase.id.in_(ids))}
    dials = run.options.get("dialsConfig", {})
    budget = run.options.get("budgetMinutes")
    # budgetMinutes caps the run's wall clock from its trigger: tests still queued then are skipped.
    deadline = (run.created_at + timedelta(minutes=budget)).timestamp() if budget else None
    artifacts = run_folder(app.instance_path, run.public_id)
    environment = _by_public_id(Environment, run.options.get("environmentId"))
    data_set = _by_public_id(TestDataSet, run.options.get("testDataSetId"))
    # Secrets are decrypted here, in memory, for this run only.
    values, secret_values = environments.resolve(project, environment, data_set, run.options.get("variables") or {})
    base_url = run.options.get("baseUrl") or (environment.base_url if environment else None) or project.base_url
    # Secrets are typed only into pages of the run's base URL origin and the project's allowedOrigins.
    trusted = origins.TrustedOrigins([base_url], project.allowed_origins)
    networks = app.config["BROWSER_BLOCKED_NETWORKS"]
    jobs = []
    for entry in planned:
        test = tests.get(int(entry["testId"].removeprefix("TST-")))
        if test is None:
            continue
        setup_error, steps = None, test.steps
        try:
            steps = environments.substitute(test.steps, values)
        except environments.UndefinedVariable as exc:
            setup_error = (exc.index, str(exc))
        jobs.append(TestJob(
            run_id=run.id,
            position=entry["position"],
            test_id=test.id,
            name=test.name,
            steps=steps,
            viewport=test.viewport,
            base_url=base_url,
            browser=run.options.get("browserProfile") or "chromium",
            device=run.options.get("device") or "desktop",
            retries=dials.get("retries", 0),
            timeout_s=float(app.config["SENTRI_TEST_TIMEOUT_SECONDS"]),
            step_timeout_ms=int(app.config["SENTRI_STEP_TIMEOUT_MS"]),
            artifacts_dir=artifacts,
            deadline=deadline,
            secret_values=secret_values,
            trusted=trusted,
            blocked_networks=networks,
            setup_error=setup_error,
        ))
    return jobs, dials.get("parallelWorkers", 1)


def _by_public_id(model, public_id: str | None):
    from ..extensions import db
    from ..models import parse_public_id

    key = parse_public_id(model.ID_PREFIX, public_id) if public_id else None
    return db.session.get(model, key) if key else None


def _cancel(job: TestJob) -> None:
    if job.loop is not None and job.task is not None:
        job.loop.call_soon_threadsafe(job.task.cancel)


class BrowserWorker(threading.Thread):
    """One browser worker: an event loop, a Playwright and a Chromium kept warm between tests."""

    def __init__(self, engine: RunEngine, index: int) -> None:
        super().__init__(name=f"sentri-browser-{index}", daemon=True)
        self.engine = engine
        self.loop = asyncio.new_event_loop()
        self.playwright = None
        self.browser = None  # the Chromium every worker keeps warm
        self.others: dict[str, object] = {}  # firefox / webkit, launched when a run asks for them
        self.hosts = HostCache()  # the guard's resolved host names, shared by this worker's tests

    async def _ensure_browser(self):
        if self.browser is not None and self.browser.is_connected():
            return self.browser
        from playwright.async_api import async_playwright

        if self.playwright is None:
            self.playwright = await async_playwright().start()
        choice = find_chromium(self.engine.app.config.get("SENTRI_CHROMIUM_PATH"))
        self.browser = await launch_chromium(self.playwright.chromium, choice)
        return self.browser

    async def _browser_for(self, engine: str):
        if engine == "chromium":
            return await self._ensure_browser()
        browser = self.others.get(engine)
        if browser is None or not browser.is_connected():
            await self._ensure_browser()
            browser = await getattr(self.playwright, engine).launch(headless=True)
            self.others[engine] = browser
        return browser

    def _device(self, job: TestJob) -> dict | None:
        if job.device != "mobile":
            return None
        descriptor = dict(self.playwright.devices[MOBILE_DEVICES[job.browser]])
        descriptor.pop("default_browser_type", None)
        if job.browser == "firefox":
            descriptor.pop("is_mobile", None)  # Firefox cannot emulate a mobile viewport
        return descriptor

    async def _close(self) -> None:
        for other in self.others.values():
            try:
                await other.close()
            except Exception:
                pass
        for closer in (self.browser and self.browser.close, self.playwright and self.playwright.stop):
            if closer:
                try:
                    await closer()
                except Exception:
                    pass

    def run(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self._ensure_browser())
        except Exception as exc:  # reported per run when a test needs the browser
            log.warning("browser worker %s could not launch Chromium at start: %s", self.name, exc)
        while True:
            job = self.engine.next_job()
            if job is None:
                break
            try:
                self._run_job(job)
            except Exception:  # a worker thread must outlive any one test: never strand a run
                log.exception("worker %s failed around test %s of run %s", self.name, job.position, job.run_id)
                self.engine.release(job)
        self.loop.run_until_complete(self._close())
        self.loop.close()

    def _internal_error(self, job: TestJob, exc: Exception) -> dict:
        log.exception("test %s of run %s crashed", job.position, job.run_id, exc_info=exc)
        return {
            "test_id": job.test_id, "test_name": job.name, "position": job.position, "status": "failed",
            "error": f"internal error: {exc}"[:1000], "attempts": [], "base_url": job.base_url,
        }

    def _run_job(self, job: TestJob) -> None:
        skip_reason = self.engine.job_starting(job)
        if skip_reason:
            self.engine.job_done(job, None, skip_reason)
            return
        job.loop = self.loop
        result = None
        for try_number in (1, 2):
            try:
                browser = self.loop.run_until_complete(self._browser_for(job.browser))
                job.device_descriptor = self._device(job)
            except Exception as exc:  # BrowserUnavailable, or a browser that will not start
                self.engine.run_broken(job, f"The browser could not start: {exc}".splitlines()[0][:500])
                return
            task = self.loop.create_task(execute(browser, job, self.hosts))
            job.task = task
            if self.engine.is_aborted(job.run_id):
                task.cancel()  # the abort came while the browser was being readied: no task to cancel then
            try:
                result = self.loop.run_until_complete(task)
            except asyncio.CancelledError:
                result = None
            except VitalsUnavailable as exc:
                self.engine.run_broken(job, str(exc))
                return
            except PlaywrightError as exc:
                # A browser that crashed since the last test can still look connected until its pipe
                # is read; its first call fails outside the steps. Relaunch and run the test again.
                if try_number == 1:
                    log.warning("browser of %s was gone (%s); relaunching", self.name, str(exc).splitlines()[0])
                    self.browser = None
                    self.others.pop(job.browser, None)
                    continue
                result = self._internal_error(job, exc)
            except Exception as exc:  # a bug: the test fails, the run goes on
                result = self._internal_error(job, exc)
            break
        self.engine.job_done(job, result)
