"""More than one sample of each page's load metrics (vitalsSamples): a single lab reading is noisy.

After a test passes, every page it visited is loaded again `extra` times, each time in a fresh context
(behind the same guard, with the cookies and storage the test ended with), and its LCP, CLS and TTFB read
once the network has been idle (Playwright's networkidle: no request for 500 ms) or after a bounded wait.
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


async def sample(new_context: Callable[[], Awaitable[tuple[Any, Any]]], rows: list[dict], extra: int,
                 timeout_ms: int, budget_s: float) -> list[dict]:
    """Return the page rows with `extra` more samples of their load metrics each (fewer when the test's
    time budget runs out first: the samples taken so far are kept)."""
    urls = list(dict.fromkeys(row["url"] for row in rows if str(row.get("url", "")).startswith(("http:", "https:"))))
    taken: dict[str, dict[str, list[float]]] = {url: {m: [] for m in LOAD_METRICS} for url in urls}
    try:
        async with asyncio.timeout(budget_s):
            for _ in range(extra):
                for url in urls:
                    reading = await _load(new_context, url, timeout_ms)
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


async def _load(new_context, url: str, timeout_ms: int) -> dict | None:
    context, _guard = await new_context()
    try:
        await context.add_init_script(vitals_probe.init_script())
        page = await context.new_page()
        await page.goto(url, wait_until="load", timeout=timeout_ms)
        try:
            await page.wait_for_load_state("networkidle", timeout=SETTLE_MS)
        except PlaywrightError:  # a page that keeps polling: read what there is
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
