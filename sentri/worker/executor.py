"""Run one test in a fresh browser context on a worker's event loop: attempts, timeout, screenshot."""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass, field
from functools import cached_property, partial
from pathlib import Path
from typing import Any

from playwright.async_api import Browser
from playwright.async_api import Error as PlaywrightError

from .. import origins, vault
from ..models import utcnow
from ..queue.outcome import Attempt, Outcome, attempt
from ..states import ResultStatus
from . import sampling, vitals_probe
from .guard import HostCache, carries_secret, guard_context, guarded_context
from .healer import StepHealer
from .page_check import PageWatch
from .snapshots import Snapshots
from .spare import Spare, background, close_quietly
from .steps import DEFAULT_STEP_TIMEOUT_MS, StepFailed, run_steps

# After its steps, an attempt reads the last page's vitals, the hints, the storage for samples, the failure's
# screenshot and its trace: each bounded on its own, and all of them together by this.
WRAP_UP_SECONDS = 30.0
# Beyond what a job's own bounds allow (hard_deadline), the engine gives the job up (engine.py).
SLACK_SECONDS = 30.0


class BrowserLost(Exception):
    """The browser (or its server, or Playwright's driver) went away under an attempt: not the test's doing.
    `attempts` are the ones finished before it; str() says what was seen."""

    def __init__(self, reason: str, attempts: list[Attempt]) -> None:
        super().__init__(reason)
        self.attempts = attempts


# How long a failed attempt waits for the browser's disconnection to be seen before judging the failure the
# test's: Playwright reports a call's "closed" error and the browser's disconnection separately.
LOST_SETTLE_SECONDS = 1.0
_CLOSED = re.compile(r"has been closed|[Cc]onnection closed|[Bb]rowser closed|disconnected|Target closed")


@dataclass
class AttemptOutcome:
    """What one attempt found: its Attempt (as_attempt()), and what the test's result takes from the last one."""

    status: str = ResultStatus.PASSED
    error: str | None = None
    failing_step: int | None = None
    duration_ms: int = 0
    refused: bool = False  # the guard refused a request: no screenshot or trace is kept
    vitals: list[dict] | None = None
    snapshots: list[dict] | None = None
    healed: list[dict] = field(default_factory=list)
    hints: dict | None = None
    storage: dict | None = None  # cookies and storage the passing test ended with, for the vitals samples
    screenshot: str | None = None
    trace: str | None = None

    def as_attempt(self) -> Attempt:
        return attempt(self.status, self.error, self.failing_step, self.duration_ms)


@dataclass
class TestJob:
    """One test of one run, as a worker executes it."""

    __test__ = False  # not a pytest class

    run_id: int
    position: int
    test_id: int | None  # None for a page check
    name: str
    steps: list[dict]
    base_url: str
    viewport: dict | None = None
    retries: int = 0
    vitals_samples: int = 1  # page loads measured per visited page (the test's own, then fresh contexts)
    timeout_s: float = 60.0
    step_timeout_ms: int = DEFAULT_STEP_TIMEOUT_MS
    artifacts_dir: Path | None = None
    browser: str = "chromium"
    device: str = "desktop"
    device_descriptor: dict | None = None  # Playwright's descriptor for a mobile run, set by the worker
    secret_values: list[str] = field(default_factory=list, repr=False)  # masked in everything reported
    # Where secrets may be typed (the run's base URL origin and the project's allowedOrigins), and the
    # networks the browser must never reach (origins.parse_networks).
    trusted: origins.TrustedOrigins | None = None
    blocked_networks: tuple = origins.parse_networks(None)
    reach: tuple[str, tuple[str, ...]] = ("127.0.0.1", ())  # where its contexts' gates listen (egress.reach)
    setup_error: tuple[int, str] | None = None  # (step, message): e.g. an undefined {{NAME}}
    trace_mode: str = "rerun"  # SENTRI_TRACES: "rerun" (a failure is run again, traced) or "always"
    page_check: bool = False  # a crawl's page: it also fails on HTTP >= 400, exceptions, failed requests
    # expect_screenshot: the approved baselines {name@WxH: {"id", "sha256"}} for the run's browser and device,
    # the pictures a person rejected {name@WxH: [sha256]}, and the artifact store the pictures go to
    # (visual/store.py, stores/).
    baselines: dict[str, dict] = field(default_factory=dict)
    rejected_shots: dict[str, list[str]] = field(default_factory=dict)
    artifacts: Any = None  # where pictures are kept (sentri/stores): the instance folder or a bucket
    # Healing locators: on unless the project is strict; the last passing run's descriptions per step, the
    # targets a person rejected per step, and the target of a proposal waiting for review per step, tried
    # before the step's own (worker/healer.py).
    heal: bool = False
    remember: bool = False  # describe each target's element in this run (when the hints are missing or old)
    steps_hash: str = ""  # the version of the test's steps the hints belong to (review/recording.py)
    hints: dict[int, dict] = field(default_factory=dict)
    heal_refused: dict[int, list[dict]] = field(default_factory=dict)
    heal_pending: dict[int, dict] = field(default_factory=dict)
    # Set by the worker while the job runs, so that another thread can cancel it.
    loop: asyncio.AbstractEventLoop | None = field(default=None, repr=False)
    task: asyncio.Task | None = field(default=None, repr=False)
    current_step: int = 0

    @cached_property
    def uses_secrets(self) -> bool:
        """Tell whether any step holds a secret value (after {{NAME}} substitution)."""
        return any(carries_secret(step, self.secret_values) for step in self.steps)

    def traces(self, attempt: int) -> bool:
        """Tell whether this attempt records a Playwright trace. A trace records typed values and input
        snapshots and cannot be masked reliably, so a test that types a secret never keeps one (README).
        Tracing costs a passing test about a tenth of its time (bench/run_overhead.py), so by default only
        retries are traced (Playwright's "on-first-retry"), and a failure without one is run again for it."""
        return not self.uses_secrets and (self.trace_mode == "always" or attempt > 1)


