"""Visit one crawled page in its own browser page: load it, let it settle, read its facts, errors and
vitals. Whatever goes wrong (a timeout, a crash, the guard's refusal) becomes the page's `error`.
What it hears and reads is cut to the crawl's limits as it arrives; the record it returns is bounded
(limits.page)."""

from __future__ import annotations

import asyncio
import time

from ..worker.vitals_probe import READ_SECONDS as VITALS_SECONDS
from ..worker.vitals_probe import VitalsRecorder
from . import forms as form_filler
from . import limits
from .discovery import close_page, first_line
from .structure import READ_SECONDS, read_facts, signature
from .urls import QueuedURL, normalize, origin_of, path_of

# After `load`, the page is read once no request has been in flight for QUIET_MS, or after SETTLE_MS.
# Playwright's "networkidle" wants 500 ms of silence, which would cost every page half a second.
QUIET_MS = 100
SETTLE_MS = 1_500
VITALS = limits.VITALS
FCP_SCRIPT = """() => {
  const entry = performance.getEntriesByName("first-contentful-paint")[0];
  return entry ? Math.round(entry.startTime * 10000) / 10000 : null;
}"""


def blank(item: QueuedURL) -> dict:
    """The page dict of a URL before (or without) its visit."""
    return {
        "url": item.url,
        "requestedUrl": item.url,
        "path": path_of(item.url),
        "status": None,
        "title": None,
        "heading": None,
        "landmarks": [],
        "forms": [],
        "links": [],
        "consoleErrors": [],
        "exceptions": [],
        "failedRequests": [],
        "vitals": dict.fromkeys(VITALS),
        "depth": item.depth,
        "pattern": item.pattern,
        "signature": None,
        "source": item.source,
        "error": None,
        "parent": item.parent,
    }


class PageListener:
    """The page's console errors, uncaught exceptions, failed requests and requests in flight."""

    def __init__(self, page, origin: str) -> None:
        self.origin = origin
        self.main_frame = page.main_frame
        self.console: list[str] = []
        self.exceptions: list[str] = []
        self.failed: list[dict] = []
        self.in_flight = 0
        self.status: int | None = None  # the main document's last response
        self.last_change = time.monotonic()
        page.on("console", self._console)
        page.on("pageerror", self._exception)
        page.on("request", self._request)
        page.on("requestfinished", self._finished)
        page.on("requestfailed", self._request_failed)
        page.on("response", self._response)

    def _console(self, message) -> None:
        if message.type == "error" and len(self.console) < limits.MAX_MESSAGES:
            self.console.append(message.text[: limits.MAX_MESSAGE])

    def _exception(self, error) -> None:
        if len(self.exceptions) < limits.MAX_MESSAGES:
            text = f"{error.name[: limits.MAX_WORD]}: {error.message}" if error.name else error.message
            self.exceptions.append(text[: limits.MAX_MESSAGE])

    def _request(self, _request) -> None:
        self.in_flight += 1
        self.last_change = time.monotonic()

    def _finished(self, _request) -> None:
        self.in_flight = max(0, self.in_flight - 1)
        self.last_change = time.monotonic()

    def _main(self, request) -> bool:
        try:
            return request.is_navigation_request() and request.frame == self.main_frame
        except Exception:  # a service worker's request has no frame
            return False

    def _request_failed(self, request) -> None:
        self._finished(request)
        if not self._main(request) and len(self.failed) < limits.MAX_FAILED_REQUESTS:
            self.failed.append(
                {
                    "url": request.url[: limits.MAX_URL],
                    "status": None,
                    "failure": limits.cut(request.failure, limits.MAX_MESSAGE),
                }
            )

    def _response(self, response) -> None:
        if self._main(response.request):
            self.status = response.status  # kept for a goto that fails on it (an empty 404 body)
        elif (
            response.status >= 400
            and origin_of(response.url) == self.origin
            and len(self.failed) < limits.MAX_FAILED_REQUESTS
        ):
            self.failed.append({"url": response.url[: limits.MAX_URL], "status": response.status})

    async def quiet(self) -> None:
        """Wait until no request has been in flight for QUIET_MS, at most SETTLE_MS."""
        deadline = time.monotonic() + SETTLE_MS / 1000
        while time.monotonic() < deadline:
            if self.in_flight == 0 and time.monotonic() - self.last_change >= QUIET_MS / 1000:
                return
            await asyncio.sleep(0.02)


