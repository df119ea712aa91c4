"""The schedule of a page's extra samples (worker/sampling.py), with stand-ins for the browser: the loads come
one at a time, the waits for quiet together, and the budget keeps what was taken. What the samples read on a
real page is tests/test_vitals_late_paint.py's."""

from __future__ import annotations

import asyncio

import pytest

from sentri.worker import sampling, vitals_probe
from sentri.worker.spare import settle

URL = "https://shop.example/"


class Seen:
    def __init__(self) -> None:
        self.loading = self.waiting = 0
        self.most_loading = self.most_waiting = 0
        self.opened = self.closed = 0


class Page:
    def __init__(self, seen: Seen, hold: asyncio.Event | None) -> None:
        self.seen, self.hold, self.url = seen, hold, URL

    async def goto(self, url: str, **_options) -> None:
        self.url = url
        self.seen.loading += 1
        self.seen.most_loading = max(self.seen.most_loading, self.seen.loading)
        await asyncio.sleep(0)  # another sample would start loading now if it could

    async def wait_for_load_state(self, *_args, **_options) -> None:
        return None

    def is_closed(self) -> bool:
        return False


class Context:
    def __init__(self, seen: Seen, hold: asyncio.Event | None) -> None:
        self.seen, self.hold = seen, hold

    async def add_init_script(self, _script: str) -> None:
        return None

    async def new_page(self) -> Page:
        return Page(self.seen, self.hold)

    async def close(self) -> None:
        self.seen.closed += 1


def _stand_ins(monkeypatch, seen: Seen, hold: asyncio.Event | None = None):
    async def settle(page, *, quiet_ms, floor_ms, most_ms) -> None:
        if quiet_ms == sampling.PAINT_MS:  # the paint window ends the load: the next sample may start
            page.seen.loading -= 1
            return
        page.seen.waiting += 1
        page.seen.most_waiting = max(page.seen.most_waiting, page.seen.waiting)
        try:
            if page.hold is not None:
                await page.hold.wait()  # a page that never goes quiet within the budget
            await asyncio.sleep(0.01)
        finally:
            page.seen.waiting -= 1

    async def read(page) -> dict:
        return {"url": page.url, "lcp": 900.0, "cls": 0.0, "ttfb": 50.0}

    monkeypatch.setattr(vitals_probe, "settle", settle)
    monkeypatch.setattr(vitals_probe, "read", read)

    async def new_context():
        seen.opened += 1
        return Context(seen, hold if seen.opened > 2 else None), None

    return new_context


def test_a_pages_samples_load_one_at_a_time_and_wait_for_quiet_together(monkeypatch):
    seen = Seen()
    new_context = _stand_ins(monkeypatch, seen)
    rows = [{"url": URL, "lcp": 880.0, "cls": 0.0, "ttfb": 40.0, "inp": None}]
    (row,) = asyncio.run(sampling.sample(new_context, rows, 4, 15_000, 60.0))
    assert row["samples"]["lcp"] == [880.0, 900.0, 900.0, 900.0, 900.0]
    assert row["lcp"] == 900.0 and row["ttfb"] == 50.0
    assert seen.most_loading == 1  # a load beside another's would slow both: never
    assert seen.most_waiting > 1  # the quiet waits overlap: that is the time saved
    assert seen.opened == seen.closed == 4


def test_samples_never_open_more_than_the_overlap_at_once(monkeypatch):
    seen = Seen()
    new_context = _stand_ins(monkeypatch, seen)
    rows = [{"url": URL, "lcp": 100.0, "cls": 0.0, "ttfb": 40.0}]
    asyncio.run(sampling.sample(new_context, rows, 8, 15_000, 60.0))
    assert seen.most_waiting <= sampling.OVERLAP and seen.opened == seen.closed == 8


def test_the_budget_keeps_the_samples_taken_and_closes_the_rest(monkeypatch):
    seen = Seen()

    async def run() -> list[dict]:
        hold = asyncio.Event()  # never set: the third and fourth samples never go quiet
        new_context = _stand_ins(monkeypatch, seen, hold)
        rows = [{"url": URL, "lcp": 880.0, "cls": 0.0, "ttfb": 40.0}]
        return await sampling.sample(new_context, rows, 4, 15_000, 2.0)

    (row,) = asyncio.run(run())
    assert row["samples"]["lcp"] == [880.0, 900.0, 900.0]
    assert seen.opened == seen.closed == 4


def test_a_cancelled_job_closes_every_sample_it_opened(monkeypatch):
    seen = Seen()

    async def run() -> None:
        hold = asyncio.Event()  # never set: the samples past the second wait until the job is cancelled
        new_context = _stand_ins(monkeypatch, seen, hold)
        rows = [{"url": URL, "lcp": 880.0, "cls": 0.0, "ttfb": 40.0}]
        task = asyncio.ensure_future(sampling.sample(new_context, rows, 4, 15_000, 60.0))
        while seen.waiting < 2:  # two samples hold their quiet wait
            await asyncio.sleep(0.001)
        task.cancel()  # the run was stopped: the job's task is cancelled (twice over, by sample()'s own cleanup)
        with pytest.raises(asyncio.CancelledError):
            await task
        await settle()  # the closes that outlived the cancel

    asyncio.run(run())
    assert seen.opened == seen.closed == 4
