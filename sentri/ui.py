"""UI-only helpers: pagination, step descriptions, SVG chart geometry and a one-time secret stash."""

from __future__ import annotations

import math
import secrets
import threading
import time
from dataclasses import dataclass

from .runs import vitals

PER_PAGE = 50
METRICS = vitals.METRICS
METRIC_LABELS = {"lcp": "LCP", "cls": "CLS", "inp": "INP", "ttfb": "TTFB"}
METRIC_UNITS = {"lcp": "ms", "cls": "", "inp": "ms", "ttfb": "ms"}


@dataclass(frozen=True)
class Page:
    """One page of a paginated list."""

    number: int
    per_page: int
    total: int

    @property
    def offset(self) -> int:
        return (self.number - 1) * self.per_page

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))

    @property
    def has_prev(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.number < self.pages


def page_number(raw: str | None) -> int:
    """Read ?page= leniently: anything that is not a positive integer is page 1."""
    try:
        return max(1, int(raw or 1))
    except ValueError:
        return 1


def pass_rate(passed: int, failed: int) -> float | None:
    """Return passed / executed in percent (skipped excluded), None when nothing was executed."""
    executed = passed + failed
    return None if executed == 0 else passed * 100 / executed


def format_metric(metric: str, value: float | None) -> str:
    """Format one Web Vital for display."""
    if value is None:
        return "–"
    if metric == "cls":
        return f"{value:.3f}"
    return f"{round(value):,} ms"


def vital_cell(metric: str, value: float | None, budgets: dict | None) -> dict:
    """Return how to show one measured vital: text, Google's rating and whether it is over budget."""
    budget = (budgets or {}).get(metric)
    over = value is not None and budget is not None and value > budget
    return {"text": format_metric(metric, value), "rating": vitals.rating(metric, value), "over": over,
            "budget": budget}


def describe_target(target: dict | None) -> str:
    """Describe a locator the way a reader says it: role button "Sign in", css #email."""
    if not target:
        return ""
    for kind in ("css", "text", "label", "placeholder", "testid", "xpath"):
        if kind in target:
            text = f'{kind} "{target[kind]}"'
            break
    else:
        text = f"role {target.get('role', '?')}"
        if target.get("name"):
            text += f' "{target["name"]}"'
    if target.get("nth") is not None:
        text += f" (#{target['nth']})"
    return text


def describe_step(step: dict) -> str:
    """Describe one canonical step in one readable line."""
    action = step.get("action", "?")
    parts = [action]
    if "url" in step:
        parts.append(step["url"])
    if step.get("target"):
        parts.append(describe_target(step["target"]))
    if "value" in step:
        parts.append(f'= "{step["value"]}"')
    if "key" in step:
        parts.append(f"key {step['key']}")
    if "text" in step:
        parts.append(f'contains "{step["text"]}"')
    if "title" in step:
        parts.append(f'title contains "{step["title"]}"')
    if "ms" in step:
        parts.append(f"{step['ms']} ms")
    return " ".join(str(p) for p in parts)


@dataclass
class Chart:
    """A line chart's geometry in SVG user units, computed on the server."""

    width: int
    height: int
    points: str
    dots: list[tuple[float, float, str]]
    budget_y: float | None
    y_max: float
    label: str


def line_chart(values: list[float | None], labels: list[str], *, width: int = 320, height: int = 90,
               y_max: float | None = None, budget: float | None = None, label: str = "") -> Chart:
    """Place values (None = gap, skipped) on a width × height box; 0 at the bottom."""
    measured = [v for v in values if v is not None]
    top = y_max if y_max is not None else max([*measured, budget or 0, 0]) * 1.1 or 1
    pad = 4
    step = (width - 2 * pad) / max(1, len(values) - 1)
    dots = []
    for index, (value, text) in enumerate(zip(values, labels, strict=False)):
        if value is None:
            continue
        x = pad + index * step if len(values) > 1 else width / 2
        y = height - pad - (min(value, top) / top) * (height - 2 * pad)
        dots.append((round(x, 1), round(y, 1), text))
    budget_y = None
    if budget is not None:
        budget_y = round(height - pad - (min(budget, top) / top) * (height - 2 * pad), 1)
    points = " ".join(f"{x},{y}" for x, y, _ in dots)
    return Chart(width, height, points, dots, budget_y, top, label)


# -- one-time secrets ------------------------------------------------------------------------------
# A token's plaintext is shown once after the redirect that follows its creation. It waits here, in
# this process's memory, under a random key kept in the session: never in the cookie itself.
_STASH: dict[str, tuple[float, str, str]] = {}
_STASH_LOCK = threading.Lock()
STASH_SECONDS = 300


def stash_secret(owner: str, secret: str) -> str:
    """Keep a secret for one later read by the same owner; return the key to read it with."""
    key = secrets.token_urlsafe(24)
    now = time.monotonic()
    with _STASH_LOCK:
        for old in [k for k, (t, _o, _s) in _STASH.items() if now - t > STASH_SECONDS]:
            del _STASH[old]
        _STASH[key] = (now, owner, secret)
    return key


def take_secret(owner: str, key: str | None) -> str | None:
    """Return and forget a stashed secret, or None when it is gone, expired or someone else's."""
    if not key:
        return None
    with _STASH_LOCK:
        entry = _STASH.pop(key, None)
    if entry is None or entry[1] != owner or time.monotonic() - entry[0] > STASH_SECONDS:
        return None
    return entry[2]


def page_url(number: int, endpoint: str | None = None) -> str:
    """Return this page's URL (or `endpoint`'s) with ?page= set, keeping the other query arguments."""
    from flask import request, url_for

    args = {**(request.view_args or {}), **request.args.to_dict(), "page": number}
    return url_for(endpoint or request.endpoint, **args)