def hard_deadline(job: TestJob) -> float:
    """Seconds after which a job has outlived every bound of its own: each attempt (and a trace re-run) its
    timeout plus its wrap-up, the extra vitals samples the timeout once more, and some slack. The engine gives a
    job up past it: its context is closed, the browser relaunched, its lease left to expire."""
    attempts = job.retries + 2
    return attempts * (job.timeout_s + WRAP_UP_SECONDS) + job.timeout_s + SLACK_SECONDS


def context_options(job: TestJob) -> dict[str, Any]:
    """Return new_context() options: the device's descriptor, then the test's own viewport."""
    options = dict(job.device_descriptor or {})
    if job.viewport:
        options["viewport"] = job.viewport
    return options


async def _new_context(browser: Browser, job: TestJob, hosts: HostCache, storage: dict | None = None):
    """A fresh context behind the job's guard, and the guard."""
    return await guarded_context(browser, job, hosts, context_options(job), storage)


async def _attempt(browser: Browser, job: TestJob, number: int, hosts: HostCache, spare: Spare | None = None, *,
                   for_trace: bool = False) -> AttemptOutcome:
    """One attempt in a fresh context: the page an idle worker opened ahead when it matches (worker/spare.py),
    else its own.
    `for_trace`: a re-run made for its trace, kept whatever its outcome (and no screenshot: the failure's
    own is kept)."""
    opened = await spare.take(browser, context_options(job)) if spare is not None else None
    if opened is not None:
        context, page, vitals, gate = opened  # the worker has its spares armed (prepare(..., vitals_probe.arm))
        guard = await guard_context(context, job, hosts, gate)
    else:
        (context, guard), vitals = await _new_context(browser, job, hosts), None
    tracing = for_trace or job.traces(number)
    if tracing:
        await context.tracing.start(screenshots=True, snapshots=True)
    if vitals is None:
        vitals = await vitals_probe.arm(context)
    if opened is None:
        page = await context.new_page()
    watch = PageWatch(page, job.steps[0]["url"]) if job.page_check else None
    snapshots = Snapshots(job, keep=not for_trace)
    snapshots.watch(page)  # before the first navigation: a screenshot waits for data still on its way
    healer = StepHealer(job) if job.heal else None
    started = time.monotonic()
    outcome = AttemptOutcome()

    async def at_step(index: int, step: dict) -> None:
        job.current_step = index

    try:
        async with asyncio.timeout(job.timeout_s):
            await run_steps(page, job.steps, job.base_url, timeout_ms=job.step_timeout_ms, before_step=at_step,
                            guard=guard, snapshot=snapshots, healer=healer)
            if watch is not None:
                await watch.settle()
                if watch.problems():
                    raise StepFailed(1, "goto", "; ".join(watch.problems()))
    except StepFailed as exc:
        outcome = AttemptOutcome(ResultStatus.FAILED, str(exc), exc.index, refused=exc.refused)
    except TimeoutError:
        outcome = AttemptOutcome(ResultStatus.FAILED, f"step {job.current_step}: the test did not finish within its "
                                           f"{job.timeout_s:g} s timeout", job.current_step)
    except asyncio.CancelledError:
        # Aborted: answer at once. Closing a context right after a cancelled call was seen to take
        # 10 s or more (an e2e run, with tracing on), so the close finishes on the loop later.
        background(close_quietly(context))
        raise
    outcome.duration_ms = int((time.monotonic() - started) * 1000)
    try:
        async with asyncio.timeout(WRAP_UP_SECONDS):
            await _wrap_up(page, context, job, number, vitals, outcome, snapshots, healer, tracing, for_trace)
    except TimeoutError:  # a page (or browser) that stops answering: what was gathered so far stands
        outcome.vitals = vitals.rows() if outcome.vitals is None else outcome.vitals
        outcome.snapshots = snapshots.entries if outcome.snapshots is None else outcome.snapshots
    # Not awaited: the close goes out with the next test's first calls (overlapping its new context), or
    # when the worker goes idle (settle()); bounded like every close.
    background(close_quietly(context))
    return outcome


