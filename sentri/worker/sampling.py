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
"""

from __future__ import annotations

import asyncio
import statistics
from collections.abc import Awaitable, Callable
from typing import Any

from playwright.async_api import Error as PlaywrightError

from . import vitals_probe

LOAD_METRICS = ("lcp", "cls", "ttfb")
SETTLE_MS = 2_000  # at most this long for the network to go idle after the load event
# A paint later than this after load and after the page's previous LCP candidate (and after the moment the
# test's own visit saw its LCP) is not waited for; every sample costs about this much after its load.
QUIET_MS = 1_000


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
    taken: dict[str, dict[str, list[float]]] = {url: {m: [] for m in LOAD_METRICS} for url in urls}
    # When the test's own visit saw its LCP: a sample is not read before the page got that far.
    seen = {
        url: max(
            (float(row["lcp"]) for row in rows if row.get("url") == url and row.get("lcp") is not None),
            default=0.0,
        )
        for url in urls
    }
    try:
        async with asyncio.timeout(budget_s):
            for _ in range(extra):
                for url in urls:
                    reading = await _load(new_context, url, timeout_ms, seen[url])
                    for metric in LOAD_METRICS:
                        if reading and reading.get(metric) is not None:
                            taken[url][metric].append(round(float(reading[metric]), 4))  # as the probe rounds
    except TimeoutError:
        pass
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


async def _load(new_context, url: str, timeout_ms: int, floor_ms: float) -> dict | None:
    context, _guard = await new_context()
    try:
        await context.add_init_script(vitals_probe.init_script())
        page = await context.new_page()
        await page.goto(url, wait_until="load", timeout=timeout_ms)
        try:
            await page.wait_for_load_state("networkidle", timeout=SETTLE_MS)
        except PlaywrightError:  # a page that keeps polling: read what there is
            pass
        try:
            await vitals_probe.settle(
                page, quiet_ms=QUIET_MS, floor_ms=min(floor_ms, timeout_ms), most_ms=timeout_ms
            )
        except TimeoutError:  # a page that holds the wait up: read what there is
            pass
        reading = await vitals_probe.read(page)
    except (PlaywrightError, TimeoutError):  # refused, unreachable, crashed or hostile: no sample
        return None
    finally:
        try:
            await asyncio.wait_for(asyncio.shield(context.close()), timeout=10)
        except Exception:
            pass
    if not reading or reading.get("url") != url:
        return None
    return reading
