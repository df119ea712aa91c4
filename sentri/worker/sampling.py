"""More than one sample of each page's load metrics (vitalsSamples): a single lab reading is noisy.

After a test passes, every page it visited is loaded again `extra` times, each time in a fresh context
(behind the same guard, with the cookies and storage the test ended with), and its LCP, CLS and TTFB read
once the page is still, as the test's own visit was when its steps had waited for what they check:
- the network has been idle (Playwright's networkidle: no request for 500 ms; at most SETTLE_MS), and
- no new LCP candidate has been painted for QUIET_MS after the later of the load event, the last candidate
  and the time the test's own visit saw its LCP (a hero the test waited for, painted by a timer or a late
  fetch, is in every sample), at most the step timeout.
Reading at networkidle alone took 2 to 4 of 4 samples (4 of 4 on bench/vitals_regression.py's /hero) before
a hero painted 300-800 ms after load: their LCP was the heading's, and a slowdown read as an improvement.
The page row keeps every sample (`samples`) and reports their median; INP stays the test's own, per
interaction. A load that fails, is refused by the guard, or ends on another URL (a redirect to a login
page) gives no sample: what is measured is always the page the test visited.

A page's samples overlap where they only wait: one sample at a time opens its context, loads the page and
waits out its paints (to PAINT_MS after the later of load, its last candidate and the test's own LCP); the
next one starts loading while the first waits for quiet, up to OVERLAP open at once; a context's close waits
its turn too. One after another, each sample's quiet second was idle: 5 samples cost a run of 10 one-page
tests at parallelWorkers 2 8.1x a 1-sample run (bench/vitals_samples.py; 5.7x now). Measured on 2 shared
cores, medians of /page's LCP/TTFB against the same samples one after another, in the same process:
- loads started together: 548/261 ms against 96/19 (two workers) - not done;
- loads one at a time, waits together: one worker 86/18 against 84/19 (a page's 4 samples in 2.6 s, not
  5.5); two workers 112/22 against 92/19 (3.0 s, not 5.8): each worker's loads come closer together, so
  they meet the other worker's loads more often, as the tests' own visits do (theirs read 106/24).
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
from collections.abc import Awaitable, Callable
from typing import Any

from playwright.async_api import Error as PlaywrightError

from . import vitals_probe
from .spare import background

LOAD_METRICS = ("lcp", "cls", "ttfb")
SETTLE_MS = 2_000  # at most this long for the network to go idle after the load event
# A paint later than this after load and after the page's previous LCP candidate (and after the moment the
# test's own visit saw its LCP) is not waited for; every sample costs about this much after its load.
QUIET_MS = 1_000
# A sample's own paints up to this long after the later of load, its last candidate and the test's own LCP
# happen before the next sample starts loading: a load beside them would slow them (see above).
PAINT_MS = 100
OVERLAP = 4  # samples open at once (each waiting for quiet, at most one loading)


async def sample(
    new_context: Callable[[], Awaitable[tuple[Any, Any]]],
    rows: list[dict],
    extra: int,
    timeout_ms: int,
    budget_s: float,
) -> list[dict]:
    """Return the page rows with `extra` more samples of their load metrics each (fewer when the test's
    time budget runs out first: the samples taken so far are kept)."""
    urls = list(
        dict.fromkeys(row["url"] for row in rows if str(row.get("url", "")).startswith(("http:", "https:")))
    )
    # When the test's own visit saw its LCP: a sample is not read before the page got that far.
    seen = {
        url: max(
            (float(row["lcp"]) for row in rows if row.get("url") == url and row.get("lcp") is not None),
            default=0.0,
        )
        for url in urls
    }
    plan = [url for _ in range(extra) for url in urls]
    readings: list[dict | None] = [None] * len(plan)
    room, busy = asyncio.Semaphore(OVERLAP), asyncio.Lock()  # both wake their waiters in order

    async def one(index: int, url: str) -> None:
        async with room:
            readings[index] = await _load(new_context, url, timeout_ms, seen[url], busy)

    tasks = [asyncio.ensure_future(one(index, url)) for index, url in enumerate(plan)]
    try:
        async with asyncio.timeout(budget_s):
            await asyncio.gather(*tasks)
    except TimeoutError:
        pass
    finally:
        for task in tasks:  # the budget ran out (or the job was cancelled): each closes its context
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    taken: dict[str, dict[str, list[float]]] = {url: {m: [] for m in LOAD_METRICS} for url in urls}
    for url, reading in zip(plan, readings, strict=True):
        for metric in LOAD_METRICS:
            if reading and reading.get(metric) is not None:
                taken[url][metric].append(round(float(reading[metric]), 4))  # as the probe rounds
    return [merged(row, taken.get(row.get("url"))) for row in rows]


def merged(row: dict, extra: dict[str, list[float]] | None) -> dict:
    """A page row with its extra samples: `samples` per metric (the test's own reading first), and the
    median as the metric's value."""
    if not extra or not any(extra.values()):
        return row
    samples = {}
    for metric in LOAD_METRICS:
        values = ([row[metric]] if row.get(metric) is not None else []) + extra.get(metric, [])
        if values:
            samples[metric] = values
    medians = {metric: round(float(statistics.median(values)), 4) for metric, values in samples.items()}
    return {**row, **medians, "samples": samples}


async def _load(new_context, url: str, timeout_ms: int, floor_ms: float, busy: asyncio.Lock) -> dict | None:
    floor_ms = min(floor_ms, timeout_ms)
    async with busy:
        context, _guard = await new_context()
        try:
            page = await _open(context, url, timeout_ms, floor_ms)
        except BaseException:  # cancelled: the close goes on (the lock is still held: it needs no turn)
            background(_close(context))
            raise
    try:
        if page is None:
            return None
        try:
            await page.wait_for_load_state("networkidle", timeout=SETTLE_MS)
        except PlaywrightError:  # a page that keeps polling: read what there is
            pass
        try:
            await vitals_probe.settle(page, quiet_ms=QUIET_MS, floor_ms=floor_ms, most_ms=timeout_ms)
        except TimeoutError:  # a page that holds the wait up: read what there is
            pass
        reading = await vitals_probe.read(page)
    except (PlaywrightError, TimeoutError):  # crashed or hostile: no sample
        return None
    finally:
        # Shielded: a second cancel (the budget's, then the job's) must not leave the context open.
        await asyncio.shield(background(_close(context, busy)))
    if not reading or reading.get("url") != url:
        return None
    return reading


async def _open(context, url: str, timeout_ms: int, floor_ms: float):
    """Load the page and wait out its paints up to PAINT_MS after the later of load, its last candidate and
    `floor_ms` (the next sample's load waits for this); None when the load fails or is refused."""
    try:
        await context.add_init_script(vitals_probe.init_script())
        page = await context.new_page()
        await page.goto(url, wait_until="load", timeout=timeout_ms)
    except PlaywrightError:  # refused, unreachable, timed out or crashed
        return None
    try:
        # Bounded by the paint window from the load on: a page painting new candidates all the time goes on
        # waiting for quiet without holding the next sample up.
        await vitals_probe.settle(page, quiet_ms=PAINT_MS, floor_ms=floor_ms, most_ms=floor_ms + PAINT_MS)
    except (PlaywrightError, TimeoutError):  # a page that holds the wait up: its quiet wait says the rest
        pass
    return page


async def _close(context, busy: asyncio.Lock | None = None) -> None:
    """Close a sample's context, bounded, in its turn (a close beside a load slows it too)."""
    try:
        async with asyncio.timeout(10):
            async with busy if busy is not None else contextlib.nullcontext():
                await asyncio.shield(context.close())
    except Exception:
        pass
