"""Web Vitals and pass rates as the pages show them (labels, units, formatting, Google's ratings), and why
a run's other tests did not run, in words."""

from __future__ import annotations

from ..runs import vitals

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


def vital_cell(metric: str, value: float | None, budgets: dict | None, samples: list[float] | None = None) -> dict:
    """Return how to show one measured vital: text, Google's rating, whether it is over budget, and with
    several samples (vitalsSamples) their spread: the value shown is their median."""
    budget = (budgets or {}).get(metric)
    over = value is not None and budget is not None and value > budget
    spread = None
    if samples and len(samples) > 1:
        spread = (f"{format_metric(metric, min(samples))}–{format_metric(metric, max(samples))}, "
                  f"median of {len(samples)} samples")
    return {"text": format_metric(metric, value), "rating": vitals.rating(metric, value), "over": over,
            "budget": budget, "spread": spread}


def not_run(reasons: dict[str | None, int]) -> str:
    """Say how many tests were skipped for which reason: "6 left when the run was aborted, 1 not selected"."""
    def words(reason: str | None) -> str:
        return SKIP_WORDS.get(reason or "", f"skipped ({reason or 'no reason given'})")

    return ", ".join(f"{count} {words(reason)}"
                     for reason, count in sorted(reasons.items(), key=lambda item: -item[1]) if count)
