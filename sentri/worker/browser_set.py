"""The browsers of one worker: a warm local Chromium (Firefox and WebKit when a run asks for them), or a browser
on a browser server, holding one of its slots (a lease in the database, worker/slots.py) for the test; and
where the gates of their contexts listen.

Playwright objects belong to the worker's event loop: a WorkerBrowsers is only ever used from its thread."""

from __future__ import annotations

import asyncio
import logging

from playwright.async_api import async_playwright

from ..database import write
from ..settings import settings
from . import egress, slots
from .browsers import find_chromium, launch_chromium
from .remote import Endpoint, ServerPool

log = logging.getLogger(__name__)

# Playwright's device descriptors used for `device: mobile`, per engine.
MOBILE_DEVICES = {"chromium": "Pixel 7", "webkit": "iPhone 13", "firefox": "Pixel 7"}
SLOT_WAIT_SECONDS = 30.0  # how long a claimed test waits for a browser server slot before failing its run
CLOSE_SECONDS = 10


class WorkerBrowsers:
    """One worker's browsers and its browser server slot."""

    def __init__(
        self, app, pool: ServerPool | None, stopping=lambda: False, owner: str = "", index: int = 0
    ) -> None:
        self.app = app
        self.pool = pool
        self.stopping = stopping  # a connection refused while this process stops says nothing of the server
        self.owner, self.index = owner, index  # whose slot leases these are: the process's node, the worker
        self.lease_seconds = float(settings(app).lease_seconds)
        self.playwright = None
        self.local = None  # the Chromium every worker keeps warm
        self.others: dict[str, object] = {}  # firefox / webkit, launched when a run asks for them
        self.remote: dict[tuple[str, str], object] = {}  # (endpoint, engine) -> browser on a browser server
        self.slot: Endpoint | None = None  # the browser server the current test holds a slot of
        self.held: slots.Held | None = None  # ... and which slot, in the database
        self.used_endpoint: str | None = None  # the browser server the last test ran on, as it is shown
        self.reaches: dict[
            str | None, tuple[str, tuple[str, ...]]
        ] = {}  # browser server -> its gates' address

    async def chromium(self):
        """The worker's warm local Chromium, launched (again) when it is not connected."""
        if self.local is not None and self.local.is_connected():
            return self.local
        if self.local is not None:  # it died: close what is left of it before launching another
            await _quietly(self.local.close())
            self.local = None
        if self.playwright is None:
            self.playwright = await async_playwright().start()
        choice = find_chromium(settings(self.app).chromium_path)
        self.local = await launch_chromium(self.playwright.chromium, choice)
        return self.local

    async def get(self, engine: str):
        """The browser a test of this engine runs on (a browser server's, holding a slot, when there are any)."""
        if self.pool is not None:
            return await self._remote(engine)
        if engine == "chromium":
            return await self.chromium()
        browser = self.others.get(engine)
        if browser is None or not browser.is_connected():
            if browser is not None:
                await _quietly(browser.close())
            await self.chromium()
            browser = await getattr(self.playwright, engine).launch(headless=True)
            self.others[engine] = browser
        return browser

    def take_slot(self, skip: set[str] | frozenset = frozenset()) -> bool:
        """In the caller's transaction (the claim's, so that no test is claimed without a slot to run it): lease
        a slot of the endpoint the pool prefers; False when the endpoints worth trying have none free."""
        held = slots.take(self.pool.candidates(skip), self.owner, self.index, self.lease_seconds)
        if held is None:
            return False
        self.held, self.slot = held, self.pool.endpoint(held.server)
        return True

    def room(self) -> bool:
        """Whether a slot is free now where take_slot() would look: when none is, a claim would only lock a
        run's row (making another process's claim skip it) to take nothing."""
        try:
            with self.app.app_context():
                return slots.any_free(self.pool.candidates())
        except Exception:  # the claim that follows says what is wrong with the database
            return True

    def _take_another(self, skip: set[str]) -> bool:
        """Lease a slot in a transaction of its own (the one taken with the claim was given back)."""
        with self.app.app_context(), write():
            return self.take_slot(skip)

    async def _remote(self, engine: str):
        """A browser on the browser server whose slot this worker holds (taken with its claim), or, when that
        one refuses, on another with a free slot; connected once per endpoint and engine, reconnected when it
        dropped. The slot is held until the test ends."""
        pool = self.pool
        if self.playwright is None:
            self.playwright = await async_playwright().start()
        tried: set[str] = set()
        waited = 0.0
        while True:
            if self.slot is None and not self._take_another(tried):
                if pool.all_down(tried) or waited >= SLOT_WAIT_SECONDS:
                    raise pool.unavailable()
                await asyncio.sleep(0.2)  # every answering server is busy: wait for a slot
                waited += 0.2
                continue
            endpoint = self.slot
            browser = self.remote.get((endpoint.url, engine))
            if browser is None or not browser.is_connected():
                if browser is not None:
                    await _quietly(browser.close())
                try:
                    browser = await getattr(self.playwright, engine).connect(
                        endpoint.url, **pool.connect_options()
                    )
                except Exception as exc:
                    if self.stopping():  # Playwright's driver is going with this process: the server is fine
                        self.give_back()
                        raise
                    pool.refused(endpoint, exc)
                    self.give_back()
                    tried.add(endpoint.url)
                    continue
                self.remote[(endpoint.url, engine)] = browser
            pool.answered(endpoint)
            return browser

    def reach(self) -> tuple[str, tuple[str, ...]]:
        """Where the gates of this test's contexts listen: loopback for a local browser, the address that
        reaches the browser server for one on another machine (looked up once per server)."""
        url = self.slot.url if self.slot is not None else None
        if url not in self.reaches:
            self.reaches[url] = egress.reach(url)
        return self.reaches[url]

    def release_slot(self) -> None:
        """Give the browser server slot back (the test ended), remembering which server it was."""
        if self.slot is not None:
            self.used_endpoint = self.slot.name
            self.give_back()

    def give_back(self) -> None:
        """Give the slot held (if any) back to the database."""
        held, self.held, self.slot = self.held, None, None
        if held is None:
            return
        try:
            with self.app.app_context():
                slots.release(held, self.owner, self.index)
        except Exception:  # the database is away for a moment: the lease runs out instead, freeing the slot
            log.exception("a browser server slot could not be given back; its lease will run out")

    def device(self, job) -> dict | None:
        """Playwright's descriptor of the job's device, or None for a desktop."""
        if job.device != "mobile":
            return None
        descriptor = dict(self.playwright.devices[MOBILE_DEVICES[job.browser]])
        descriptor.pop("default_browser_type", None)
        if job.browser == "firefox":
            descriptor.pop("is_mobile", None)  # Firefox cannot emulate a mobile viewport
        return descriptor

    async def close(self) -> None:
        """Close every browser and Playwright itself (the worker is stopping)."""
        for other in [*self.others.values(), *self.remote.values()]:
            await _quietly(other.close())
        if self.local is not None:
            await _quietly(self.local.close())
        if self.playwright is not None:
            await _quietly(self.playwright.stop())

    async def forget(self, engine: str) -> None:
        """Drop a browser that failed or was given up on: the next test launches (or connects) another."""
        if self.slot is not None:  # the browser server dropped it: reconnect (or go elsewhere) next time
            browser = self.remote.pop((self.slot.url, engine), None)
            if browser is not None:  # closed first: its contexts count against the slot until then
                await _quietly(browser.close())
            self.release_slot()
            return
        browser = self.local if engine == "chromium" else self.others.pop(engine, None)
        if browser is not None:
            await _quietly(browser.close())
        if engine == "chromium":
            self.local = None


async def _quietly(awaitable) -> None:
    """Await a close that may fail or hang (a dead browser): bounded, errors ignored."""
    try:
        await asyncio.wait_for(awaitable, timeout=CLOSE_SECONDS)
    except Exception:
        pass
