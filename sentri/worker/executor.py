"""Run one test in a fresh browser context on a worker's event loop: attempts, timeout, screenshot."""

from __future__ import annotations

import asyncio
import re
import time
from functools import partial
from pathlib import Path

from playwright.async_api import Browser
from playwright.async_api import Error as PlaywrightError

from .. import vault
from ..models import utcnow
from ..queue.outcome import Attempt, Outcome, attempt
from ..states import ResultStatus
from . import sampling, vitals_probe
from .guard import HostCache, guard_context, guarded_context, install_routes
from .healer import StepHealer
from .job_spec import WRAP_UP_SECONDS, AttemptOutcome, BrowserLost, TestJob, context_options
from .page_check import PageWatch
from .snapshots import Snapshots
from .spare import Spare, background, close_quietly
from .steps import StepFailed, run_steps

# How long a failed attempt waits for the browser's disconnection to be seen before judging the failure the
# test's: Playwright reports a call's "closed" error and the browser's disconnection separately.
LOST_SETTLE_SECONDS = 1.0
_CLOSED = re.compile(r"has been closed|[Cc]onnection closed|[Bb]rowser closed|disconnected|Target closed")


async def _new_context(browser: Browser, job: TestJob, hosts: HostCache, storage: dict | None = None):
    """A fresh context behind the job's guard, and the guard."""
    return await guarded_context(browser, job, hosts, context_options(job), storage)


async def _ahead(job: TestJob, hosts: HostCache, context):
    """What a page opened at a test's end gets before its page opens: the vitals probe, and the routes a guard
    for a test like this one answers (the run's next test most likely)."""
    return await vitals_probe.arm(context), await install_routes(context, job, hosts)


async def _attempt(
    browser: Browser,
    job: TestJob,
    number: int,
    hosts: HostCache,
    spare: Spare | None = None,
    *,
    for_trace: bool = False,
) -> AttemptOutcome:
    """One attempt in a fresh context: the page an idle worker opened ahead when it matches (worker/spare.py),
    else its own.
    `for_trace`: a re-run made for its trace, kept whatever its outcome (and no screenshot: the failure's
    own is kept)."""
    opened = await spare.take(browser, context_options(job)) if spare is not None else None
    if opened is not None:
        # An idle worker's spare is armed (prepare(..., vitals_probe.arm)); one opened at a test's end has the
        # routes for its next test's guard too (_ahead).
        context, page, ready, gate = opened
        vitals, routes = ready if isinstance(ready, tuple) else (ready, None)
        guard = await guard_context(context, job, hosts, gate, routes)
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
            await run_steps(
                page,
                job.steps,
                job.base_url,
                timeout_ms=job.step_timeout_ms,
                before_step=at_step,
                guard=guard,
                snapshot=snapshots,
                healer=healer,
            )
            if watch is not None:
                await watch.settle()
                if watch.problems():
                    raise StepFailed(1, "goto", "; ".join(watch.problems()))
    except StepFailed as exc:
        outcome = AttemptOutcome(ResultStatus.FAILED, str(exc), exc.index, refused=exc.refused)
    except TimeoutError:
        outcome = AttemptOutcome(
            ResultStatus.FAILED,
            f"step {job.current_step}: the test did not finish within its {job.timeout_s:g} s timeout",
            job.current_step,
        )
    except asyncio.CancelledError:
        # Aborted: answer at once. Closing a context right after a cancelled call was seen to take
        # 10 s or more (an e2e run, with tracing on), so the close finishes on the loop later.
        background(close_quietly(context))
        raise
    outcome.duration_ms = int((time.monotonic() - started) * 1000)
    if spare is not None:
        # The next test's page opens while this one's last vitals are read (the page waits for its frames)
        # and its result is recorded: the same context the next test would open, only sooner.
        spare.prepare(browser, job.blocked_networks, context_options(job), partial(_ahead, job, hosts))
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


async def _wrap_up(
    page,
    context,
    job: TestJob,
    number: int,
    vitals,
    outcome: AttemptOutcome,
    snapshots,
    healer,
    tracing: bool,
    for_trace: bool,
) -> None:
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
    kept_in = (
        job.artifacts_dir if not outcome.refused and (failed or for_trace) else None
    )  # None: nothing kept
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


async def execute(
    browser: Browser, job: TestJob, hosts: HostCache | None = None, spare: Spare | None = None
) -> Outcome:
    """Run the job with its retries and return the fields of its Result row, secrets masked.
    Only the final attempt's screenshot and trace are kept; earlier attempts' files are deleted.
    `spare`: the page the worker opened ahead while it was idle, taken by the first attempt it fits."""
    hosts = hosts or HostCache()
    job.task = asyncio.current_task()
    started_at = utcnow()
    if job.setup_error is not None:
        step, message = job.setup_error
        return _masked(
            job,
            {
                "test_id": job.test_id,
                "test_name": job.name,
                "position": job.position,
                "status": ResultStatus.FAILED,
                "error": message,
                "failing_step": step,
                "duration_ms": 0,
                "attempts": [attempt(ResultStatus.FAILED, message, step, 0)],
                "flaky": False,
                "base_url": job.base_url,
                "vitals": [],
                "screenshot": None,
                "started_at": started_at,
                "finished_at": utcnow(),
            },
        )
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
        vitals = await sampling.sample(
            partial(_new_context, browser, job, hosts, outcome.storage),
            vitals,
            job.vitals_samples - 1,
            job.step_timeout_ms,
            job.timeout_s,
        )
    if last["status"] == ResultStatus.PASSED:
        _delete(screenshot, trace)  # failed, then passed on a retry: nothing to look at
        screenshot = trace = None
    elif trace is None and not outcome.refused and not job.uses_secrets and job.artifacts_dir is not None:
        trace, repeated = await _trace_rerun(browser, job, len(attempts) + 1, hosts, spare)
        if trace is not None and not repeated:
            last = {
                **last,
                "error": f"{last['error']} (The trace is of a run made to record it, which passed.)",
            }
    return _masked(
        job,
        {
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
        },
    )


async def _trace_rerun(
    browser: Browser, job: TestJob, number: int, hosts: HostCache, spare: Spare | None
) -> tuple[str | None, bool]:
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
