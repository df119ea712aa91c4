"""Who started a run, in the words pages use: a scheduled run by its schedule's name."""

from __future__ import annotations

from ..models import Run


def triggered_by(run: Run) -> str:
    """ "Nightly smoke (SCH-1)" for a scheduled run; else the token, user or source that triggered it."""
    schedule = (run.options or {}).get("schedule") if run.trigger_source == "schedule" else None
    if isinstance(schedule, dict) and schedule.get("name"):
        return f"{schedule['name']} ({run.triggered_by})"
    return run.triggered_by or run.trigger_source
