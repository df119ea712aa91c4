"""The expect_screenshot step: screenshots compared with the test's approved baseline until one matches.

The worker knows the approved baselines of its test (by name and viewport, for the run's browser and
device) from the job. Screenshots are taken until the step's timeout (visual/shot.py); each says whether it
is *still* (identical to the one before it, the page's requests quiet):
- no approved baseline (or its file is gone): the first still one passes and is kept as a candidate
  waiting for review; a page that never keeps still fails the step and keeps nothing;
- otherwise each screenshot is compared as it comes, as toHaveScreenshot does: identical to the baseline
  (same SHA-256) passes without decoding, else visual/compare.py judges it: no pixel may differ past
  `threshold` unless `maxDiffPixels` or `maxDiffPixelRatio` allows it. A match passes the step. One that
  differs is not the verdict: a page still drawing (late data, a timer) is given the rest of the timeout,
  and then the step fails with the last *still* screenshot that differed, keeping it and the diff image
  for the review queue (or, when none was still, saying the page never kept still). A picture a person
  already rejected fails as rejected.
Every picture an entry names is stored, a match within the allowance included (with its diff); one that
could not be stored is not named. What is recorded per step goes back with the outcome; the server turns
it into baseline rows. A screenshot over the size limits (visual/limits.py) fails the step at once."""

from __future__ import annotations

import asyncio
import time
from contextlib import aclosing
from typing import Any

from playwright.async_api import Page

from ..visual import store
from ..visual.compare import Comparison, compare
from ..visual.limits import png_size, size_refusal
from ..visual.shot import NetworkWatch, prepare, screenshot, shots
from .steps import locate

DEFAULT_THRESHOLD = 0.2
# Painted over in the screenshots of a test that types secrets, like its failure screenshot.
FORM_FIELDS = "input:not([type=hidden]), textarea, select, [contenteditable]:not([contenteditable=false])"


def key(name: str, viewport: str) -> str:
    """How a job names one screenshot's baseline: by its name and the viewport it was taken at."""
    return f"{name}@{viewport}"


