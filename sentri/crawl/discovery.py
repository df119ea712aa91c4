"""robots.txt and sitemaps, fetched through the crawl's own browser context so Sentri's network guard
applies to them as to every page (a context's `request` API would bypass the guard's routes).

Nothing here is fatal: a robots.txt or sitemap that is missing, broken, HTML (a single-page app answering
every path) or too big is ignored, and a note says so. Sitemaps: those robots.txt names on the site's own
origin, then /sitemap.xml; indexes are followed, at most MAX_SITEMAPS documents of MAX_SITEMAP_BYTES each.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from protego import Protego
from usp.objects.sitemap import AbstractIndexSitemap, AbstractPagesSitemap
from usp.tree import sitemap_from_str

from .urls import normalize

MAX_SITEMAPS = 10
MAX_SITEMAP_BYTES = 5 * 1024 * 1024
MAX_SITEMAP_URLS = 10_000
FETCH_TIMEOUT_MS = 10_000
CLOSE_TIMEOUT_S = 10

@dataclass
class Discovery:
    robots: Protego | None = None  # the rules to obey (None: none, or not asked to obey them)
    found_robots: bool = False
    sitemap_urls: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def allows(self, url: str, user_agent: str) -> bool:
        return self.robots is None or self.robots.can_fetch(url, user_agent)


async def fetch_text(context, url: str, timeout_ms: int = FETCH_TIMEOUT_MS) -> tuple[str | None, str | None]:
    """Load a URL in a page of the context; return (text, None) for a 2xx answer, else (None, why)."""
    page = await context.new_page()
    try:
        response = await page.goto(url, wait_until="commit", timeout=timeout_ms)
        if response is None:
            return None, "no response"
        if not 200 <= response.status < 300:
            return None, f"HTTP {response.status}"
        headers = await response.all_headers()
        if int(headers.get("content-length") or 0) > MAX_SITEMAP_BYTES:
            return None, f"larger than {MAX_SITEMAP_BYTES // (1024 * 1024)} MB"
        if "html" in headers.get("content-type", ""):
            return None, "an HTML page"
        body = await response.body()
        if len(body) > MAX_SITEMAP_BYTES:
            return None, f"larger than {MAX_SITEMAP_BYTES // (1024 * 1024)} MB"
        return body.decode("utf-8", errors="replace"), None
    except Exception as exc:  # refused by the guard, a download (.gz), a timeout: ignored with a note
        return None, first_line(exc)
    finally:
        await close_page(page)


async def close_page(page) -> None:
    """Close a page, bounded: a browser that stopped answering must not hold the crawl."""
    try:
        await asyncio.wait_for(asyncio.shield(page.close()), timeout=CLOSE_TIMEOUT_S)
    except Exception:  # a crashed page or a closed context: nothing left to close
        pass


async def discover(context, origin: str, *, with_robots: bool) -> Discovery:
    """Read robots.txt (when `with_robots`, or for its Sitemap: lines anyway) and the sitemaps."""
    found = Discovery()
    sitemaps: list[str] = []
    text, problem = await fetch_text(context, origin + "/robots.txt")
    if text is None:
        found.notes.append(f"robots.txt ignored: {problem}")
    else:
        robots = Protego.parse(text)
        found.found_robots = True
        if with_robots:
            found.robots = robots
        for url in robots.sitemaps:
            normal = normalize(url, origin + "/")
            if normal is None:
                found.notes.append(f"sitemap {url} ignored: not on {origin}")
            elif normal not in sitemaps:
                sitemaps.append(normal)
    default = origin + "/sitemap.xml"
    if default not in sitemaps:
        sitemaps.append(default)
    await _read_sitemaps(context, origin, sitemaps, found)
    return found


async def _read_sitemaps(context, origin: str, queue: list[str], found: Discovery) -> None:
    fetched = 0
    seen_pages: set[str] = set()
    while queue and fetched < MAX_SITEMAPS:
        url = queue.pop(0)
        fetched += 1
        text, problem = await fetch_text(context, url)
        if text is None:
            found.notes.append(f"sitemap {url} ignored: {problem}")
            continue
        tree = sitemap_from_str(text)
        if isinstance(tree, AbstractIndexSitemap):
            for sub in tree.sub_sitemaps:
                normal = normalize(sub.url, origin + "/")
                if normal and normal not in queue:
                    queue.append(normal)
        elif isinstance(tree, AbstractPagesSitemap) and not tree.pages:
            found.notes.append(f"sitemap {url} ignored: no pages in it (empty or broken)")
        elif isinstance(tree, AbstractPagesSitemap):
            for page in tree.pages:
                if page.url not in seen_pages and len(found.sitemap_urls) < MAX_SITEMAP_URLS:
                    seen_pages.add(page.url)
                    found.sitemap_urls.append(page.url)
        else:
            found.notes.append(f"sitemap {url} ignored: not a sitemap")
    if queue:
        found.notes.append(f"{len(queue)} sitemap(s) not read: at most {MAX_SITEMAPS} are")


def first_line(exc: BaseException, limit: int = 300) -> str:
    """The first line of an exception's message: Playwright's carry a call log after it."""
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:limit]
