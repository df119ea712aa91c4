"""A page opened ahead: while one test's last Web Vitals are read and its result is recorded, the browser
already opens the page the next test will start on.

Opening a page is most of a test's set-up (a new renderer process: bench/run_overhead.py measures it),
and the end of a test mostly waits: for the frame that reports INP, for the database. A worker's Spare
is started there (and by an idle worker) and taken by its next attempt when that attempt would open the
same thing (the same browser, the same new_context() options); anything else closes it and opens its own.
A spare is a fresh context with service workers blocked and one blank page: nothing has been loaded into
it. Its init script and, when opened at a test's end, routes that refuse everything until the taking
attempt's own guard answers them are set up before the page opens; the attempt adds its tracing before its
first navigation, as on a page it opens itself. Browser servers are not given spares: their slots count
pages.

Also here: the loop's background work (contexts being closed, spares being opened) and settle().
"""

from __future__ import annotations

import asyncio
import threading

from .guard import gated_context

CLOSE_SECONDS = 10  # a browser that stopped answering must not hold the worker (and its run) forever

# Each worker thread runs its own event loop: its background tasks are its own, in a set no other thread
# sees (one set for every thread was iterated by one while another's done-callbacks changed it).
_thread = threading.local()


def _pending() -> set[asyncio.Task]:
    tasks = getattr(_thread, "pending", None)
    if tasks is None:
        tasks = _thread.pending = set()
    return tasks


def background(coroutine) -> asyncio.Task:
    """Run a coroutine on the current loop without awaiting it (kept referenced until done)."""
    task = asyncio.ensure_future(coroutine)
    tasks = _pending()
    tasks.add(task)
    task.add_done_callback(tasks.discard)  # called on this loop, so in this thread
    return task


async def settle() -> None:
    """Wait for this loop's background work: a worker calls it before idling."""
    loop = asyncio.get_running_loop()
    mine = [task for task in _pending() if task.get_loop() is loop]
    if mine:
        await asyncio.gather(*mine, return_exceptions=True)


async def close_quietly(context) -> None:
    """Close a context, bounded, errors ignored."""
    try:
        await asyncio.wait_for(asyncio.shield(context.close()), timeout=CLOSE_SECONDS)
    except Exception:
        pass


def _frozen(options: dict) -> str:
    return repr(sorted(options.items()))


async def _open(browser, networks, options: dict, setup):
    context, gate = await gated_context(browser, networks, options)
    try:
        ready = await setup(context) if setup is not None else None
        return context, await context.new_page(), ready, gate
    except BaseException:
        background(close_quietly(context))
        raise


async def _discard(task: asyncio.Task) -> None:
    try:
        context, *_ = await task
    except BaseException:  # it never opened (or was cancelled): nothing to close
        return
    await close_quietly(context)


def _failed(task: asyncio.Task) -> bool:
    return task.done() and (task.cancelled() or task.exception() is not None)


class Spare:
    """At most one page opened ahead, for one worker's loop."""

    def __init__(self) -> None:
        self._task: asyncio.Task | None = None
        self._browser = None
        self._key = ""
        self.taken = 0  # spares handed to an attempt (tests and the bench read it)

    @property
    def ready(self) -> bool:
        """Tell whether an opened page is waiting."""
        task = self._task
        return task is not None and task.done() and not _failed(task)

    @property
    def context(self):
        """The opened context waiting to be taken, or None."""
        return self._task.result()[0] if self.ready else None

    def prepare(self, browser, networks, options: dict, setup=None) -> None:
        """Start opening a page like `options` on `browser`, gated against `networks` (nothing when one is already
        there or coming). `setup(context)`, awaited before the page opens, prepares what every test's context gets
        (the Web Vitals probe); what it returns is handed over with the page, and the context's gate after it."""
        if self._task is not None and not _failed(self._task):
            return
        if not browser.is_connected():
            return
        self._browser, self._key = browser, _frozen(options)
        self._task = background(_open(browser, networks, options, setup))

    async def take(self, browser, options: dict):
        """Return (context, page, what setup returned, gate) when the spare matches, else None (a spare that
        does not is closed)."""
        task, same = self._task, self._browser is browser and self._key == _frozen(options)
        self._task, self._browser = None, None
        if task is None:
            return None
        if not same or not browser.is_connected():
            background(_discard(task))
            return None
        try:
            opened = await asyncio.shield(task)  # a cancelled attempt must not cancel the opening half-way
        except asyncio.CancelledError:
            background(_discard(task))
            raise
        except (
            Exception
        ):  # the browser failed to open it: the attempt opens its own, and says why if it fails
            return None
        if opened[1].is_closed():  # its page went away meanwhile (a crashed renderer): open another
            background(close_quietly(opened[0]))
            return None
        self.taken += 1
        return opened

    async def close(self) -> None:
        """Close the spare, if any (the worker is stopping)."""
        task, self._task, self._browser = self._task, None, None
        if task is not None:
            await _discard(task)
