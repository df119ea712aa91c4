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
import threading
import time
from pathlib import Path

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import async_playwright

from ..runs import claims, crawls, lifecycle
from ..runs.claims import Claim
from ..runs.crawls import CrawlClaim
from . import crawling, vitals_probe
from .browsers import find_chromium, launch_chromium
from .executor import TestJob, context_options, execute
from .guard import HostCache
from .jobs import RunUnusable
from .remote import Endpoint
from .spare import Spare, settle

log = logging.getLogger("sentri.worker")
# Playwright's device descriptors used for `device: mobile`, per engine.
MOBILE_DEVICES = {"chromium": "Pixel 7", "webkit": "iPhone 13", "firefox": "Pixel 7"}
IDLE_POLL_SECONDS = 0.5  # how often a worker waiting for a browser server's free slot looks again
SLOT_WAIT_SECONDS = 30.0  # how long a claimed test waits for a browser server slot before failing its run


class BrowserWorker(threading.Thread):
    """Claim, execute, record; until the engine stops. Its current claim can be cancelled from other
    threads (`cancel`) and proves the worker alive (`alive_at`, ticked by its own loop)."""

    def __init__(self, engine, index: int) -> None:
        super().__init__(name=f"sentri-browser-{index}", daemon=True)
        self.engine = engine
        self.app = engine.app
        self.loop = asyncio.new_event_loop()
        self.playwright = None
        self.browser = None  # the Chromium every worker keeps warm
        self.others: dict[str, object] = {}  # firefox / webkit, launched when a run asks for them
        self.remote: dict[tuple[str, str], object] = {}  # (endpoint, engine) -> browser on a browser server
        self.slot: Endpoint | None = None  # the browser server slot the current test holds
        self.used_endpoint: str | None = None  # the browser server the last test ran on, as it is shown
        self.hosts = HostCache()  # the guard's resolved host names, shared by this worker's tests
        self.spare = Spare()  # a page opened while idle, for the next test (local browsers only)
        self.spare_like: tuple | None = None  # (browser, context options) of the last test run here
        self._lock = threading.Lock()
        self.current: Claim | None = None
        self._task: asyncio.Task | None = None
        self._cancel_reason: str | None = None
        self.alive_at = time.monotonic()
        self._ticker: asyncio.TimerHandle | None = None

    # -- called from other threads -----------------------------------------------------------------

    def claimed(self) -> Claim | None:
        """The claim this worker holds, if any."""
        with self._lock:
            return self.current

    def cancel(self, reason: str, result_id: int | None = None, crawl_id: int | None = None) -> None:
        """Stop the current test: 'stop' (its run stops), 'lost' (the row is not ours), 'shutdown'. With
        `result_id`, only if that is still the row being run: the worker may have moved on to another
        since the caller looked (a stop meant for a finished test must not hit the next one)."""
        with self._lock:
            if self.current is None or (result_id is not None and self.current.result_id != result_id) or \
                    (crawl_id is not None and getattr(self.current, "crawl_id", None) != crawl_id):
                return
            if self._cancel_reason is None or reason == "lost":
                self._cancel_reason = reason
            task = self._task
        if task is not None:
            self.loop.call_soon_threadsafe(task.cancel)

    # -- the browser ---------------------------------------------------------------------------------

    async def _ensure_browser(self):
        if self.browser is not None and self.browser.is_connected():
            return self.browser
        if self.browser is not None:  # it died: close what is left of it before launching another
            await _quietly(self.browser.close())
            self.browser = None
        if self.playwright is None:
            self.playwright = await async_playwright().start()
        choice = find_chromium(self.app.config.get("SENTRI_CHROMIUM_PATH"))
        self.browser = await launch_chromium(self.playwright.chromium, choice)
        return self.browser

    async def _browser_for(self, engine: str):
        if self.engine.pool is not None:
            return await self._remote_browser(engine)
        if engine == "chromium":
            return await self._ensure_browser()
        browser = self.others.get(engine)
        if browser is None or not browser.is_connected():
            if browser is not None:
                await _quietly(browser.close())
            await self._ensure_browser()
            browser = await getattr(self.playwright, engine).launch(headless=True)
            self.others[engine] = browser
        return browser

    async def _remote_browser(self, engine: str):
        """A browser on the browser server with the most free slots, holding one of its slots until the test
        ends (connected once per endpoint and engine, reconnected when it dropped)."""
        pool = self.engine.pool
        if self.playwright is None:
            self.playwright = await async_playwright().start()
        tried: set[str] = set()
        waited = 0.0
        while True:
            endpoint = pool.acquire(tried)
            if endpoint is None:
                if pool.all_down(tried) or waited >= SLOT_WAIT_SECONDS:
                    raise pool.unavailable()
                await asyncio.sleep(0.2)  # every answering server is busy: wait for a slot
                waited += 0.2
                continue
            browser = self.remote.get((endpoint.url, engine))
            if browser is None or not browser.is_connected():
                if browser is not None:
                    await _quietly(browser.close())
                try:
                    browser = await getattr(self.playwright, engine).connect(endpoint.url, **pool.connect_options())
                except Exception as exc:
                    pool.refused(endpoint, exc)
                    pool.release(endpoint)
                    tried.add(endpoint.url)
                    continue
                self.remote[(endpoint.url, engine)] = browser
            pool.answered(endpoint)
            self.slot = endpoint
            return browser

    def _release_slot(self) -> None:
        if self.slot is not None:
            self.used_endpoint = self.slot.name
            self.engine.pool.release(self.slot)
            self.slot = None

    def _device(self, job: TestJob) -> dict | None:
        if job.device != "mobile":
            return None
        descriptor = dict(self.playwright.devices[MOBILE_DEVICES[job.browser]])
        descriptor.pop("default_browser_type", None)
        if job.browser == "firefox":
            descriptor.pop("is_mobile", None)  # Firefox cannot emulate a mobile viewport
        return descriptor

    async def _close(self) -> None:
        await self.spare.close()
        for other in [*self.others.values(), *self.remote.values()]:
            await _quietly(other.close())
        if self.browser is not None:
            await _quietly(self.browser.close())
        if self.playwright is not None:
            await _quietly(self.playwright.stop())

    # -- the loop ------------------------------------------------------------------------------------

    def run(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            if self.engine.pool is None:  # browser servers are connected to when a test needs one
                self.loop.run_until_complete(self._ensure_browser())
        except Exception as exc:  # reported per run when a test needs the browser
            log.warning("browser worker %s could not launch Chromium at start: %s", self.name, exc)
        busy = False
        while not self.engine.stopping:
            seen = self.engine.work_signal()
            if self.engine.pool is not None and not self.engine.pool.has_room():
                self.engine.wait_for_work(seen, IDLE_POLL_SECONDS)  # no free slot: claim nothing yet
                continue
            try:
                claim = self.engine.claim(look_first=not busy)
            except Exception:  # the database is busy or gone for a moment: try again shortly
                log.exception("worker %s could not claim a test", self.name)
                claim = None
            busy = claim is not None
            if claim is None:
                self._prepare_spare()
                self.loop.run_until_complete(settle())  # the last test's context is closed (and a spare opened)
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
                    self._write(crawls.fail, claim, "an internal error stopped its worker")
                else:
                    self._write(claims.release, claim, "an internal error stopped its worker")
            finally:
                with self._lock:
                    self.current, self._task, self._cancel_reason = None, None, None
        self.loop.run_until_complete(self._close())
        self.loop.close()

    def _prepare_spare(self) -> None:
        """Going idle: open the next test's page now, like the last test's (a desktop Chromium page at
        first), so that a run's first step does not wait for it (issue 16: < 0.3 s from the 202). Only
        while idle: opened during a run, beside a test, the spare was measured to cost more CPU than it
        saved on a 2-core machine."""
        if self.engine.pool is not None:
            return
        browser, options = self.spare_like or (self.browser, {})
        if browser is not None and browser.is_connected():
            self.spare.prepare(browser, options, vitals_probe.arm)

    def _write(self, function, *args) -> None:
        with self.app.app_context():
            function(*args)

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
                claims.record_stopped(claim)
                return
            if job is None:  # its test was deleted since the run was planned
                claims.record(claim, {"status": "skipped", "skip_reason": "deleted", "attempts": []})
                return
        result = self._execute(job)
        if result is not None and self.used_endpoint is not None:
            # Which browser server ran each attempt (the lease owner says which Sentri process did).
            result["attempts"] = [{**a, "browserServer": self.used_endpoint} for a in result.get("attempts") or []]
        with self._lock:
            reason = self._cancel_reason
        with self.app.app_context():
            if result is not None:
                for artifact in ("screenshot", "trace"):
                    if result.get(artifact):
                        result[artifact] = str(Path(result[artifact]).relative_to(self.app.instance_path))
                claims.record(claim, result)
            elif reason == "shutdown":
                claims.release(claim)  # handed back: another process (or the next start) runs it
            elif reason == "stop" or reason is None:
                claims.record_stopped(claim)
            # "lost": the row is no longer ours; whatever we had is dropped

    def _run_crawl(self, claim: CrawlClaim) -> None:
        """Crawl on this worker's loop (its pages at once up to the crawl's concurrency); write the outcome."""
        with self._lock:
            self.current, self._cancel_reason = claim, None
        with self.app.app_context():
            try:
                plan = crawling.build_plan(self.app, claim.crawl_id)
            except crawling.CrawlUnusable as exc:
                crawls.fail(claim, str(exc))
                return
        outcome = None
        self.alive_at = time.monotonic()
        self._tick()
        try:
            try:
                browser = self.loop.run_until_complete(self._browser_for(plan.browser))
                plan.device_descriptor = self._device(plan)
            except Exception as exc:
                message = self._shown(f"The browser could not start: {exc}").splitlines()[0][:500]
                self._write(crawls.fail, claim, message)
                return
            progress = crawling.Throttled(lambda counts: self._write(crawls.progress, claim, counts))
            task = self.loop.create_task(crawling.execute_crawl(browser, plan, self.hosts, progress,
                                                                lambda: self._cancel_reason is not None))
            with self._lock:
                self._task = task
                cancelled = self._cancel_reason is not None
            if cancelled:
                task.cancel()
            try:
                outcome = self.loop.run_until_complete(task)
            except asyncio.CancelledError:
                outcome = None
            except Exception as exc:  # a bug or a dead browser: the crawl fails, the worker goes on
                log.exception("CRL-%s crashed", claim.crawl_id)
                self._write(crawls.fail, claim, self._shown(f"internal error: {exc}")[:1000])
                return
        finally:
            self._release_slot()
            if self._ticker is not None:
                self._ticker.cancel()
                self._ticker = None
        with self._lock:
            reason = self._cancel_reason
        if reason is None and outcome is not None:
            self._write(crawls.finish, claim, outcome)
        elif reason == "shutdown":
            self._write(crawls.release, claim)
        else:  # stopped, or lost: a crawl still ours whose run ended is closed as aborted, else left alone
            self._write(crawls.stopped, claim)

    def _execute(self, job: TestJob) -> dict | None:
        """Run the job on this worker's loop; None when it was cancelled or the run cannot go on."""
        job.loop = self.loop
        self.used_endpoint = None
        self.alive_at = time.monotonic()
        self._tick()
        try:
            for try_number in (1, 2):
                try:
                    browser = self.loop.run_until_complete(self._browser_for(job.browser))
                    job.device_descriptor = self._device(job)
                    self.spare_like = (browser, context_options(job))
                except Exception as exc:  # BrowserUnavailable, or a browser that will not start
                    message = self._shown(f"The browser could not start: {exc}").splitlines()[0][:500]
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
                    return None
                except vitals_probe.VitalsUnavailable as exc:
                    self._write(lifecycle.fail, job.run_id, str(exc))
                    return None
                except PlaywrightError as exc:
                    # A browser that crashed since the last test can still look connected until its pipe
                    # is read; its first call fails outside the steps. Relaunch and run the test again.
                    if try_number == 1:
                        log.warning("browser of %s was gone (%s); relaunching", self.name,
                                    self._shown(str(exc)).splitlines()[0])
                        self.loop.run_until_complete(self._forget_browser(job.browser))
                        continue
                    return self._internal_error(job, exc)
                except Exception as exc:  # a bug: the test fails, the run goes on
                    return self._internal_error(job, exc)
            return None
        finally:
            self._release_slot()
            if self._ticker is not None:
                self._ticker.cancel()
                self._ticker = None

    async def _forget_browser(self, engine: str) -> None:
        if self.slot is not None:  # the browser server dropped it: reconnect (or go elsewhere) next time
            browser = self.remote.pop((self.slot.url, engine), None)
            self._release_slot()
            if browser is not None:
                await _quietly(browser.close())
            return
        browser = self.browser if engine == "chromium" else self.others.pop(engine, None)
        if browser is not None:
            await _quietly(browser.close())
        if engine == "chromium":
            self.browser = None

    def _internal_error(self, job: TestJob, exc: Exception) -> dict:
        log.exception("test %s of RUN-%s crashed", job.position, job.run_id, exc_info=exc)
        return {"status": "failed", "error": self._shown(f"internal error: {exc}")[:1000], "attempts": [],
                "base_url": job.base_url}

    def _shown(self, text: str) -> str:
        """Return an error fit to store or show: any browser server's URL (credentials and all) as its name."""
        return self.engine.pool.scrub(text) if self.engine.pool is not None else text


async def _quietly(awaitable) -> None:
    """Await a close that may fail or hang (a dead browser): bounded, errors ignored."""
    try:
        await asyncio.wait_for(awaitable, timeout=10)
    except Exception:
        pass