async def _wrap_up(page, context, job: TestJob, number: int, vitals, outcome: AttemptOutcome, snapshots,
                   healer, tracing: bool, for_trace: bool) -> None:
    """What an attempt gathers after its steps (vitals, hints, storage for samples, the failure's screenshot
    and trace) into `outcome`; bounded as a whole by WRAP_UP_SECONDS in _attempt."""
    # Vitals of every page visited, a failed test's included (up to its failure): the pages left pushed
    # theirs (vitals_probe.arm); the one the test ends on is read now. Not timed.
    await vitals.snapshot(page)
    outcome.vitals = vitals.rows()
    outcome.snapshots = snapshots.entries
    outcome.healed = healer.healed if healer else []
    # Descriptions are remembered from a passing attempt only: a failing page may be the wrong one.
    passed = healer is not None and healer.seen and outcome.status == ResultStatus.PASSED
    outcome.hints = {"steps": job.steps_hash, "hints": healer.seen} if passed else None
    if job.vitals_samples > 1 and outcome.status == ResultStatus.PASSED and not for_trace:
        # The next samples load each page with the cookies and storage the test ended with (a page behind
        # a login stays behind it); held in memory only.
        outcome.storage = await _storage(context)
    # A refusal keeps no screenshot or trace: its sentence says what was refused, and the page may hold
    # whatever the refused navigation left half-drawn.
    failed = outcome.status == ResultStatus.FAILED
    kept_in = job.artifacts_dir if not outcome.refused and (failed or for_trace) else None  # None: nothing kept
    if kept_in is not None and not for_trace and failed:
        outcome.screenshot = await _screenshot(page, job, kept_in, number)
    if tracing:
        path = kept_in / f"{job.position:04d}-attempt{number}.zip" if kept_in is not None else None
        outcome.trace = await _stop_tracing(context, path)


# Painted over in the failure screenshot of a test that types secrets: what was typed stays unseen.
_FORM_FIELDS = "input:not([type=hidden]), textarea, select, [contenteditable]:not([contenteditable=false])"


async def _screenshot(page, job: TestJob, folder: Path, attempt: int) -> str | None:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{job.position:04d}-attempt{attempt}.png"
    mask = [page.locator(_FORM_FIELDS)] if job.uses_secrets else []
    try:
        await page.screenshot(path=str(path), timeout=5_000, mask=mask)
    except Exception:  # a crashed page has nothing to show; the error message still says why
        return None
    return str(path)


async def _stop_tracing(context, path: Path | None) -> str | None:
    try:
        await context.tracing.stop(path=str(path) if path else None)
    except Exception:  # a crashed page cannot hand its trace over; the error still says why
        return None
    return str(path) if path else None


async def _storage(context) -> dict | None:
    try:
        return await context.storage_state()
    except Exception:  # a crashed page: the samples start from a clean context
        return None


