"""Order a run's tests by risk and plan which fit a time budget.

Risk score, in [0, 1], a weighted sum of five inputs that are each in [0, 1]:

    score = 0.30 * recent_failures + 0.25 * touches_changed_page + 0.20 * recently_edited + 0.15 * flaky
            + 0.10 * self_heal

* recent_failures = (1 - d) * sum(d**i for each run i that failed), i = 0 for the newest run, d = 0.5:
  each older run counts half as much as the next newer one, so a failure in the last run weighs 0.5
  whatever came before, while a failure twelve runs ago weighs 0.0001. Pass-after-retry is not a
  failure here; it feeds the flaky input instead.
* touches_changed_page = 1 when one of the test's goto pages matches a ``changedPages`` entry
  (see ``touches``), else 0.
* recently_edited = 1 - age / RECENT_EDIT_DAYS for a test edited less than RECENT_EDIT_DAYS ago
  (1 just edited, falling linearly to 0), else 0.
* flaky = the test's stored flaky score (``flaky_score``).
* self_heal = the share of the test's recent executed results in which a target healed (``heal_rate``): a
  test whose locators keep healing is drifting from its page, and a heal a person rejects fails it.

Failures weigh most because a test that just failed is the likeliest to fail again; a change to a page
a test visits comes next; an edit is a weaker signal (often a fix), and flakiness weakest (it predicts
noise more than regressions). Self-healing is the weakest: the test still passed.
"""

from __future__ import annotations

import math
import re
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import NotRequired, TypedDict
from urllib.parse import unquote, urlsplit

DEFAULT_ESTIMATE_MS = 30_000
# Why 30 s: a new test has no durations yet, and a typical browser test (a few navigations and
# assertions) takes tens of seconds. Planning with a plausible guess keeps a new test from looking
# free; the wall-clock budget is enforced again while the run executes, so the guess needn't be exact.
RECENT_EDIT_DAYS = 7
ESTIMATE_RUNS = 10  # durations of at most this many newest runs feed the median
FAILURE_DECAY = 0.5
WEIGHTS = {"failures": 0.30, "changed_page": 0.25, "edited": 0.20, "flaky": 0.15, "self_heal": 0.10}


@dataclass
class TestHistory:
    """What the planner knows about one test."""

    __test__ = False  # not a pytest test class, despite the name

    test_id: int
    name: str
    tags: list[str]
    updated_at: datetime  # aware UTC; last edit
    outcomes: list[str]  # newest first: "passed" | "failed" | "flaky" (passed after a retry)
    durations_ms: list[int]  # newest first, executed runs only
    flaky_score: float  # 0..1
    pages: list[str]  # the URLs/paths its goto steps visit, as written in the test
    heal_rate: float = 0.0  # 0..1: share of recent executed results in which a target healed


class PlanRow(TypedDict):
    """One test of a run's plan, as the run stores it (camelCase: the API shows it)."""

    testId: int
    score: float
    smoke: bool
    estimateMs: int
    plan: NotRequired[str]  # "run" or "over_budget", set once the budget has been walked


def is_smoke(name: str, tags: Sequence[str] | None) -> bool:
    """Tell whether a test is an always-run smoke test ("smoke" tag or "smoke" in its name)."""
    return "smoke" in (name or "").lower() or any(str(tag).strip().lower() == "smoke" for tag in tags or [])


def flaky_score(outcomes: Sequence[str], window: int = 20) -> float:
    """Return the share of unstable runs among the newest `window` outcomes, from 0 to 1.

    Each run is "passed" (first attempt), "failed" or "flaky" (failed, then passed on a retry).
    score = (flaky + min(passed, failed)) / runs: every "flaky" run counts, and of plain passes and
    failures only the minority does, because a test that always fails is broken, not flaky (0), and
    one that always passes is stable (0). 18 passes + 2 failures -> 0.1; 20 "flaky" runs -> 1.0.
    Unknown outcomes (e.g. "skipped") are ignored; no runs -> 0.
    """
    recent = outcomes[: max(window, 0)]
    passed, failed, flaky = (recent.count(kind) for kind in ("passed", "failed", "flaky"))
    runs = passed + failed + flaky
    if runs == 0:
        return 0.0
    return (flaky + min(passed, failed)) / runs


