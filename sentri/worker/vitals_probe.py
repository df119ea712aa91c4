"""Measure LCP, CLS, INP and TTFB in tested pages with Google's web-vitals library.

Facts this relies on (measured on headless Chromium; docs/vitals.md says how):
- the library's final reports (on page hide) never come in a headless page, so every callback is
  registered with reportAllChanges and the latest value is read from the page;
- an init script runs in its own scope and several run in an undefined order, so the library and the
  registration are one script, and what is read later lives on globalThis;
- INP is processed when the page goes idle, and after input headless Chromium holds idle callbacks
  back for about a second. The library also processes pending entries on any `visibilitychange`
  event, so the reader dispatches one (the page stays visible) and INP is there within tens of ms.
The library's file comes from npm at set-up time (`npm ci`); it is never committed.
"""

from __future__ import annotations

import asyncio
import math
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

from playwright.async_api import BrowserContext, Page
from playwright.async_api import Error as PlaywrightError

LIBRARY = Path(__file__).resolve().parents[2] / "node_modules" / "web-vitals" / "dist" / "web-vitals.iife.js"
METRICS = ("lcp", "cls", "inp", "ttfb")
BINDING = "__sentriVitalsPush"  # what a page calls with its values when it is being left (arm())
MAX_PAGES = 200  # documents recorded per test; more are a page navigating in a loop
MAX_URL = 4096
# A read waits at most ~0.5 s in the page for INP (READ_SCRIPT); a page can make it wait forever (replace
# setTimeout, set `interacted`, loop), so the read itself is bounded here.
READ_SECONDS = 2.0

_REGISTER = """
;(function () {
  var store = {interacted: false};
  Object.defineProperty(globalThis, "__sentriVitals", {value: store, configurable: true});
  ["pointerdown", "keydown"].forEach(function (type) {
    addEventListener(type, function (e) { if (e.isTrusted) store.interacted = true; }, true);
  });
  var all = {reportAllChanges: true};
  webVitals.onLCP(function (m) { store.lcp = m.value; }, all);
  webVitals.onCLS(function (m) { store.cls = m.value; }, all);
  webVitals.onINP(function (m) { store.inp = m.value; }, all);
  webVitals.onTTFB(function (m) { store.ttfb = m.value; }, all);
  // Leaving the page (a click that follows a link, a goto): hand its last values to the worker, instead
  // of the worker reading them before every step that may navigate. beforeunload, not pagehide: the
  // document is still whole then (a binding called from pagehide was measured never to arrive).
  // A page left right after its load event may not have reported yet (the library reports TTFB from a
  // setTimeout after load, LCP from its observer's next callback): those two are then taken the way the
  // library takes them, from the navigation entry and from the LCP entries not yet delivered.
  var lastPaint = null, paints = null;
  try {
    paints = new PerformanceObserver(function (list) { var e = list.getEntries(); lastPaint = e[e.length - 1]; });
    paints.observe({type: "largest-contentful-paint", buffered: true});
  } catch (e) { paints = null; }
  addEventListener("beforeunload", function () {
    var push = globalThis.__sentriVitalsPush;
    if (typeof push !== "function") return;
    document.dispatchEvent(new Event("visibilitychange"));  // pending INP entries are processed
    var nav = performance.getEntriesByType("navigation")[0], start = (nav && nav.activationStart) || 0;
    var pending = paints ? paints.takeRecords() : [];
    if (pending.length) lastPaint = pending[pending.length - 1];
    var ttfb = store.ttfb ?? (nav && nav.responseStart > 0 ? Math.max(nav.responseStart - start, 0) : null);
    var lcp = store.lcp ?? (lastPaint ? Math.max(lastPaint.startTime - start, 0) : null);
    push({url: location.href, origin: performance.timeOrigin, lcp: lcp, cls: store.cls ?? null,
          inp: store.inp ?? null, ttfb: ttfb});
  }, true);
})();
"""

# Wait for the frame that paints what the steps last saw (its LCP entry), flush pending INP processing, wait
# briefly for INP only when there was input, return the values.
# INP comes about 20 ms after the last input (its frame must be presented first): polled every 2 ms, at
# most ~0.5 s; every 10 ms cost 5 ms more per interactive test on average (bench/run_overhead.py).
READ_SCRIPT = """
async () => {
  const store = globalThis.__sentriVitals;
  if (!store) return null;
  const flush = () => document.dispatchEvent(new Event("visibilitychange"));
  // An element the steps just saw appear (expect_visible) is painted in the next frame, and its LCP entry
  // comes when that frame is presented: read at once, the hero a test waited for was missing from 1-8 of 40
  // readings (Debian's headless shell; 0-2 on its full Chromium), there 6-19 ms later. Two frames cover it
  // (0 of 160); a page that gets no frames (hidden) is waited for 100 ms at most.
  const frame = () => new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)));
  await Promise.race([frame().then(frame), new Promise((resolve) => setTimeout(resolve, 100))]);
  flush();
  for (let i = 0; store.interacted && store.inp === undefined && i < 250; i++) {
    await new Promise((resolve) => setTimeout(resolve, 2));
    flush();
  }
  return {url: location.href, origin: performance.timeOrigin,
          lcp: store.lcp ?? null, cls: store.cls ?? null, inp: store.inp ?? null, ttfb: store.ttfb ?? null};
}
"""


