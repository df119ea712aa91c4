"""Take screenshots that come out the same every time, and only once the page has stopped changing.

Playwright's own options do most of it (animations stopped, caret hidden, CSS pixels whatever the
device scale); the style below also stops transitions and smooth scrolling, and waiting for web fonts
keeps a late font from moving the text. Pages whose Content-Security-Policy refuses the style still get
Playwright's options. Regions that change on their own (clocks, ads) are masked in magenta.

A page may still be drawing when a step asks for its picture: a sidebar whose data arrives late, a list
filled by a timer. So screenshots are taken as Playwright's toHaveScreenshot takes them (none, 100, 250,
500 ms apart, then every second) until the deadline, and each says whether it is *still*: identical to the
one before it, with none of the page's requests starting, ending or in flight for QUIET_MS before it was
taken (a response is drawn within that). A request open longer than STREAM_MS (a stream, a long poll) and
an EventSource are not waited for: they may never end. A page that changes on a timer with no request is
seen only by its pixels; wait for what it draws (`expect_visible`) before its screenshot.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import aclosing
from dataclasses import dataclass

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import TimeoutError as PlaywrightTimeoutError

STABLE_CSS = (
    "*, *::before, *::after { animation: none !important; transition: none !important; "
    "caret-color: transparent !important; scroll-behavior: auto !important }"
)
MASK_COLOR = "#FF00FF"
FONTS_READY = "() => document.fonts.ready.then(() => true)"
POLL_MS = (0, 100, 250, 500)  # Playwright's waits before its first screenshots (server/page.ts)
LATER_POLL_MS = 1000  # and before each one after those
QUIET_MS = 250
STREAM_MS = 5000
NOT_WAITED_FOR = ("eventsource", "websocket")


class NeverStill(AssertionError):
    """The page did not keep still for two screenshots in a row before the deadline."""


@dataclass(frozen=True)
class Shot:
    png: bytes
    still: bool  # identical to the screenshot before it, the page's requests quiet since before that one
    moved: bool | None  # its pixels differ from the screenshot before it; None for the first


class NetworkWatch:
    """The page's requests in flight and when the last one started or ended, heard from its events."""

    def __init__(self, page) -> None:
        self.page = page
        self.open: dict[object, float] = {}  # request -> when it started
        self.last_change = time.monotonic()
        page.on("request", self._started)
        page.on("requestfinished", self._ended)
        page.on("requestfailed", self._ended)

    def _started(self, request) -> None:
        if request.resource_type not in NOT_WAITED_FOR:
            self.open[request] = self.last_change = time.monotonic()

    def _ended(self, request) -> None:
        if self.open.pop(request, None) is not None:
            self.last_change = time.monotonic()

    def quiet_before(self, moment: float) -> bool:
        """Tell whether no request changed for QUIET_MS before `moment` and none (but streams) is open now."""
        now = time.monotonic()
        return self.last_change <= moment - QUIET_MS / 1000 and all(
            now - started > STREAM_MS / 1000 for started in self.open.values()
        )


async def prepare(page, timeout_ms: float) -> None:
    """Wait for web fonts and stop transitions and smooth scrolling, once per screenshot step."""
    await asyncio.wait_for(page.evaluate(FONTS_READY), max(timeout_ms, 1) / 1000)
    try:
        await page.add_style_tag(content=STABLE_CSS)
    except PlaywrightError:
        pass  # a strict CSP refused the style; Playwright's animations and caret options still apply


async def screenshot(
    page, *, locator=None, full_page: bool = False, mask: list | None = None, timeout_ms: float = 15000
) -> bytes:
    """Return one PNG of the page (or of `locator`'s element) with motion stopped and `mask` painted over."""
    options = {
        "animations": "disabled",
        "caret": "hide",
        "scale": "css",
        "mask": mask or [],
        "mask_color": MASK_COLOR,
        "timeout": max(timeout_ms, 1),
        "type": "png",
    }
    if locator is not None:
        return await locator.screenshot(**options)
    return await page.screenshot(full_page=full_page, **options)


async def shots(
    take: Callable[[float], Awaitable[bytes]], deadline: float, network: NetworkWatch | None = None
) -> AsyncIterator[Shot]:
    """Yield screenshots (`take(timeout_ms)`) Playwright's waits apart until `deadline` (monotonic).

    A screenshot that times out ends the series once one was taken (the deadline has come); the first
    one's timeout (a target that never appears) is raised."""
    previous: bytes | None = None
    for wait_ms in itertools.chain(POLL_MS, itertools.repeat(LATER_POLL_MS)):
        if deadline - time.monotonic() <= wait_ms / 1000:
            return
        await asyncio.sleep(wait_ms / 1000)
        started = time.monotonic()
        try:
            png = await take((deadline - started) * 1000)
        except PlaywrightTimeoutError:
            if previous is None:
                raise
            return
        moved = None if previous is None else png != previous
        quiet = network is None or network.quiet_before(started)
        yield Shot(png, still=moved is False and quiet, moved=moved)
        previous = png


async def stable_screenshot(
    page,
    *,
    locator=None,
    full_page: bool = False,
    mask: list | None = None,
    timeout_ms: int = 15000,
    network: NetworkWatch | None = None,
) -> bytes:
    """Return the first still PNG of the page (or element); raise NeverStill when none comes in time."""
    deadline = time.monotonic() + timeout_ms / 1000
    await prepare(page, timeout_ms)

    async def take(remaining_ms: float) -> bytes:
        return await screenshot(
            page, locator=locator, full_page=full_page, mask=mask, timeout_ms=remaining_ms
        )

    async with aclosing(shots(take, deadline, network)) as series:
        async for shot in series:
            if shot.still:
                return shot.png
    raise NeverStill(f"the page did not keep still for two screenshots in a row within {timeout_ms} ms")
