"""One Chromium on an event loop of its own, for tests that drive async Playwright code directly (the
crawler, screenshots, healing) without an app: a module-scoped fixture yields from it."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

from playwright.async_api import Browser, async_playwright

from sentri.worker import browsers


def chromium_on_own_loop() -> Iterator[tuple[asyncio.AbstractEventLoop, Browser]]:
    """Yield (loop, chromium); everything run on the browser runs on that loop. Closed afterwards."""
    loop = asyncio.new_event_loop()
    playwright = loop.run_until_complete(async_playwright().start())
    chromium = loop.run_until_complete(
        playwright.chromium.launch(**browsers.launch_options(browsers.find_chromium()))
    )
    yield loop, chromium
    loop.run_until_complete(chromium.close())
    loop.run_until_complete(playwright.stop())
    loop.close()
