"""Filling and submitting a crawled page's harmless forms (the crawl's fill_forms option, off by default).

A form is submitted only when every rule holds, checked again on the freshly loaded page just before the
click: it has a submit button and at least one field (a lone button is an action, not data entry); every
field is of a harmless type (HARMLESS_TYPES: no password, no file); and neither the form's name, its action
URL nor the button's name says something destructive (DESTRUCTIVE, any case), nor was cut to the crawl's
limits (what it said past the cut is unknown). What is typed is obviously test data ("Sentri test",
sentri@example.com, 1).
"""

from __future__ import annotations

import re

from playwright.async_api import TimeoutError as PlaywrightTimeout

from . import limits
from .discovery import close_page, first_line
from .structure import FIELD_SELECTOR, SUBMIT_SELECTOR, read_facts

HARMLESS_TYPES = frozenset({"text", "email", "search", "number", "textarea", "select", "checkbox"})
DESTRUCTIVE = re.compile(
    r"\b(?:delete|remove|destroy|cancel|unsubscribe|log[\s_-]*out|log[\s_-]*off|sign[\s_-]*out|sign[\s_-]*off"
    r"|deactivate|close[\s_-]*(?:my[\s_-]*)?account|purge|drop|reset|erase)",
    re.IGNORECASE,
)
VALUES = {"email": "sentri@example.com", "number": "1"}
TEXT = "Sentri test"
MAX_FORMS = limits.MAX_SUBMISSIONS  # submitted per page
ACTION_TIMEOUT_MS = 2_000


def refusal(form: dict) -> str | None:
    """Say why a form must not be submitted, or return None."""
    if not form.get("submit"):
        return "no submit button"
    if not form.get("fields"):
        return "no fields"
    odd = sorted({f["type"] for f in form["fields"]} - HARMLESS_TYPES)
    if odd:
        return f"fields of type {', '.join(odd)}"
    for what in ("name", "action", "submit"):
        if DESTRUCTIVE.search(form.get(what) or ""):
            return f"its {what} sounds destructive"
    if cut := limits.form_cut(form):
        return f"its {cut} is too long to judge"
    return None


async def submit_forms(context, url: str, forms: list[dict], timeout_ms: int) -> list[dict]:
    """Submit each harmless form of the page at `url` from a fresh load; return what each led to."""
    done: list[dict] = []
    for index, form in enumerate(forms):
        if len(done) >= MAX_FORMS:
            break
        if refusal(form) is None:
            done.append(await _submit(context, url, index, form, timeout_ms))
    return done


async def _submit(context, url: str, index: int, expected: dict, timeout_ms: int) -> dict:
    outcome = {"form": expected.get("name"), "url": None, "status": None, "error": None}
    page = await context.new_page()
    try:
        await page.goto(url, timeout=timeout_ms)
        forms = (await read_facts(page))["forms"]
        form = forms[index] if index < len(forms) else None
        # The page may have changed since it was crawled: only the same, still harmless form is sent.
        if form is None or form.get("name") != expected.get("name") or refusal(form) is not None:
            outcome["error"] = "the form changed since the page was read; not submitted"
            return outcome
        element = page.locator("form").nth(index)
        fields = element.locator(FIELD_SELECTOR)
        for position, field in enumerate(form["fields"]):
            await _fill(fields.nth(position), field)
        async with page.expect_navigation(timeout=timeout_ms) as navigation:
            await element.locator(SUBMIT_SELECTOR).first.click(timeout=ACTION_TIMEOUT_MS)
        response = await navigation.value
        outcome["url"] = page.url[: limits.MAX_URL]
        outcome["status"] = response.status if response else None
    except PlaywrightTimeout:
        outcome["url"] = None if page.is_closed() else page.url[: limits.MAX_URL]
        outcome["error"] = "no page loaded after the submit"
    except Exception as exc:
        outcome["error"] = first_line(exc)
    finally:
        await close_page(page)
    return outcome


async def _fill(locator, field: dict) -> None:
    kind = field["type"]
    if kind == "checkbox":
        if field.get("required"):
            await locator.check(timeout=ACTION_TIMEOUT_MS)
    elif kind == "select":
        value = await locator.evaluate(
            "s => (Array.from(s.options).find(o => o.value && !o.disabled) || s.options[0] || {}).value ?? null"
        )
        if value is not None:
            await locator.select_option(value, timeout=ACTION_TIMEOUT_MS)
    else:
        await locator.fill(VALUES.get(kind, TEXT), timeout=ACTION_TIMEOUT_MS)
