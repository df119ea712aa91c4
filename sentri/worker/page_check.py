"""A page check (one per page a crawl: true run found): the page loads with a status below 400, throws no
uncaught exception, and none of its same-origin requests fails; its Web Vitals are recorded like a test's."""

from __future__ import annotations

from urllib.parse import urlsplit

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Page

from .. import origins

SETTLE_MS = 1_500  # what a page may still load after its load event (late images, fetches)
MAX_LISTED = 5


class PageWatch:
    """Listen to one page's responses, failed requests and uncaught exceptions while a page check loads it."""

    def __init__(self, page: Page, url: str) -> None:
        self.page = page
        self.origin = origins.origin_of(url)
        self.status: int | None = None
        self.exceptions: list[str] = []
        self.failed: list[str] = []
        page.on("response", self._response)
        page.on("requestfailed", self._request_failed)
        page.on("pageerror", self._page_error)

    def _same_origin(self, url: str) -> bool:
        return self.origin is not None and origins.origin_of(url) == self.origin

    def _response(self, response) -> None:
        request = response.request
        if request.is_navigation_request() and request.frame == self.page.main_frame:
            self.status = response.status  # the last one: the page's own, after redirects
        elif response.status >= 400 and self._same_origin(response.url):
            self.failed.append(f"{_path(response.url)} ({response.status})")

    def _request_failed(self, request) -> None:
        if self._same_origin(request.url) and not request.is_navigation_request():
            self.failed.append(f"{_path(request.url)} ({request.failure or 'failed'})")

    def _page_error(self, error) -> None:
        self.exceptions.append(str(getattr(error, "message", error)).splitlines()[0][:300])

    async def settle(self) -> None:
        try:
            await self.page.wait_for_load_state("networkidle", timeout=SETTLE_MS)
        except PlaywrightError:  # a page that keeps polling: judge what it did so far
            pass

    def problems(self) -> list[str]:
        """Why the page check fails, in the order a person would look; empty when it passes."""
        found = []
        if self.status is not None and self.status >= 400:
            found.append(f"the page answered HTTP {self.status}")
        if self.exceptions:
            found.append(f"uncaught exception: {_listed(self.exceptions)}")
        if self.failed:
            found.append(f"same-origin request failed: {_listed(self.failed)}")
        return found


def _path(url: str) -> str:
    parts = urlsplit(url)
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def _listed(items: list[str]) -> str:
    unique = list(dict.fromkeys(items))
    more = f" (and {len(unique) - MAX_LISTED} more)" if len(unique) > MAX_LISTED else ""
    return ", ".join(unique[:MAX_LISTED]) + more
