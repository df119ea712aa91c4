"""Take screenshots that come out the same every time, so a baseline comparison flags changes, not noise.

Playwright's own options do most of it (animations stopped, caret hidden, CSS pixels whatever the
device scale); the style below also stops transitions and smooth scrolling, and waiting for web fonts
keeps a late font from moving the text. Pages whose Content-Security-Policy refuses the style still get
Playwright's options. Regions that change on their own (clocks, ads) are masked in magenta.
"""

from __future__ import annotations

import asyncio

from playwright.async_api import Error as PlaywrightError

STABLE_CSS = ("*, *::before, *::after { animation: none !important; transition: none !important; "
              "caret-color: transparent !important; scroll-behavior: auto !important }")
MASK_COLOR = "#FF00FF"
FONTS_READY = "() => document.fonts.ready.then(() => true)"


async def stable_screenshot(page, *, locator=None, full_page: bool = False, mask: list | None = None,
                            timeout_ms: int = 15000) -> bytes:
    """Return a PNG of the page (or of `locator`'s element) with motion stopped and `mask` painted over."""
    await asyncio.wait_for(page.evaluate(FONTS_READY), timeout_ms / 1000)
    try:
        await page.add_style_tag(content=STABLE_CSS)
    except PlaywrightError:
        pass  # a strict CSP refused the style; Playwright's animations and caret options still apply
    options = {"animations": "disabled", "caret": "hide", "scale": "css", "mask": mask or [],
               "mask_color": MASK_COLOR, "timeout": timeout_ms, "type": "png"}
    if locator is not None:
        return await locator.screenshot(**options)
    return await page.screenshot(full_page=full_page, **options)