async def visit(
    context, item: QueuedURL, *, origin: str, timeout_ms: int, fill_forms: bool = False
) -> tuple[dict, list[str]]:
    """Visit one URL in a new page of the context; return its page dict (bounded) and every href it links
    to (as written, cut one past limits.MAX_URL: the frontier records what it refuses). The page is always
    closed."""
    record = blank(item)
    hrefs: list[str] = []
    try:
        page = await context.new_page()
    except Exception as exc:  # the browser or context is gone: this page's failure all the same
        record["error"] = _first_line(exc)
        return limits.page(record), hrefs
    listener = PageListener(page, origin)
    budget = page_seconds(timeout_ms)
    step = {"at": "loaded and read", "within": budget}  # what a TimeoutError interrupted, for its message
    try:
        async with asyncio.timeout(budget):
            response = await page.goto(item.url, wait_until="load", timeout=timeout_ms)
            record["status"] = response.status if response else None
            await listener.quiet()
            final = normalize(page.url, item.url)
            if final is None:
                record["url"] = page.url[: limits.MAX_URL]
                record["error"] = f"the page went to another site: {page.url[:300]}"
            elif len(final) > limits.MAX_URL:  # kept as the URL asked for: a cut URL would be another page
                record["error"] = (
                    f"the page went to a URL of {len(final)} characters (at most {limits.MAX_URL} are "
                    f"kept): {final[:200]}"
                )
                final = None
            else:
                record["url"], record["path"] = final, path_of(final)
                hrefs = await _read(page, record, final, step)
        if final is not None and fill_forms and record["forms"]:
            async with asyncio.timeout(budget):
                record["formSubmissions"] = await form_filler.submit_forms(
                    context, final, record["forms"], timeout_ms
                )
    except TimeoutError:
        record["error"] = (
            f"the page was not {step['at']} within {step['within']:g} s: a page busy in a script of "
            "its own is given up on"
        )
        record["status"] = record["status"] or listener.status
    except Exception as exc:  # the page's failure, never the crawl's
        record["error"] = _first_line(exc)
        record["status"] = record["status"] or listener.status
    finally:
        # Copied before the close, which aborts whatever the page still had in flight.
        record["consoleErrors"] = list(listener.console)
        record["exceptions"] = list(listener.exceptions)
        record["failedRequests"] = list(listener.failed)
        await close_page(page)
    return limits.page(record), hrefs


def page_seconds(timeout_ms: int) -> float:
    """How long one page may take, all told: its load, settling, and reading its facts and vitals."""
    return timeout_ms / 1000 + SETTLE_MS / 1000 + READ_SECONDS + VITALS_SECONDS


def _first_line(exc: BaseException) -> str:
    return first_line(exc, limits.MAX_MESSAGE)


async def _read(page, record: dict, final: str, step: dict) -> list[str]:
    step.update(at="read (its links, headings and forms)", within=READ_SECONDS)
    facts = await read_facts(page)  # bounded: limits.facts
    names: dict[str, str] = {}  # the accessible name of the first link to each URL (journey drafts click it)
    links: list[str] = []
    for href, name in zip(facts["links"], facts["linkNames"], strict=False):
        url = normalize(href, final) if len(href) <= limits.MAX_URL else None
        if url is None or len(url) > limits.MAX_URL:
            continue
        if url not in names and name:
            names[url] = name
        links.append(url)
    # What is stored stays bounded however big the page: 500 pages of a mega-menu must not fill the disk.
    stored = list(dict.fromkeys(links))[: limits.MAX_STORED_LINKS]
    record.update(
        title=facts["title"] or "",
        heading=facts["heading"] or None,
        landmarks=facts["landmarks"],
        forms=facts["forms"],
        links=stored,
        linkTexts={url: names[url] for url in stored if url in names},
        signature=signature(facts),
    )
    step.update(at="read (its Web Vitals)", within=VITALS_SECONDS)
    recorder = VitalsRecorder()
    await recorder.snapshot(page)
    rows = recorder.rows()
    row = rows[-1] if rows else {}
    record["vitals"] = {name: row.get(name) for name in VITALS}
    async with asyncio.timeout(VITALS_SECONDS):
        record["vitals"]["fcp"] = limits.number(await page.evaluate(FCP_SCRIPT))
    return facts["links"]
