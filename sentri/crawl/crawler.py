"""Crawl a site in one guarded browser context: seeds, then links breadth-first, several pages at once.

Seeds, in this order: the base URL and `extra_pages` (the run's crawlPages) at depth 0, then the URLs of
the site's sitemaps at depth 1, so they are in reach at any max_depth but come after the pages a visitor
reaches first. Links found on a page enter at the page's depth + 1; urls.Frontier decides what is visited
(caps against traps, robots.txt, and the structure rule: once 2 pages of one URL pattern share a structure
signature, that pattern's other URLs are skipped as `duplicate_structure`).

What it keeps is bounded (limits.py): each page record as it comes back, and the pages together: once the
next page would take them past `max_bytes` (limits.MAX_CRAWL_BYTES), the crawl stops, that page and every
URL still queued are skipped as `crawl_size`, and a note says so. At the crawl's time limit the pages being
visited and every URL still queued are skipped as `time_limit`; on a stop asked for, the queued ones as
`stopped`.

Not done: routes a single-page app reaches only by script (pushState on a click of an element without an
href) are not followed; the crawler clicks nothing but harmless forms' submit buttons (fill_forms).
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from ..worker import vitals_probe
from ..worker.steps import resolve_url
from . import limits
from .discovery import discover
from .urls import Frontier, QueuedURL, origin_of
from .visit import visit

MAX_PAGES = 500
MAX_CONCURRENCY = 8
CLOSE_TIMEOUT_S = 10


def _version() -> str:
    try:
        return importlib.metadata.version("sentri")
    except importlib.metadata.PackageNotFoundError:
        return "dev"


USER_AGENT = f"Sentri/{_version()} (+regression crawler)"


@dataclass
class CrawlOptions:
    base_url: str
    max_pages: int = 30  # at most MAX_PAGES
    max_depth: int = 3
    extra_pages: list[str] = field(default_factory=list)  # crawlPages: paths or same-origin URLs, depth 0
    respect_robots: bool = True
    fill_forms: bool = False
    concurrency: int = 1  # pages visited at once (the run's parallelWorkers)
    timeout_ms: int = 15_000  # per page load
    user_agent: str = USER_AGENT
    # The crawl's wall clock (time.monotonic()): kept during pages too, whose visits are cut at it.
    deadline: float = math.inf
    blocked_networks: tuple = ()  # robots.txt and sitemaps are fetched outside them (discovery.py)
    max_bytes: int = limits.MAX_CRAWL_BYTES  # the stored size of the pages together


@dataclass
class CrawlOutcome:
    pages: list[dict] = field(default_factory=list)  # in visit order
    skipped: list[dict] = field(default_factory=list)  # {url, reason}
    notes: list[str] = field(default_factory=list)
    robots: bool = False  # a robots.txt was found and read
    sitemap_urls: int = 0
    all_listed: bool = True  # every URL refused is in `skipped` (the diff judges "removed" only then)

    def as_json(self) -> dict:
        return {
            "pages": self.pages,
            "skipped": self.skipped,
            "notes": self.notes,
            "robots": self.robots,
            "sitemapUrls": self.sitemap_urls,
            "allListed": self.all_listed,
        }


NewContext = Callable[..., Awaitable]


async def crawl(
    new_context: NewContext,
    options: CrawlOptions,
    progress: Callable[[dict], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> CrawlOutcome:
    """Crawl options.base_url in a context from `new_context(user_agent=...)` (guarded by the caller); the
    context is closed at the end, whatever happens."""
    context = await new_context(user_agent=options.user_agent)
    try:
        return await _crawl(context, options, progress, should_stop)
    finally:
        await _close(context)


async def _crawl(context, options: CrawlOptions, progress, should_stop) -> CrawlOutcome:
    outcome = CrawlOutcome()
    try:
        await context.add_init_script(vitals_probe.init_script())
    except vitals_probe.VitalsUnavailable as exc:
        outcome.notes.append(f"no vitals measured: {exc}")
    origin = origin_of(resolve_url(options.base_url, "/"))
    frontier = Frontier(
        options.base_url,
        max_pages=max(1, min(options.max_pages, MAX_PAGES)),
        max_depth=max(0, options.max_depth),
    )
    found = await discover(
        origin,
        with_robots=options.respect_robots,
        networks=options.blocked_networks,
        user_agent=options.user_agent,
    )
    outcome.notes.extend(note[: limits.MAX_MESSAGE] for note in found.notes)  # counted as it is stored
    outcome.robots = found.found_robots
    outcome.sitemap_urls = len(found.sitemap_urls)
    if found.robots is not None:
        frontier.allowed = lambda url: found.allows(url, options.user_agent)
    frontier.offer(options.base_url, 0, "start")
    for extra in options.extra_pages:
        frontier.offer(resolve_url(options.base_url, extra), 0, "crawlPages")
    for url in found.sitemap_urls:
        frontier.offer(url, 1, "sitemap")

    running: dict[asyncio.Task, QueuedURL] = {}
    stopped = full = timed_out = False
    stored = 2  # bytes of the pages as stored: "[]", then each page (limits.entry_size)
    try:
        while True:
            if not stopped and time.monotonic() >= options.deadline:
                stopped = timed_out = True
            elif not stopped and should_stop is not None and should_stop():
                stopped = True
                outcome.notes.append(f"stopped early on request after {frontier.visited} page(s)")
            while not stopped and len(running) < max(1, min(options.concurrency, MAX_CONCURRENCY)):
                item = frontier.next()
                if item is None:
                    break
                task = asyncio.ensure_future(
                    visit(
                        context,
                        item,
                        origin=origin,
                        timeout_ms=options.timeout_ms,
                        fill_forms=options.fill_forms,
                    )
                )
                running[task] = item
            if not running:
                break
            left = options.deadline - time.monotonic()
            done, _ = await asyncio.wait(
                running,
                return_when=asyncio.FIRST_COMPLETED,
                timeout=max(0.0, left) if math.isfinite(left) else None,
            )
            if not done:  # the wall clock ran out while pages were being visited: they are given up
                stopped = timed_out = True
                outcome.notes.append(
                    f"{len(running)} page(s) being visited at the crawl's time limit were given up"
                )
                for item in sorted(running.values(), key=frontier_order):
                    frontier.skip(item.url, "time_limit")
                break
            for task in sorted(done, key=lambda t: frontier_order(running[t])):
                item = running.pop(task)
                page, hrefs = task.result()
                frontier.done(item, page["signature"], page["url"])
                size = limits.entry_size(page)
                if full or stored + size > options.max_bytes:
                    frontier.skip(item.url, "crawl_size")
                    if not full:
                        full = stopped = True
                        outcome.notes.append(
                            f"the crawl stopped after {len(outcome.pages)} page(s): its pages take at "
                            f"most {limits.megabytes(options.max_bytes)} (the rest are skipped as "
                            "crawl_size)"
                        )
                    continue
                stored += size
                outcome.pages.append(page)
                for href in hrefs:
                    frontier.offer(href, item.depth + 1, "link", page["url"])
                if progress is not None:
                    progress(
                        {"found": frontier.found, "visited": frontier.visited, "queued": frontier.queued}
                    )
    finally:
        for task in running:
            task.cancel()
        if running:
            await asyncio.gather(*running, return_exceptions=True)
    if frontier.queued:
        frontier.drain(
            "crawl_size" if full else "time_limit" if timed_out else "stopped" if stopped else "max_pages"
        )
    outcome.skipped, outcome.all_listed = frontier.skipped, not frontier.unlisted
    if frontier.unlisted:
        outcome.notes.append(
            f"the skip list is full ({len(frontier.skipped)} URLs): {frontier.unlisted} more "
            "refusal(s) not listed"
        )
    return outcome


def frontier_order(item: QueuedURL) -> tuple[int, str]:
    return item.depth, item.url


async def _close(context) -> None:
    # Bounded: a browser that stopped answering must not hold the worker forever.
    try:
        await asyncio.wait_for(asyncio.shield(context.close()), timeout=CLOSE_TIMEOUT_S)
    except Exception:
        pass