class Snapshots:
    """The screenshot steps of one attempt; `entries` is what the result records."""

    def __init__(self, job: Any, *, keep: bool = True) -> None:
        self.job = job
        self.keep = keep  # False for an attempt re-run for its trace: it writes nothing
        self.entries: list[dict[str, Any]] = []
        self.network: NetworkWatch | None = None

    def watch(self, page: Page) -> None:
        """Listen to the page's requests from its first navigation on, when the test takes screenshots."""
        if any(step.get("action") == "expect_screenshot" for step in self.job.steps):
            self.network = NetworkWatch(page)

    async def __call__(self, page: Page, index: int, step: dict) -> None:
        timeout_ms = step.get("timeout", self.job.step_timeout_ms)
        deadline = time.monotonic() + timeout_ms / 1000
        if self.network is None or self.network.page is not page:
            self.network = NetworkWatch(page)  # requests already on their way are not heard
        viewport = page.viewport_size or {"width": 0, "height": 0}
        size = f"{viewport['width']}x{viewport['height']}"
        name = step["name"]
        masks = [locate(page, target) for target in step.get("mask") or []]
        if self.job.uses_secrets:
            masks.append(page.locator(FORM_FIELDS))
        target = locate(page, step["target"]) if step.get("target") else None

        async def take(remaining_ms: float) -> bytes:
            png = await screenshot(
                page,
                locator=target,
                full_page=bool(step.get("fullPage")),
                mask=masks,
                timeout_ms=remaining_ms,
            )
            too_large = size_refusal(*png_size(png, "screenshot"))
            if too_large:
                raise AssertionError(
                    f'screenshot "{name}" is refused: {too_large}; take a part of the page instead (a target)'
                )
            return png

        baseline = self.job.baselines.get(key(name, size))
        expected = await self._read(name, baseline["sha256"]) if baseline else None
        judged: tuple[bytes, Comparison] | None = None  # the last screenshot compared, and how it compared
        differed: tuple[bytes, Comparison] | None = None  # the last still one unlike the baseline
        moving: bool | None = None  # why the last screenshot was not still: its pixels, or the network
        await prepare(page, (deadline - time.monotonic()) * 1000)
        async with aclosing(shots(take, deadline, self.network)) as series:
            async for shot in series:
                if not shot.still:
                    moving = shot.moved if shot.moved is not None else moving
                if baseline is not None and baseline["sha256"] == store.digest(shot.png):
                    await self._matched(index, name, size, baseline, shot.png, None)
                    return
                if expected is None:  # nothing approved, or the baseline's file is gone: a candidate
                    if shot.still:
                        await self._new(index, name, size, shot.png)
                        return
                    continue
                if judged is None or judged[0] != shot.png:
                    judged = (shot.png, await self._compare(name, expected, shot.png, step))
                if judged[1].passed:  # as toHaveScreenshot: a match passes, still or not
                    await self._matched(index, name, size, baseline, *judged)
                    return
                if shot.still:
                    differed = judged
        if differed is None:
            why = {
                None: "there was time for one screenshot only",
                True: "two screenshots in a row were never the same",
                False: "the page kept loading: a request was in flight, or had just ended, at every screenshot",
            }
            raise AssertionError(
                f'screenshot "{name}" never kept still within {timeout_ms} ms: {why[moving]}; '
                "no picture was kept. Mask what moves, or wait for what the page is still drawing"
            )
        await self._changed(index, name, size, baseline, *differed, step)

    async def _compare(self, name: str, expected: bytes, png: bytes, step: dict) -> Comparison:
        try:
            return await asyncio.to_thread(
                compare,
                expected,
                png,
                threshold=step.get("threshold", DEFAULT_THRESHOLD),
                max_diff_pixels=step.get("maxDiffPixels"),
                max_diff_pixel_ratio=step.get("maxDiffPixelRatio"),
            )
        except ValueError as exc:  # e.g. a baseline past the size compare() accepts: no retry helps
            raise AssertionError(f'screenshot "{name}" could not be compared: {exc}') from None

    async def _new(self, index: int, name: str, size: str, png: bytes) -> None:
        """Record a candidate baseline; a picture that cannot be stored fails the step and is not named."""
        unstored = await self._store(png)
        if unstored:
            raise AssertionError(f"the screenshot could not be stored: {unstored}")
        self.entries.append(
            {"step": index, "name": name, "viewport": size, "sha256": store.digest(png), "status": "new"}
        )

    async def _matched(
        self, index: int, name: str, size: str, baseline: dict, png: bytes, result: Comparison | None
    ) -> None:
        """Record a match, naming only the pictures that are stored: the actual one and any diff too."""
        entry: dict[str, Any] = {
            "step": index,
            "name": name,
            "viewport": size,
            "status": "matched",
            "baselineId": baseline["id"],
            "ratio": round(result.ratio, 6) if result else 0.0,
        }
        if result is not None and result.box:
            entry["box"] = list(result.box)
        # Stored even when identical to the baseline: put() writes nothing when the file is there, and puts
        # back a baseline file that was lost.
        if not await self._store(png):
            entry["sha256"] = store.digest(png)
        if result is not None or "sha256" in entry:  # compared: the baseline's file was read
            entry["expectedSha256"] = baseline["sha256"]
        if result is not None and result.diff_png is not None and not await self._store(result.diff_png):
            entry["diffSha256"] = store.digest(result.diff_png)
        self.entries.append(entry)

    async def _changed(
        self, index: int, name: str, size: str, baseline: dict, png: bytes, result: Comparison, step: dict
    ) -> None:
        """Fail the step with the last still screenshot that differed from the baseline, kept for review."""
        sha = store.digest(png)
        rejected = sha in self.job.rejected_shots.get(key(name, size), ())
        if result.size_mismatch:
            (width, height), (was_width, was_height) = result.actual_size, result.expected_size
            why = f"sizes differ: {width}x{height} now, {was_width}x{was_height} in the approved baseline"
        else:
            why = (
                f"{result.diff_pixels} of its pixels ({result.ratio:.2%}) differ from the approved baseline "
                f"({_allowance(step)})"
            )
        message = f'screenshot "{name}" changed: {why}'
        unstored = await self._store(png)
        if unstored:
            raise AssertionError(f"{message}; the screenshot could not be stored: {unstored}")
        entry = {
            "step": index,
            "name": name,
            "viewport": size,
            "sha256": sha,
            "baselineId": baseline["id"],
            "expectedSha256": baseline["sha256"],
            "status": "rejected" if rejected else "changed",
            "ratio": round(result.ratio, 6),
            "box": list(result.box) if result.box else None,
        }
        if result.diff_png is not None and not await self._store(result.diff_png):
            entry["diffSha256"] = store.digest(result.diff_png)  # else the sentence says what changed
        self.entries.append(entry)
        verdict = (
            "a person rejected this picture before"
            if rejected
            else "approve it in the review queue if it is right"
        )
        raise AssertionError(f"{message}; {verdict}")

    async def _read(self, name: str, sha: str) -> bytes | None:
        """The approved baseline's picture, or None when its file is gone (off the loop: a bucket is slow)."""
        if self.job.artifacts is None:
            return None
        try:
            return await asyncio.to_thread(store.read, self.job.artifacts, sha)
        except OSError as exc:  # a store that does not answer: no verdict, rather than a wrong one
            raise AssertionError(
                f'screenshot "{name}" could not be compared: its approved baseline could not be '
                f"read: {exc.strerror or exc}"
            ) from None

    async def _store(self, png: bytes) -> str | None:
        """Store a picture an entry names (off the loop: the store may be a bucket); say why it could not be,
        or None."""
        if not self.keep or self.job.artifacts is None:
            return None  # a re-run for its trace writes nothing, and its entries are never recorded either
        try:
            await asyncio.to_thread(store.put, self.job.artifacts, png)
        except OSError as exc:  # a full disk or a bucket that does not answer fails the step, not the worker
            return exc.strerror or str(exc)
        except ValueError as exc:  # over the size limits: refused when taken already, but never written
            return str(exc)
        return None


def _allowance(step: dict) -> str:
    """Say how many differing pixels the step allows."""
    allowed = [
        f"at most {step['maxDiffPixels']} pixels" if step.get("maxDiffPixels") is not None else "",
        f"at most {step['maxDiffPixelRatio']:.2%}" if step.get("maxDiffPixelRatio") is not None else "",
    ]
    return (
        " and ".join(filter(None, allowed))
        or "none may differ; maxDiffPixels or maxDiffPixelRatio allows some"
    )
