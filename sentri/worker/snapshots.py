"""The expect_screenshot step: a stable screenshot compared with the test's approved baseline.

The worker knows the approved baselines of its test (by name and viewport, for the run's browser and
device) from the job. A screenshot with no approved baseline passes and is kept as a candidate waiting for
review; one identical to its baseline (same SHA-256) passes without decoding; otherwise the pictures are
compared (visual/compare.py) and a difference over `maxDiffPixelRatio` fails the step, keeping the actual
picture and the diff image for the review queue. A picture a person already rejected fails as rejected.
What is recorded per step goes back with the outcome; the server turns it into baseline rows.
A screenshot over the size limits (visual/limits.py) fails the step before it is compared or stored."""

from __future__ import annotations

import asyncio
from typing import Any

from playwright.async_api import Page

from ..visual import store
from ..visual.compare import compare
from ..visual.limits import png_size, size_refusal
from ..visual.shot import stable_screenshot
from .steps import locate

DEFAULT_MAX_DIFF_PIXEL_RATIO = 0.01
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

    async def __call__(self, page: Page, index: int, step: dict) -> None:
        viewport = page.viewport_size or {"width": 0, "height": 0}
        size = f"{viewport['width']}x{viewport['height']}"
        masks = [locate(page, target) for target in step.get("mask") or []]
        if self.job.uses_secrets:
            masks.append(page.locator(FORM_FIELDS))
        png = await stable_screenshot(page, locator=locate(page, step["target"]) if step.get("target") else None,
                                      full_page=bool(step.get("fullPage")), mask=masks,
                                      timeout_ms=step.get("timeout", self.job.step_timeout_ms))
        too_large = size_refusal(*png_size(png, "screenshot"))
        if too_large:
            raise AssertionError(f'screenshot "{step["name"]}" is refused: {too_large}; '
                                 "take a part of the page instead (a target)")
        entry: dict[str, Any] = {"step": index, "name": step["name"], "viewport": size, "sha256": store.digest(png)}
        self.entries.append(entry)
        baseline = self.job.baselines.get(key(step["name"], size))
        if baseline is None:
            entry["status"] = "new"
            await self._put(png)
            return
        entry["baselineId"], entry["expectedSha256"] = baseline["id"], baseline["sha256"]
        if baseline["sha256"] == entry["sha256"]:
            entry.update(status="matched", ratio=0.0)
            return
        try:  # off the loop: the store may be a bucket
            expected = await asyncio.to_thread(store.read, self.job.artifacts, baseline["sha256"])
        except OSError as exc:  # a store that does not answer: no verdict, rather than a wrong one
            raise AssertionError(f'screenshot "{step["name"]}" could not be compared: its approved baseline could '
                                 f"not be read: {exc.strerror or exc}") from None
        if expected is None:  # the baseline's file is gone: this picture is a candidate again
            entry["status"] = "new"
            await self._put(png)
            return
        limit = step.get("maxDiffPixelRatio", DEFAULT_MAX_DIFF_PIXEL_RATIO)
        try:
            result = await asyncio.to_thread(compare, expected, png, max_diff_pixel_ratio=limit,
                                             threshold=step.get("threshold", DEFAULT_THRESHOLD))
        except ValueError as exc:  # e.g. a full-page shot past the size compare() accepts
            raise AssertionError(f'screenshot "{step["name"]}" could not be compared: {exc}') from None
        entry["ratio"] = round(result.ratio, 6)
        if result.passed:
            entry["status"] = "matched"
            return
        rejected = entry["sha256"] in self.job.rejected_shots.get(key(step["name"], size), ())
        entry["status"] = "rejected" if rejected else "changed"
        entry["box"] = list(result.box) if result.box else None
        await self._put(png)
        if result.diff_png is not None and self.keep and self.job.artifacts is not None:
            try:
                entry["diffSha256"] = await asyncio.to_thread(store.put, self.job.artifacts, result.diff_png)
            except OSError:
                pass  # the failure below says what changed; the diff picture is lost
        if result.size_mismatch:
            (width, height), (was_width, was_height) = result.actual_size, result.expected_size
            why = f"sizes differ: {width}x{height} now, {was_width}x{was_height} in the approved baseline"
        else:
            why = f"{result.ratio:.2%} of its pixels differ from the approved baseline (at most {limit:.2%})"
        verdict = "a person rejected this picture before" if rejected else "approve it in the review queue if it is right"
        raise AssertionError(f'screenshot "{step["name"]}" changed: {why}; {verdict}')

    async def _put(self, png: bytes) -> None:
        if self.keep and self.job.artifacts is not None:
            try:
                await asyncio.to_thread(store.put, self.job.artifacts, png)
            except OSError as exc:  # a full disk or a bucket that does not answer fails the step, not the worker
                raise AssertionError(f"the screenshot could not be stored: {exc.strerror or exc}") from None
            except ValueError as exc:  # over the size limits: refused above already, but never written
                raise AssertionError(f"the screenshot could not be stored: {exc}") from None
