"""Measure LCP, CLS, INP and TTFB in tested pages with Google's web-vitals library.

Facts this relies on (measured on headless Chromium, see shared/notes/web-vitals-in-a-lab-browser.md):
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

from functools import lru_cache
from pathlib import Path

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Page

LIBRARY = Path(__file__).resolve().parents[2] / "node_modules" / "web-vitals" / "dist" / "web-vitals.iife.js"
METRICS = ("lcp", "cls", "inp", "ttfb")
# Steps before which the page may be left (a click can follow a link or submit a form).
MAY_NAVIGATE = frozenset({"goto", "click", "dblclick", "press", "select", "check", "uncheck"})

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
})();
"""

# Flush pending INP processing, wait briefly for INP only when there was input, return the values.
# INP comes about 20 ms after the last input (its frame must be presented first): polled every 2 ms, at
# most ~0.5 s; every 10 ms cost 5 ms more per interactive test on average (bench/run_overhead.py).
READ_SCRIPT = """
async () => {
  const store = globalThis.__sentriVitals;
  if (!store) return null;
  const flush = () => document.dispatchEvent(new Event("visibilitychange"));
  flush();
  for (let i = 0; store.interacted && store.inp === undefined && i < 250; i++) {
    await new Promise((resolve) => setTimeout(resolve, 2));
    flush();
  }
  return {url: location.href, origin: performance.timeOrigin,
          lcp: store.lcp ?? null, cls: store.cls ?? null, inp: store.inp ?? null, ttfb: store.ttfb ?? null};
}
"""


class VitalsUnavailable(RuntimeError):
    """The web-vitals library is not installed (run `npm ci`)."""


@lru_cache(maxsize=1)
def init_script() -> str:
    """Return the one init script: the library and the registration, in a private scope."""
    if not LIBRARY.exists():
        raise VitalsUnavailable(f"{LIBRARY} is missing: run `npm ci` (make run / make test do it).")
    return "(function () {\n" + LIBRARY.read_text(encoding="utf-8") + _REGISTER + "\n})();"


class VitalsRecorder:
    """Collect one row of vitals per document a test visited, the latest reading winning."""

    def __init__(self) -> None:
        self._pages: dict[tuple[str, float], dict] = {}

    async def snapshot(self, page: Page) -> None:
        """Read the current document's vitals (nothing for about:blank or a page that is gone)."""
        if page.is_closed() or page.url.startswith("about:"):
            return
        try:
            row = await page.evaluate(READ_SCRIPT)
        except PlaywrightError:  # navigating or crashed: the previous reading stands
            return
        if row:
            self._pages[(row["url"], row["origin"])] = {k: _number(row[k]) for k in METRICS} | {"url": row["url"]}

    def rows(self) -> list[dict]:
        """Return the pages in visiting order."""
        return list(self._pages.values())


def _number(value) -> float | None:
    if value is None:
        return None
    return round(float(value), 4)