async def execute(browser: Browser, job: TestJob, hosts: HostCache | None = None,
                  spare: Spare | None = None) -> Outcome:
    """Run the job with its retries and return the fields of its Result row, secrets masked.
    Only the final attempt's screenshot and trace are kept; earlier attempts' files are deleted.
    `spare`: the page the worker opened ahead while it was idle, taken by the first attempt it fits."""
    hosts = hosts or HostCache()
    job.task = asyncio.current_task()
    started_at = utcnow()
    if job.setup_error is not None:
        step, message = job.setup_error
        return _masked(job, {
            "test_id": job.test_id, "test_name": job.name, "position": job.position, "status": ResultStatus.FAILED,
            "error": message, "failing_step": step, "duration_ms": 0,
            "attempts": [attempt(ResultStatus.FAILED, message, step, 0)],
            "flaky": False, "base_url": job.base_url, "vitals": [], "screenshot": None,
            "started_at": started_at, "finished_at": utcnow(),
        })
    attempts: list[Attempt] = []
    screenshot = trace = None
    vitals: list[dict] = []
    for number in range(1, job.retries + 2):
        try:
            outcome = await _attempt(browser, job, number, hosts, spare)
        except PlaywrightError as exc:  # outside the steps: a dead browser, or a bug
            if await _lost(browser, str(exc)):
                raise BrowserLost(_first_line(exc), attempts) from exc
            raise
        if outcome.status == ResultStatus.FAILED and await _lost(browser, outcome.error or ""):
            raise BrowserLost(outcome.error or "the browser disconnected", attempts)
        vitals = outcome.vitals or []
        attempts.append(outcome.as_attempt())
        if outcome.screenshot or outcome.trace:
            _delete(screenshot, trace)  # an earlier attempt's: only the last failure is kept
            screenshot, trace = outcome.screenshot, outcome.trace
        if outcome.status == ResultStatus.PASSED:
            break
    last = attempts[-1]
    if last["status"] == ResultStatus.PASSED and job.vitals_samples > 1 and vitals:
        vitals = await sampling.sample(partial(_new_context, browser, job, hosts, outcome.storage),
                                       vitals, job.vitals_samples - 1, job.step_timeout_ms, job.timeout_s)
    if last["status"] == ResultStatus.PASSED:
        _delete(screenshot, trace)  # failed, then passed on a retry: nothing to look at
        screenshot = trace = None
    elif trace is None and not outcome.refused and not job.uses_secrets and job.artifacts_dir is not None:
        trace, repeated = await _trace_rerun(browser, job, len(attempts) + 1, hosts, spare)
        if trace is not None and not repeated:
            last = {**last, "error": f"{last['error']} (The trace is of a run made to record it, which passed.)"}
    return _masked(job, {
        "test_id": job.test_id,
        "test_name": job.name,
        "position": job.position,
        "status": last["status"],
        "error": last["error"],
        "failing_step": last["failingStep"],
        "duration_ms": sum(a["durationMs"] or 0 for a in attempts),  # every attempt here was timed
        "attempts": attempts,
        # Failed, then passed on a retry: passed, and counted as flaky.
        "flaky": last["status"] == ResultStatus.PASSED and len(attempts) > 1,
        "base_url": job.base_url,
        "vitals": vitals,  # of the last attempt: the one whose outcome counts
        "screenshot": screenshot if last["status"] == ResultStatus.FAILED else None,
        "trace": trace if last["status"] == ResultStatus.FAILED else None,
        "snapshots": outcome.snapshots or None,  # of the last attempt, like vitals
        "healed": outcome.healed or None,
        "hints": outcome.hints,
        "started_at": started_at,
        "finished_at": utcnow(),
    })


async def _trace_rerun(browser: Browser, job: TestJob, number: int, hosts: HostCache,
                       spare: Spare | None) -> tuple[str | None, bool]:
    """Run a failed test once more, traced, for its trace only: its outcome changes nothing but a note.
    Return the trace's path and whether the failure repeated."""
    try:
        outcome = await _attempt(browser, job, number, hosts, spare, for_trace=True)
    except Exception:  # PlaywrightError and the like: the failure stands without a trace
        return None, True
    return outcome.trace, outcome.status == ResultStatus.FAILED


async def _lost(browser: Browser, error: str) -> bool:
    """Tell whether the browser is gone (disconnected). When the error says something was closed, wait up to
    LOST_SETTLE_SECONDS for Playwright to report the disconnection; an ordinary failure pays nothing."""
    if not browser.is_connected():
        return True
    if not _CLOSED.search(error):
        return False
    deadline = time.monotonic() + LOST_SETTLE_SECONDS
    while browser.is_connected():
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(0.05)
    return True


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:500]


def _delete(*paths: str | None) -> None:
    for path in paths:
        if path:
            Path(path).unlink(missing_ok=True)


def _masked(job: TestJob, result: Outcome) -> Outcome:
    """Replace the run's secret values in every text the result carries with ••••."""
    if not job.secret_values:
        return result
    hide = partial(vault.mask, values=job.secret_values)
    result["error"] = hide(result.get("error"))
    result["attempts"] = [{**a, "error": hide(a.get("error"))} for a in result.get("attempts") or []]
    result["vitals"] = [{**row, "url": hide(row.get("url"))} for row in result.get("vitals") or []]
    if healed := result.get("healed"):  # a target may name a {{NAME}} value
        masked = lambda target: {k: hide(v) if isinstance(v, str) else v for k, v in target.items()}  # noqa: E731
        result["healed"] = [{**h, "from": masked(h["from"]), "to": masked(h["to"])} for h in healed]
    return result
