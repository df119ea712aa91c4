"""A page check (one per page a crawl: true run found): the page loads with a status below 400, throws no
uncaught exception, and none of its same-origin requests fails; its Web Vitals are recorded like a test's.
It listens to the page the way the crawler does (crawl.visit.PageListener), so both judge a page alike."""

from __future__ import annotations

from playwright.async_api import Page

from ..crawl.urls import origin_of, path_of
from ..crawl.visit import PageListener

MAX_LISTED = 5


class PageWatch:
    """What a page check fails on, heard while the check's page loads."""

    def __init__(self, page: Page, url: str) -> None:
        self.origin = origin_of(url)
        self.listener = PageListener(page, self.origin)

    async def settle(self) -> None:
        """Wait until the page has had no request in flight for a moment (bounded): late fetches count too."""
        await self.listener.quiet()

    def problems(self) -> list[str]:
        """Why the page check fails, in the order a person would look; empty when it passes."""
        heard, found = self.listener, []
        if heard.status is not None and heard.status >= 400:
            found.append(f"the page answered HTTP {heard.status}")
        if heard.exceptions:
            found.append(f"uncaught exception: {_listed(heard.exceptions)}")
        failed = [
            f"{path_of(r['url']) or '/'} ({r['status'] or r.get('failure') or 'failed'})"
            for r in heard.failed
            if r["status"] or origin_of(r["url"]) == self.origin
        ]
        if failed:
            found.append(f"same-origin request failed: {_listed(failed)}")
        return found


def _listed(items: list[str]) -> str:
    unique = list(dict.fromkeys(items))
    more = f" (and {len(unique) - MAX_LISTED} more)" if len(unique) > MAX_LISTED else ""
    return ", ".join(unique[:MAX_LISTED]) + more
