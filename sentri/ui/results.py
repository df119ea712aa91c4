"""How many of a run's tests ran, and why the others did not, in words (the run page's summary)."""

from __future__ import annotations

SKIP_WORDS = {
    "deselected": "not selected for this run",
    "over_budget": "over the run's time budget (budgetMinutes)",
    "aborted": "left when the run was aborted",
    "run_failed": "left when the run failed",
    "deleted": "their test was deleted",
}


def not_run(reasons: dict[str | None, int]) -> str:
    """Say how many tests were skipped for which reason: "6 left when the run was aborted, 1 not selected"."""
    def words(reason: str | None) -> str:
        return SKIP_WORDS.get(reason or "", f"skipped ({reason or 'no reason given'})")

    return ", ".join(f"{count} {words(reason)}"
                     for reason, count in sorted(reasons.items(), key=lambda item: -item[1]) if count)