def estimate_ms(history: TestHistory) -> int:
    """Estimate a test's duration: the median of its newest durations, else DEFAULT_ESTIMATE_MS."""
    recent = [max(int(d), 0) for d in history.durations_ms[:ESTIMATE_RUNS] if d is not None]
    if not recent:
        return DEFAULT_ESTIMATE_MS
    return round(statistics.median(recent))


def _raw_path(page: str) -> str:
    # Compare by path only: a test may name "https://app.example/cart?x=1" or just "/cart".
    page = page.strip()
    parts = urlsplit(page)
    path = parts.path if (parts.scheme or parts.netloc) else page.split("?")[0].split("#")[0]
    path = unquote(path)
    return path if path.startswith("/") else "/" + path


def _path(page: str) -> str:
    return _raw_path(page).rstrip("/") or "/"


def _matches(changed: str, path: str) -> bool:
    if "*" not in changed:
        return _path(changed) == path
    # A glob: "*" matches any characters. "/checkout/*" also covers "/checkout" itself, its index.
    regex = re.compile(".*".join(re.escape(part) for part in _raw_path(changed).split("*")))
    return bool(regex.fullmatch(path) or regex.fullmatch(path.rstrip("/") + "/"))


def touches(history: TestHistory, changed_pages: Sequence[str]) -> bool:
    """Tell whether any page the test visits is among the changed pages (matched by URL path)."""
    paths = {_path(page) for page in history.pages if page}
    return any(_matches(changed, path) for changed in changed_pages if changed for path in paths)


def _recent_failures(outcomes: Sequence[str]) -> float:
    return (1 - FAILURE_DECAY) * sum(
        FAILURE_DECAY**age for age, outcome in enumerate(outcomes) if outcome == "failed"
    )


def _utc(moment: datetime) -> datetime:
    # The models hand back aware UTC (models.UTCDateTime); a naive value from any other caller means UTC.
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _recently_edited(updated_at: datetime | None, now: datetime) -> float:
    if updated_at is None:
        return 0.0
    updated_at, now = _utc(updated_at), _utc(now)
    age_days = max((now - updated_at).total_seconds(), 0) / 86_400  # an edit "in the future" is just now
    return max(0.0, 1 - age_days / RECENT_EDIT_DAYS)


def risk_score(history: TestHistory, *, now: datetime, changed_pages: Sequence[str]) -> float:
    """Score how likely a test is to find a regression in this run, from 0 to 1 (module docstring)."""
    flaky = history.flaky_score if history.flaky_score and math.isfinite(history.flaky_score) else 0.0
    inputs = {
        "failures": _recent_failures(history.outcomes),
        "changed_page": 1.0 if touches(history, changed_pages) else 0.0,
        "edited": _recently_edited(history.updated_at, now),
        "flaky": min(max(flaky, 0.0), 1.0),
        "self_heal": min(max(history.heal_rate, 0.0), 1.0),
    }
    return sum(WEIGHTS[name] * value for name, value in inputs.items())


def plan(
    histories: Sequence[TestHistory],
    *,
    budget_minutes: float | None,
    changed_pages: Sequence[str],
    now: datetime,
    parallel: int = 1,
) -> list[PlanRow]:
    """Order tests (smoke first, then by risk) and mark those that do not fit the budget "over_budget".

    With `parallel` workers the wall clock is roughly the sum of the estimates divided by the number
    of workers, so each test consumes estimate / parallel of the budget. Walking the order, once the
    cumulative consumption would exceed the budget, that test and every later non-smoke test is
    "over_budget"; smoke tests always "run" and still count toward the cumulative.
    """
    workers = max(int(parallel or 1), 1)
    rows: list[PlanRow] = [
        {
            "testId": h.test_id,
            # Rank by the score as shown, so the listed order never contradicts the listed scores.
            "score": round(risk_score(h, now=now, changed_pages=changed_pages), 3),
            "smoke": is_smoke(h.name, h.tags),
            "estimateMs": estimate_ms(h),
        }
        for h in histories
    ]
    rows.sort(key=lambda row: (not row["smoke"], -row["score"], row["testId"]))
    # Compare sum(estimates) with budget * workers: whole milliseconds, no drift from dividing each.
    budget_ms = None if budget_minutes is None else budget_minutes * 60_000 * workers
    total_ms = 0
    over = False
    for row in rows:
        if not row["smoke"] and budget_ms is not None and (over or total_ms + row["estimateMs"] > budget_ms):
            over = True
            row["plan"] = "over_budget"
            continue
        total_ms += row["estimateMs"]
        row["plan"] = "run"
    return rows
