"""Web Vitals and pass rates as the pages show them (labels, units, formatting, Google's ratings), and why
a run's other tests did not run, in words."""

from __future__ import annotations

from ..policies import vitals

METRICS = vitals.METRICS
METRIC_LABELS = {"lcp": "LCP", "cls": "CLS", "inp": "INP", "ttfb": "TTFB"}
METRIC_UNITS = {"lcp": "ms", "cls": "", "inp": "ms", "ttfb": "ms"}

SKIP_WORDS = {
    "deselected": "not selected for this run",
    "over_budget": "over the run's time budget (budgetMinutes)",
    "aborted": "left when the run was aborted",
    "run_failed": "left when the run failed",
    "deleted": "their test was deleted",
}


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


def skip_words(reason: str | None) -> str:
    """Why one test did not run, in words: "over the run's time budget (budgetMinutes)"."""
    return SKIP_WORDS.get(reason or "", f"skipped ({reason or 'no reason given'})")


def not_run(reasons: dict[str | None, int]) -> str:
    """Say how many tests were skipped for which reason: "6 left when the run was aborted, 1 not selected"."""
    return ", ".join(
        f"{count} {skip_words(reason)}"
        for reason, count in sorted(reasons.items(), key=lambda item: -item[1])
        if count
    )
