"""A browser worker's crawl: one crawl claimed like a test, run on the worker's own event loop (its pages at
once up to the crawl's concurrency), its outcome written; a mixin of BrowserWorker (browser_worker.py), whose
state it shares."""

from __future__ import annotations

import asyncio
import logging
import math
import threading
import time
from collections.abc import Callable
from functools import partial
from typing import Any

from flask import Flask

from ..crawl.visit import page_seconds
from ..queue import crawl_ends, crawls
from ..queue.claims import Claim
from ..queue.crawls import CrawlClaim
from . import crawling
from .browser_set import WorkerBrowsers
from .guard import HostCache
from .job_spec import SLACK_SECONDS

log = logging.getLogger("sentri.worker.browser_worker")  # one logger for what a worker does
# A stop signal to the whole process group reaches Playwright's driver and this process together: a browser
# lost this long before the engine says it is stopping was lost to the stop.
STOP_SIGNAL_SECONDS = 2.0


class CrawlDuty:
    """What BrowserWorker is made of that a crawl uses (set in its __init__)."""

    app: Flask
    engine: Any
    loop: asyncio.AbstractEventLoop
    browsers: WorkerBrowsers
    hosts: HostCache
    current: Claim | CrawlClaim | None
    alive_at: float
    due: float
    _lock: threading.Lock
    _task: asyncio.Task | None
    _cancel_reason: str | None
    _ticker: asyncio.TimerHandle | None
    _tick: Callable[[], None]
    _return_slot: Callable[[], None]
    _write: Callable[..., None]
    _shown: Callable[[str], str]

    def _run_crawl(self, claim: CrawlClaim) -> None:
        """Crawl on this worker's loop (its pages at once up to the crawl's concurrency); write the outcome."""
        with self._lock:
            self.current, self._cancel_reason = claim, None
        with self.app.app_context():
            try:
                plan = crawling.build_plan(self.app, claim.crawl_id)
            except crawling.CrawlUnusable as exc:
                crawl_ends.fail(claim, str(exc))
                return
        outcome = None
        self.alive_at = time.monotonic()
        self.due = plan.deadline + page_seconds(plan.timeout_ms) + SLACK_SECONDS
        self._tick()
        try:
            try:
                browser = self.loop.run_until_complete(self.browsers.get(plan.browser))
                plan.device_descriptor = self.browsers.device(plan)
                plan.reach = self.browsers.reach()
            except Exception as exc:
                message = self._shown(f"The browser could not start: {exc}").splitlines()[0][:500]
                stopping = self.engine.stopping_within(STOP_SIGNAL_SECONDS)  # our stop took Playwright down
                self._write(
                    crawl_ends.release if stopping else partial(crawl_ends.fail, error=message), claim
                )
                return
            progress = crawling.Throttled(lambda counts: self._write(crawls.progress, claim, counts))
            task = self.loop.create_task(
                crawling.execute_crawl(
                    browser, plan, self.hosts, progress, lambda: self._cancel_reason is not None
                )
            )
            with self._lock:
                self._task = task
                cancelled = self._cancel_reason is not None
            if cancelled:
                task.cancel()
            try:
                outcome = self.loop.run_until_complete(task)
                if not browser.is_connected():  # its pages' errors were the browser's going, not the site's
                    outcome = None
                    if self.engine.stopping_within(STOP_SIGNAL_SECONDS):
                        with self._lock:
                            self._cancel_reason = self._cancel_reason or "shutdown"
                    else:
                        self.loop.run_until_complete(self.browsers.forget(plan.browser))
                        self._write(
                            crawl_ends.fail,
                            claim,
                            "the browser was lost during the crawl (it crashed, or its "
                            "browser server went away); crawl again",
                        )
                        return
            except asyncio.CancelledError:
                outcome = None
            except Exception as exc:  # a bug or a dead browser: the crawl fails, the worker goes on
                log.exception("CRL-%s crashed", claim.crawl_id)
                self._write(crawl_ends.fail, claim, self._shown(f"internal error: {exc}")[:1000])
                return
        finally:
            self.due = math.inf
            self._return_slot()
            if self._ticker is not None:
                self._ticker.cancel()
                self._ticker = None
        with self._lock:
            reason = self._cancel_reason
        if reason == "overdue":
            self.loop.run_until_complete(self.browsers.forget(plan.browser))
            self._write(
                crawl_ends.fail,
                claim,
                "the crawl outlived its time limit (SENTRI_CRAWL_MAX_SECONDS, or its run's "
                "budgetMinutes) and every page's own; Sentri gave it up",
            )
        elif reason is None and outcome is not None:
            self._write(crawl_ends.finish, claim, outcome)
        elif reason == "shutdown":
            self._write(crawl_ends.release, claim)
        else:  # stopped, or lost: a crawl still ours whose run ended is closed as aborted, else left alone
            self._write(crawl_ends.stopped, claim)
