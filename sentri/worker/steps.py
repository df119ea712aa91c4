"""Execute test-format steps on a Playwright page, one step to one Playwright call.

The async API is used because each worker thread owns an event loop: an abort or a per-test
timeout cancels the test's task, which interrupts a Playwright wait at once instead of after it
times out (see engine.py)."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Protocol
from urllib.parse import urlsplit

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Locator, Page, expect

from ..origins import browser_form, scheme_of
from .guard import Guard, Refused

DEFAULT_STEP_TIMEOUT_MS = 15_000


StepRun = Callable[[dict], Awaitable[None]]


class Healer(Protocol):
    """What run_steps asks of a healer (worker/healer.py)."""

    async def remember(self, page: Page, index: int, step: dict) -> None: ...
    async def run(
        self, page: Page, index: int, step: dict, run: StepRun, may_heal: Callable[[], bool]
    ) -> None: ...


class HealRemark(Exception):
    """A step failed, and its healing adds a sentence to why (a heal refused, a waiting heal that failed)."""

    def __init__(self, error: BaseException, sentence: str) -> None:
        super().__init__(sentence)
        self.error = error


class StepFailed(Exception):
    """A step did not do what it says; `index` is numbered from 1 like the test format."""

    def __init__(self, index: int, action: str, message: str, *, refused: bool = False) -> None:
        super().__init__(f"step {index} ({action}): {message}")
        self.index = index
        self.action = action
        self.message = message
        self.refused = refused  # the browser guard refused it: nothing of the page is kept


def resolve_url(base_url: str, url: str) -> str:
    """Join a relative step URL onto the base URL, keeping the base's path ('/login' under '/demo').
    The URL is read as a browser reads it (origins.browser_form), so what is checked is what opens."""
    url = browser_form(url)
    if scheme_of(url):
        return url
    return base_url.rstrip("/") + "/" + url.lstrip("/")


def url_pattern(base_url: str, expected: str) -> re.Pattern[str]:
    """Return the regex an `expect_url` value means: a glob with `*`, a path (query ignored), or a URL."""
    if "*" in expected:
        glob = resolve_url(base_url, expected) if expected.startswith("/") else expected
        return re.compile("^" + ".*".join(re.escape(part) for part in glob.split("*")) + "$")
    full = resolve_url(base_url, expected)
    if urlsplit(expected).scheme:
        return re.compile("^" + re.escape(full) + "$")
    # A path names a page: the query string and fragment may vary.
    return re.compile("^" + re.escape(full.rstrip("/")) + r"/?(?:[?#].*)?$")


def locate(page: Page, target: dict) -> Locator:
    """Return the Playwright locator a step target describes."""
    exact = target.get("exact")
    if "css" in target:
        locator = page.locator(target["css"])
    elif "xpath" in target:
        locator = page.locator(f"xpath={target['xpath']}")
    elif "role" in target:
        locator = page.get_by_role(target["role"], name=target.get("name"), exact=exact)
    elif "text" in target:
        locator = page.get_by_text(target["text"], exact=exact)
    elif "label" in target:
        locator = page.get_by_label(target["label"], exact=exact)
    elif "placeholder" in target:
        locator = page.get_by_placeholder(target["placeholder"], exact=exact)
    elif "testid" in target:
        locator = page.get_by_test_id(target["testid"])
    else:  # validation makes this unreachable for stored tests
        raise ValueError(f"target has no locator: {target}")
    nth = target.get("nth")
    if nth is None:
        return locator
    return locator.last if nth == -1 else locator.nth(nth)


Snapshot = Callable[[Page, int, dict], Awaitable[None]]


async def run_step(
    page: Page,
    step: dict,
    base_url: str,
    timeout_ms: int,
    guard: Guard | None = None,
    snapshot: Snapshot | None = None,
    index: int = 0,
) -> None:
    """Perform one canonical step; raise Playwright's error, AssertionError, or the guard's Refused.
    `snapshot` takes and compares an expect_screenshot step's picture (worker/snapshots.py)."""
    action = step["action"]
    timeout = step.get("timeout", timeout_ms)
    target = step.get("target")
    if guard is not None:
        await guard.check_typing(page, step, locate(page, target) if target else None, timeout)
    if action == "goto":
        url = resolve_url(base_url, step["url"])
        if guard is not None:
            guard.check_navigation(url, step)
        await page.goto(url, timeout=timeout)
    elif action == "click":
        await locate(page, target).click(button=step.get("button", "left"), timeout=timeout)
    elif action == "dblclick":
        await locate(page, target).dblclick(timeout=timeout)
    elif action == "hover":
        await locate(page, target).hover(timeout=timeout)
    elif action == "fill":
        await locate(page, target).fill(step["value"], timeout=timeout)
    elif action == "press":
        if target:
            await locate(page, target).press(step["key"], timeout=timeout)
        else:
            await page.keyboard.press(step["key"])
    elif action == "select":
        await locate(page, target).select_option(step["value"], timeout=timeout)
    elif action == "check":
        await locate(page, target).check(timeout=timeout)
    elif action == "uncheck":
        await locate(page, target).uncheck(timeout=timeout)
    elif action == "wait":
        await page.wait_for_timeout(step["ms"])
    elif action == "expect_visible":
        await expect(locate(page, target)).to_be_visible(timeout=timeout)
    elif action == "expect_hidden":
        await expect(locate(page, target)).to_be_hidden(timeout=timeout)
    elif action == "expect_text":
        await expect(locate(page, target)).to_contain_text(step["text"], timeout=timeout)
    elif action == "expect_url":
        await expect(page).to_have_url(url_pattern(base_url, step["url"]), timeout=timeout)
    elif action == "expect_title":
        await expect(page).to_have_title(re.compile(re.escape(step["title"])), timeout=timeout)
    elif action == "expect_screenshot":
        if snapshot is None:
            raise AssertionError("screenshots are not compared here")
        await snapshot(page, index, step)
    else:
        raise ValueError(f"unknown action {action!r}")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    # Playwright appends a call log; the first lines say what went wrong.
    return "\n".join(text.splitlines()[:3])[:1000]


