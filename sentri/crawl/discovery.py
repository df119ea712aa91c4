"""robots.txt and sitemaps, fetched by the server with the rules the browser's gate keeps (worker/egress.py):
every hop, redirects included (at most MAX_REDIRECTS), is checked against the blocked networks and sent to the
address that was checked; the whole fetch has a deadline, and at most MAX_SITEMAP_BYTES of an answer are read
as it streams in (a bigger or endless answer is cut off, never held). Loading them in a page instead let a
redirect walk past the guard's routes and an endless body hold the crawl forever.

Nothing here is fatal: a robots.txt or sitemap that is missing, broken, HTML (a single-page app answering
every path), too big or too slow is ignored, and a note says so. Sitemaps: those robots.txt names on the site's
own origin, then /sitemap.xml; indexes are followed, at most MAX_SITEMAPS documents of MAX_SITEMAP_BYTES each.
Cookies of a setup test's login are not sent: robots.txt and sitemaps are public by nature.
"""

from __future__ import annotations

import asyncio
import socket
import time
from dataclasses import dataclass, field
from functools import partial
from urllib.parse import urljoin

import requests
from protego import Protego
from usp.objects.sitemap import AbstractIndexSitemap, AbstractPagesSitemap
from usp.tree import sitemap_from_str

from .. import outbound
from ..origins import blocked_network
from ..ssrf import UnsafeURLError
from .urls import normalize

MAX_SITEMAPS = 10
MAX_SITEMAP_BYTES = 5 * 1024 * 1024
MAX_SITEMAP_URLS = 10_000
MAX_REDIRECTS = 5
FETCH_SECONDS = 10.0  # one document, all its redirects included
CLOSE_TIMEOUT_S = 10
_REDIRECTS = (301, 302, 303, 307, 308)


@dataclass
class Discovery:
    robots: Protego | None = None  # the rules to obey (None: none, or not asked to obey them)
    found_robots: bool = False
    sitemap_urls: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def allows(self, url: str, user_agent: str) -> bool:
        return self.robots is None or self.robots.can_fetch(url, user_agent)


def fetch_text(
    url: str, *, networks, user_agent: str, seconds: float = FETCH_SECONDS, limit: int = MAX_SITEMAP_BYTES
) -> tuple[str | None, str | None]:
    """GET a URL from the server; return (text, None) for a 2xx answer that is not HTML, else (None, why)."""
    deadline = time.monotonic() + seconds
    for _hop in range(MAX_REDIRECTS + 1):
        left = deadline - time.monotonic()
        if left <= 0:
            return None, f"no answer within {seconds:g} s"
        try:
            response = outbound.request(
                "GET",
                url,
                trusted_base=url,
                resolver=partial(_outside, networks=networks),
                field="the URL",
                timeout=left,
                deadline=left,
                max_body=limit + 1,
                headers={"User-Agent": user_agent, "Accept": "text/plain, application/xml"},
            )
        except UnsafeURLError as exc:
            return None, f"refused: {exc}"[:300]
        except outbound.DeadlineExceeded:
            return None, f"no answer within {seconds:g} s"
        except requests.RequestException as exc:
            return None, first_line(exc)
        location = response.headers.get("Location")
        if response.status_code in _REDIRECTS and location:
            url = urljoin(url, location)
            continue
        if not 200 <= response.status_code < 300:
            return None, f"HTTP {response.status_code}"
        if "html" in response.headers.get("Content-Type", ""):
            return None, "an HTML page"
        if len(response.content) > limit:
            return None, f"larger than {limit // (1024 * 1024)} MB"
        return response.content.decode("utf-8", errors="replace"), None
    return None, f"more than {MAX_REDIRECTS} redirects"


def _outside(host: str, port: int, *, networks, **kwargs) -> list:
    """Resolve like socket.getaddrinfo, refusing a host with an address in a blocked network (ssrf's resolver)."""
    infos = socket.getaddrinfo(host, port, **kwargs)
    for info in infos:
        network = blocked_network(info[4][0], networks)
        if network is not None:
            raise UnsafeURLError(
                f"{host} ({info[4][0]}) is in the blocked network {network} (SENTRI_BROWSER_BLOCKED_NETWORKS)"
            )
    return infos


async def close_page(page) -> None:
    """Close a page, bounded: a browser that stopped answering must not hold the crawl."""
    try:
        await asyncio.wait_for(asyncio.shield(page.close()), timeout=CLOSE_TIMEOUT_S)
    except Exception:  # a crashed page or a closed context: nothing left to close
        pass


async def discover(origin: str, *, with_robots: bool, networks, user_agent: str) -> Discovery:
    """Read robots.txt (when `with_robots`, or for its Sitemap: lines anyway) and the sitemaps."""
    fetch = partial(_fetch, networks=networks, user_agent=user_agent)
    found = Discovery()
    sitemaps: list[str] = []
    text, problem = await fetch(origin + "/robots.txt")
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
    await _read_sitemaps(fetch, origin, sitemaps, found)
    return found


async def _fetch(url: str, **options) -> tuple[str | None, str | None]:
    """fetch_text off the event loop: the browser's work goes on meanwhile."""
    return await asyncio.to_thread(fetch_text, url, **options)


async def _read_sitemaps(fetch, origin: str, queue: list[str], found: Discovery) -> None:
    fetched = 0
    seen_pages: set[str] = set()
    while queue and fetched < MAX_SITEMAPS:
        url = queue.pop(0)
        fetched += 1
        text, problem = await fetch(url)
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