# Wait until the page is still: no new LCP candidate for `quiet` ms after the later of the load event, the
# last candidate and `floor` (when the test's own visit saw its LCP), at most `most` ms. A page that breaks
# timers or observers is bounded by settle()'s own timeout instead.
STILL_SCRIPT = """
async ([quiet, floor, most]) => {
  const begun = performance.now();
  let last = 0;
  const note = (entries) => { for (const e of entries) last = Math.max(last, e.startTime); };
  let paints = null;
  try {
    paints = new PerformanceObserver((list) => note(list.getEntries()));
    paints.observe({type: "largest-contentful-paint", buffered: true});
  } catch (e) { return null; }
  const loaded = () => {
    const nav = performance.getEntriesByType("navigation")[0];
    return nav && nav.loadEventEnd > 0 ? nav.loadEventEnd : performance.now();
  };
  while (performance.now() - begun < most) {
    note(paints.takeRecords());
    const left = Math.max(loaded(), last, floor) + quiet - performance.now();
    if (left <= 0) break;
    await new Promise((resolve) => setTimeout(resolve, Math.min(left, 50)));
  }
  paints.disconnect();
  return last;
}
"""


class VitalsUnavailable(RuntimeError):
    """The web-vitals library is not installed (run `npm ci`)."""


@lru_cache(maxsize=1)
def init_script() -> str:
    """Return the one init script: the library and the registration, in a private scope. It does nothing in
    the documents nobody reads: embedded frames, and the about:blank every new page starts on."""
    if not LIBRARY.exists():
        raise VitalsUnavailable(f"{LIBRARY} is missing: run `npm ci` (make run / make test do it).")
    return (
        "(function () {\nif (window !== window.top || !/^https?:$/.test(location.protocol)) return;\n"
        + LIBRARY.read_text(encoding="utf-8")
        + _REGISTER
        + "\n})();"
    )


class VitalsRecorder:
    """Collect one row of vitals per document a test visited, the latest reading winning."""

    def __init__(self) -> None:
        self._pages: dict[tuple[str, float], dict] = {}

    async def snapshot(self, page: Page) -> None:
        """Read the current document's vitals (nothing for about:blank or a page that is gone)."""
        if page.is_closed() or page.url.startswith("about:"):
            return
        try:
            row = await read(page)
        except (PlaywrightError, TimeoutError):  # navigating, crashed or hostile: the previous reading stands
            return
        self._keep(row)

    def _pushed(self, source: dict, row) -> None:
        """A document the test is leaving handed over its values (the init script's beforeunload). Only a
        page's own document may: the binding is in every frame, and an embedded frame (an ad, a widget
        from elsewhere) must not write rows for the page or for any other address."""
        frame, page = source.get("frame"), source.get("page")
        if frame is None or page is None or frame is not page.main_frame:
            return
        if not isinstance(row, dict) or _origin(row.get("url")) != _origin(frame.url):
            return
        self._keep(row)

    def _keep(self, row) -> None:
        # What a page pushes is the page's to say, like what it answers to READ_SCRIPT; it is checked for
        # shape and the rows are bounded, so a page cannot make the worker keep more than a few kilobytes.
        if (
            not isinstance(row, dict)
            or not isinstance(row.get("url"), str)
            or row["url"].startswith("about:")
        ):
            return
        if len(row["url"]) > MAX_URL or not isinstance(row.get("origin"), (int, float)):
            return
        key = (row["url"], row["origin"])
        if key not in self._pages and len(self._pages) >= MAX_PAGES:
            return
        try:
            self._pages[key] = {k: _number(row.get(k)) for k in METRICS} | {"url": row["url"]}
        except (TypeError, ValueError):  # not numbers
            return

    def rows(self) -> list[dict]:
        """Return the pages in visiting order."""
        return list(self._pages.values())


async def read(page: Page):
    """Run READ_SCRIPT in the page, bounded by READ_SECONDS (TimeoutError past it)."""
    async with asyncio.timeout(READ_SECONDS):
        return await page.evaluate(READ_SCRIPT)


async def settle(page: Page, *, quiet_ms: float, floor_ms: float, most_ms: float) -> None:
    """Wait in the page until no new LCP candidate has come for `quiet_ms` after load, after the last
    candidate and after `floor_ms`; at most `most_ms` (TimeoutError when the page holds the wait up)."""
    async with asyncio.timeout(most_ms / 1000 + READ_SECONDS):
        await page.evaluate(STILL_SCRIPT, [quiet_ms, floor_ms, most_ms])


async def arm(context: BrowserContext) -> VitalsRecorder:
    """Measure every page of a fresh context: the init script, and a recorder its pages hand their values to
    when they are left. Read the page the test ends on with snapshot()."""
    recorder = VitalsRecorder()
    await context.expose_binding(BINDING, recorder._pushed)
    await context.add_init_script(init_script())
    return recorder


def _origin(url) -> tuple | None:
    if not isinstance(url, str):
        return None
    parts = urlsplit(url)
    return (parts.scheme, parts.netloc) if parts.scheme in ("http", "https") else None


def _number(value) -> float | None:
    if value is None:
        return None
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"not a finite number: {value!r}")
    return round(number, 4)