async def run_steps(
    page: Page,
    steps: list[dict],
    base_url: str,
    *,
    timeout_ms: int = DEFAULT_STEP_TIMEOUT_MS,
    before_step: Callable[[int, dict], Awaitable[None]] | None = None,
    guard: Guard | None = None,
    snapshot: Snapshot | None = None,
    healer: Healer | None = None,
) -> None:
    """Run steps in order; raise StepFailed naming the first failing step (or the first the guard refused).
    With a `healer`, a step may run on a heal already found for its target, and one whose target matched
    nothing (or too much) may go on with another description of the same element (worker/healer.py)."""

    def may_heal() -> bool:  # not once the guard refused a request: the step failed for that
        return not (guard is not None and guard.refusals)

    for index, step in enumerate(steps, start=1):
        if before_step is not None:
            await before_step(index, step)
        run = partial(
            run_step,
            page,
            base_url=base_url,
            timeout_ms=timeout_ms,
            guard=guard,
            snapshot=snapshot,
            index=index,
        )
        try:
            if healer is not None:
                await healer.remember(page, index, step)
                await healer.run(page, index, step, run, may_heal)
            else:
                await run(step)
            if guard is not None:
                guard.check_page(page)
        except Refused as exc:
            raise StepFailed(index, step["action"], str(exc), refused=True) from None
        except HealRemark as remark:
            if guard is not None and guard.refusals:
                raise StepFailed(index, step["action"], guard.refusals[0], refused=True) from None
            raise StepFailed(
                index, step["action"], f"{_first_line(remark.error)}\n{remark}"
            ) from remark.error
        except (PlaywrightError, AssertionError) as exc:
            if guard is not None and guard.refusals:  # the step failed because the guard aborted its request
                raise StepFailed(index, step["action"], guard.refusals[0], refused=True) from None
            raise StepFailed(index, step["action"], _first_line(exc)) from exc
